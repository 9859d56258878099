package sip_test

import (
	"net"
	"strings"
	"testing"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/icholy/digest"
)

// phone is a minimal UDP user agent played by the test: it registers with a private
// Contact (as a phone behind NAT does) and answers one call.
type phone struct {
	t    *testing.T
	conn *net.UDPConn
	srv  *net.UDPAddr
}

func (p *phone) send(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP(b, p.srv); err != nil {
		p.t.Fatal(err)
	}
}

// read returns the next message other than a 100 Trying.
func (p *phone) read() gsip.Message {
	p.t.Helper()
	buf := make([]byte, 65535)
	for {
		p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			p.t.Fatalf("phone: %v", err)
		}
		m, err := gsip.ParseMessage(buf[:n])
		if err != nil {
			p.t.Fatalf("phone: %v\n%s", err, buf[:n])
		}
		if r, ok := m.(*gsip.Response); ok && r.StatusCode == 100 {
			continue
		}
		return m
	}
}

func (p *phone) register(ext, password, contact string) {
	p.t.Helper()
	local := p.conn.LocalAddr().String()
	msg := func(cseq, auth string) []byte {
		return []byte("REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP " + local + ";rport;branch=z9hG4bKnat" + cseq + "\r\n" +
			"From: <sip:" + ext + "@ccswitch>;tag=nat\r\nTo: <sip:" + ext + "@ccswitch>\r\nCall-ID: nat-reg\r\nCSeq: " + cseq + " REGISTER\r\n" +
			"Contact: <" + contact + ">\r\n" + auth + "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
	}
	p.send(msg("1", ""))
	res, ok := p.read().(*gsip.Response)
	if !ok || res.StatusCode != 401 {
		p.t.Fatalf("first REGISTER: %v", res)
	}
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:ccswitch", Username: ext, Password: password})
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(msg("2", "Authorization: "+cred.String()+"\r\n"))
	if res, ok := p.read().(*gsip.Response); !ok || res.StatusCode != 200 {
		p.t.Fatalf("authenticated REGISTER: %v", res)
	}
}

// TestNATContactReachedAtSource: 1001 registers from 127.0.0.1:P with Contact
// sip:1001@10.9.9.9 (a private address, unreachable). A carrier call to its DID must reach
// the phone at its source, and the ACK and BYE that follow too (they would be lost if sent
// to the Contact).
func TestNATContactReachedAtSource(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srv, _ := net.ResolveUDPAddr("udp", ts.addr)
	p := &phone{t: t, conn: conn, srv: srv}
	p.register("1001", "secret1001", "sip:1001@10.9.9.9:5060")

	c := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550101", "-m", "1", "-d", "100"), ts.addr)[2:]...)
	inv, ok := p.read().(*gsip.Request)
	if !ok || !inv.IsInvite() {
		t.Fatalf("phone expected INVITE, got %v", inv)
	}
	sdp := []byte("v=0\r\no=- 2 2 IN IP4 10.9.9.9\r\ns=-\r\nc=IN IP4 10.9.9.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	ok200 := gsip.NewResponseFromRequest(inv, 200, "OK", sdp)
	ok200.AppendHeader(gsip.NewHeader("Contact", "<sip:1001@10.9.9.9:5060>"))
	ok200.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	p.send([]byte(ok200.String()))
	for _, want := range []gsip.RequestMethod{gsip.ACK, gsip.BYE} {
		m := p.read()
		req, ok := m.(*gsip.Request)
		if !ok || req.Method != want {
			t.Fatalf("phone expected %s, got %v", want, strings.SplitN(m.String(), "\r\n", 2)[0])
		}
		if want == gsip.BYE {
			p.send([]byte(gsip.NewResponseFromRequest(req, 200, "OK", nil).String()))
		}
	}
	c.wait(t)
}
