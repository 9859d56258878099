package sip_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip/registrar"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/icholy/digest"
)

// tlsPhone is a phone played by the test over one TLS connection (RFC 5626 client).
type tlsPhone struct {
	t    *testing.T
	conn *tls.Conn
	rd   *bufio.Reader
}

func (r *tlsRig) dialPhone(t *testing.T) *tlsPhone {
	c, err := tlsDial(r.tls, pool(t, r.ca.File))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tlsPhone{t: t, conn: c, rd: bufio.NewReader(c)}
}

// read returns the next message (skipping 100 Trying and keepalive CRLFs).
func (p *tlsPhone) read() gsip.Message {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var head strings.Builder
		for {
			line, err := p.rd.ReadString('\n')
			if err != nil {
				p.t.Fatalf("phone: %v", err)
			}
			if line == "\r\n" {
				if head.Len() == 0 {
					continue
				}
				break
			}
			head.WriteString(line)
		}
		n := 0
		for _, l := range strings.Split(head.String(), "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
				n, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(p.rd, body); err != nil {
			p.t.Fatal(err)
		}
		m, err := gsip.ParseMessage([]byte(head.String() + "\r\n" + string(body)))
		if err != nil {
			p.t.Fatalf("phone: %v", err)
		}
		if r, ok := m.(*gsip.Response); ok && r.StatusCode == 100 {
			continue
		}
		return m
	}
}

func (p *tlsPhone) send(s string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

const outboundContact = `<sip:1001@10.0.0.9:5061;transport=tls>;reg-id=1;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000a95a0e128>"`

// register sends an authenticated REGISTER (RFC 5626: Supported: outbound, reg-id,
// +sip.instance) with CSeq cseq and cseq+1, and returns the 200.
func (p *tlsPhone) register(cseq int) *gsip.Response {
	p.t.Helper()
	local := p.conn.LocalAddr().String()
	msg := func(seq int, auth string) string {
		return fmt.Sprintf("REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/TLS %s;branch=z9hG4bKob%d\r\nFrom: <sip:1001@ccswitch>;tag=ob\r\nTo: <sip:1001@ccswitch>\r\nCall-ID: outbound-reg\r\nCSeq: %d REGISTER\r\nSupported: path, outbound\r\nContact: %s\r\n%sExpires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			local, seq, seq, outboundContact, auth)
	}
	p.send(msg(cseq, ""))
	res, ok := p.read().(*gsip.Response)
	if !ok || res.StatusCode != 401 {
		p.t.Fatalf("first REGISTER: %v", res)
	}
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:ccswitch", Username: "1001", Password: "secret1001"})
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(msg(cseq+1, "Authorization: "+cred.String()+"\r\n"))
	res, ok = p.read().(*gsip.Response)
	if !ok || res.StatusCode != 200 {
		p.t.Fatalf("authenticated REGISTER: %v", res)
	}
	return res
}

// TestTLSOutboundFlow (RFC 5626 over TLS): a phone asking for outbound gets Require:
// outbound; a call to its private Contact reaches it over its flow; CRLF keepalives are
// answered; when it re-registers over a new connection and the old one closes, the binding
// stays (it moved); when the new one closes, the binding goes (flow-closed).
func TestTLSOutboundFlow(t *testing.T) {
	cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
	r := startTLS(t, cfg, ca, md5Only)
	evs := watch(t, r.Registrar())
	a := r.dialPhone(t)
	if res := a.register(1); res.GetHeader("Require") == nil || res.GetHeader("Require").Value() != "outbound" {
		t.Errorf("200 to an outbound REGISTER lacks Require: outbound:\n%s", res)
	}

	// 1002 calls 1001: the INVITE reaches the phone over its flow; it is busy.
	uac := startSIPp(t, "1002", append(sippArgs("uac_auth_486.xml", testenv.FreePort(t), "-key", "user", "1002", "-au", "1002", "-ap", "secret1002", "-auth_uri", authURI("1001", r.udp), "-s", "1001", "-m", "1"), r.udp)...)
	inv, ok := a.read().(*gsip.Request)
	if !ok || inv.Method != gsip.INVITE {
		t.Fatalf("phone got %v, want the INVITE over its flow", inv)
	}
	if v := inv.Via(); v == nil || !strings.EqualFold(v.Transport, "TLS") {
		t.Errorf("INVITE Via %v, want SIP/2.0/TLS", v)
	}
	busy := gsip.NewResponseFromRequest(inv, 486, "Busy Here", nil)
	busy.To().Params.Add("tag", "busy")
	a.send(busy.String())
	if ack, ok := a.read().(*gsip.Request); !ok || ack.Method != gsip.ACK {
		t.Fatalf("phone got %v, want the ACK of its 486", ack)
	}
	uac.wait(t)

	a.send("\r\n\r\n") // RFC 5626 §4.4.1 keepalive
	a.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if pong := make([]byte, 2); func() bool { _, err := io.ReadFull(a.rd, pong); return err != nil || string(pong) != "\r\n" }() {
		t.Error("no CRLF pong to a CRLFCRLF ping")
	}

	b := r.dialPhone(t)
	b.register(3)
	a.conn.Close()
	// The server notices a's close asynchronously; b's flow now owns the binding, so the
	// binding must still be there once a's connection is gone from the server's view.
	waitFor(t, "a's connection to close on the server", func() bool {
		return r.metric(t, "ccswitch_sip_connections", "transport", "tls") == 1
	})
	got := r.Registrar().Lookup("1001")
	if len(got) != 1 || got[0].Source != b.conn.LocalAddr().String() {
		t.Fatalf("after the old flow closed: %+v, want the binding on %s", got, b.conn.LocalAddr())
	}
	b.conn.Close()
	ev := evs.wait(t, 10*time.Second, func(ev registrar.Event) bool { return ev.Kind == registrar.Unbound && ev.AOR == "1001" })
	if ev.Reason != registrar.ReasonFlowClosed || ev.Source != b.conn.LocalAddr().String() {
		t.Errorf("unbound %+v, want flow-closed from %s", ev, b.conn.LocalAddr())
	}
}

// waitFor polls cond (a state another goroutine reaches) for at most 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
