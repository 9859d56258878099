package sip

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

const invite2543 = "INVITE sip:UserB@example.com SIP/2.0\r\nVia: SIP/2.0/UDP iftgw.example.com\r\n" +
	"From: <sip:+13035551111@ift.client.example.net;user=phone>\r\nTo: sip:+16505552222@ss1.example.net;user=phone\r\n" +
	"Call-ID: inv2543.1717@ift.client.example.com\r\nCSeq: 56 INVITE\r\nContent-Length: 0\r\n\r\n"

// readDatagram is what sipgo's UDP reader does with a datagram in our fork: the read filter's
// stages, the parse, the parsed filter's stages. nil: refused (or dropped).
func readDatagram(p *readPath, local, remote net.Addr, data []byte) gsip.Message {
	if data = p.datagram(local, remote, data); data == nil {
		return nil
	}
	msg, err := gsip.NewParser().ParseSIP(data)
	return p.parsed(local, remote, data, msg, err)
}

// TestRFC2543Branch: an RFC 2543 INVITE, its retransmission, its CANCEL and the ACK of its
// failure (which carries our To tag) get one branch; another CSeq or Call-ID another.
func TestRFC2543Branch(t *testing.T) {
	p := newReadPath(nil, newSIPMetrics(nil, nil), nil)
	branch := func(msg string) string {
		t.Helper()
		m := readDatagram(p, &net.UDPAddr{}, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}, []byte(msg))
		if m == nil {
			t.Fatalf("refused:\n%s", msg)
		}
		b, _ := m.(*gsip.Request).Via().Params.Get("branch")
		return b
	}
	inv := branch(invite2543)
	if !strings.HasPrefix(inv, gsip.RFC3261BranchMagicCookie) {
		t.Fatalf("branch %q", inv)
	}
	for name, msg := range map[string]string{
		"retransmission": invite2543,
		"CANCEL":         strings.NewReplacer("INVITE sip", "CANCEL sip", "56 INVITE", "56 CANCEL").Replace(invite2543),
		"ACK":            strings.NewReplacer("INVITE sip", "ACK sip", "56 INVITE", "56 ACK", "user=phone\r\nCall-ID", "user=phone;tag=ours\r\nCall-ID").Replace(invite2543),
	} {
		if got := branch(msg); got != inv {
			t.Errorf("%s: branch %q, want the INVITE's %q", name, got, inv)
		}
	}
	for name, msg := range map[string]string{
		"next CSeq":     strings.Replace(invite2543, "CSeq: 56", "CSeq: 57", 1),
		"other Call-ID": strings.Replace(invite2543, "inv2543.1717", "inv2543.1718", 1),
	} {
		if got := branch(msg); got == inv {
			t.Errorf("%s: same branch as the INVITE", name)
		}
	}
	// RFC 3261 requests and RFC 2543 ones with a From tag keep their Via as it came.
	for msg, want := range map[string]string{
		strings.Replace(invite2543, "iftgw.example.com", "iftgw.example.com;branch=z9hG4bK77", 1): "z9hG4bK77",
		strings.Replace(invite2543, "user=phone>", "user=phone>;tag=1", 1):                        "",
	} {
		if got := branch(msg); got != want {
			t.Errorf("branch %q, want %q:\n%s", got, want, msg)
		}
		if out := p.datagram(&net.UDPAddr{}, &net.UDPAddr{}, []byte(msg)); string(out) != msg {
			t.Errorf("changed before parsing:\n%s\ninto\n%s", msg, out)
		}
	}
}

func TestUnsupportedScheme(t *testing.T) {
	for line, want := range map[string]bool{
		"OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0": true,
		"OPTIONS nobodyKnowsThisScheme:opaque SIP/2.0": true,
		"OPTIONS http://x SIP/2.0":                     true,
		"OPTIONS sip:<x> SIP/2.0":                      false,
		"OPTIONS SIPS:x@y SIP/2.0":                     false,
		"OPTIONS tel:+1555 SIP/2.0":                    false,
		"OPTIONS 1soap:x SIP/2.0":                      false, // not a scheme
		"OPTIONS so_ap:x SIP/2.0":                      false,
		"OPTIONS foo:x HTTP/1.1":                       false,
		"OPTIONS  foo:x SIP/2.0":                       false,
	} {
		if got := unsupportedScheme([]byte(line + "\r\nVia: x\r\n\r\n")); got != want {
			t.Errorf("%q: %v, want %v", line, got, want)
		}
	}
}

