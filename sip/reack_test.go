package sip_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// rawUAS is a callee on a plain UDP socket: enough SIP to answer one INVITE and to repeat its
// 200 as a retransmission would.
type rawUAS struct {
	t    *testing.T
	conn *net.UDPConn
}

// read returns the next SIP request whose method is one of methods (others are skipped).
func (u *rawUAS) read(methods ...string) (string, *net.UDPAddr) {
	u.t.Helper()
	buf := make([]byte, 65535)
	deadline := time.Now().Add(20 * time.Second)
	for {
		u.conn.SetReadDeadline(deadline)
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			u.t.Fatalf("raw callee: waiting for %v: %v", methods, err)
		}
		msg := string(buf[:n])
		for _, m := range methods {
			if strings.HasPrefix(msg, m+" ") {
				return msg, from
			}
		}
	}
}

// header returns the first value of a header (full name) in msg.
func header(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// response builds a response to req (its Via, From, To with tag, Call-ID, CSeq).
func response(req, status, toTag, contact, body string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %s\r\n", status)
	for _, line := range strings.Split(req, "\r\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Via") {
			b.WriteString(line + "\r\n")
		}
	}
	fmt.Fprintf(&b, "From: %s\r\n", header(req, "From"))
	to := header(req, "To")
	if toTag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "To: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", to, header(req, "Call-ID"), header(req, "CSeq"))
	if contact != "" {
		fmt.Fprintf(&b, "Contact: <%s>\r\n", contact)
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// TestRetransmitted2xxIsAckedAgain (RFC 3261 §13.2.2.4): a callee whose 200 is retransmitted
// after ccswitch ACKed it (the ACK was lost, as far as the callee knows) gets the same ACK again,
// CSeq and body included; the caller's later BYE still ends it.
func TestRetransmitted2xxIsAckedAgain(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	u := &rawUAS{t: t, conn: conn}
	caller := startSIPp(t, "caller", append(sippArgs("uac_auth.xml", testenv.FreePort(t), "-key", "user", "1001", "-au", "1001",
		"-ap", "secret1001", "-auth_uri", authURI("1002", ts.addr), "-s", "1002", "-m", "1"), ts.addr)...)
	inv, from := u.read("INVITE")
	sdp := "v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	ok := response(inv, "200 OK", "raw1", fmt.Sprintf("sip:1002@127.0.0.1:%d", port), sdp)
	conn.WriteToUDP(ok, from)
	ack1, _ := u.read("ACK")
	conn.WriteToUDP(ok, from) // the same 200 again: a retransmission
	ack2, _ := u.read("ACK")
	if header(ack1, "CSeq") != header(inv, "CSeq")[:strings.IndexByte(header(inv, "CSeq"), ' ')]+" ACK" {
		t.Errorf("ACK CSeq %q for INVITE %q", header(ack1, "CSeq"), header(inv, "CSeq"))
	}
	strip := func(m string) string { // the Via branch is the only part that may differ
		var out []string
		for _, l := range strings.Split(m, "\r\n") {
			if !strings.HasPrefix(strings.ToLower(l), "via:") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\r\n")
	}
	if !bytes.Equal([]byte(strip(ack1)), []byte(strip(ack2))) {
		t.Errorf("the ACK to the retransmitted 200 differs:\n%s\n---\n%s", ack1, ack2)
	}
	bye, from := u.read("BYE")
	conn.WriteToUDP(response(bye, "200 OK", "", "", ""), from)
	caller.wait(t)
}