func TestStatelessResponse(t *testing.T) {
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
	head := "Via: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n"
	res, dest := statelessResponse([]byte("OPTIONS sip:b@b SIP/2.0\r\n"+head), from, 400, "Bad Request")
	if !bytes.HasPrefix(res, []byte("SIP/2.0 400 Bad Request\r\n")) || !bytes.Contains(res, []byte("To: <sip:b@b>;tag=")) ||
		dest.String() != "192.0.2.1:5070" {
		t.Fatalf("response to %s:\n%s", dest, res)
	}
	rport := strings.Replace(head, ";branch", ";rport;branch", 1)
	if _, dest := statelessResponse([]byte("OPTIONS sip:b@b SIP/2.0\r\n"+rport), from, 400, "Bad Request"); dest.String() != "192.0.2.1:40000" {
		t.Fatalf("rport: answered to %s, want the source", dest)
	}
	for name, msg := range map[string]string{
		"a response":             "SIP/2.0 200 OK\r\n" + head,
		"an ACK":                 "ACK sip:b@b SIP/2.0\r\n" + head,
		"no Call-ID":             "OPTIONS sip:b@b SIP/2.0\r\n" + strings.Replace(head, "Call-ID: x\r\n", "", 1),
		"a NUL in a copied From": "OPTIONS sip:b@b SIP/2.0\r\n" + strings.Replace(head, "tag=1", "tag=\x001", 1),
	} {
		if res, _ := statelessResponse([]byte(msg), from, 400, "Bad Request"); res != nil {
			t.Errorf("%s answered:\n%s", name, res)
		}
	}
}

// TestSipgoLog: sipgo's own log lines are kept from WARN up, at most once a minute per
// message, without the datagram it attaches.
func TestSipgoLog(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(newSipgoLog(slog.NewTextHandler(&buf, nil)))
	l.Info("chatty")
	l.Error("failed to parse", "data", "REGISTER ... Authorization: Digest response=secret", "error", "x")
	l.Error("failed to parse", "data", "again")
	l.Warn("other")
	out := buf.String()
	if strings.Contains(out, "chatty") || strings.Count(out, "failed to parse") != 1 || strings.Contains(out, "secret") ||
		!strings.Contains(out, "error=x") || !strings.Contains(out, "other") {
		t.Fatalf("logged:\n%s", out)
	}
	if !newSipgoLog(slog.NewTextHandler(&buf, nil)).Enabled(context.Background(), slog.LevelWarn) {
		t.Fatal("WARN disabled")
	}
}

func TestAnswerBudget(t *testing.T) {
	b := answerBudget{rate: 3}
	now := time.Unix(100, 0)
	n := 0
	for range 10 {
		if b.allow(now) {
			n++
		}
	}
	if n != 3 || !b.allow(now.Add(time.Second)) {
		t.Fatalf("allowed %d in one second, want 3, then more the next second", n)
	}
}

// BenchmarkReadPath: what the read path costs per datagram next to the parse sipgo then makes
// anyway (a typical INVITE with SDP).
func BenchmarkReadPath(b *testing.B) {
	sdp := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	msg := []byte("INVITE sip:1002@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bK776asdhds\r\n" +
		"Max-Forwards: 70\r\nTo: <sip:1002@192.0.2.10>\r\nFrom: \"Alice\" <sip:1001@192.0.2.10>;tag=1928301774\r\n" +
		"Call-ID: a84b4c76e66710@pc33.example.com\r\nCSeq: 314159 INVITE\r\nContact: <sip:1001@192.0.2.1:5060>\r\n" +
		"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\nUser-Agent: bench\r\nContent-Type: application/sdp\r\nContent-Length: " +
		strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp)
	p := newReadPath(nil, newSIPMetrics(nil, nil), nil)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}
	b.Run("readpath", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if p.datagram(from, from, msg) == nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("sipgo-parse", func(b *testing.B) {
		b.ReportAllocs()
		parser := gsip.NewParser()
		for range b.N {
			if _, err := parser.ParseSIP(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
