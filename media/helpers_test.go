package media

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// testPorts hands each test its own slice of the RTP range so parallel test binaries and
// leftover sockets do not collide.
var testPorts atomic.Int32

func newTestEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	if !cfg.IP.IsValid() {
		cfg.IP = netip.MustParseAddr("127.0.0.1")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PortMin == 0 {
		base := 21000 + int(testPorts.Add(1)%200)*40
		cfg.PortMin, cfg.PortMax = base, base+39
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// phone is a test peer: a UDP socket on 127.0.0.1 that sends and reads RTP.
type phone struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
	ts   uint32
	ssrc uint32
}

func newPhone(t *testing.T) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, seq: 1000, ts: 50000, ssrc: 0x11223344}
}

func (p *phone) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

// sdp builds an offer/answer for this phone. fmts like "0 8 101"; extra lines appended as is.
func (p *phone) sdp(version int, fmts string, dir string, extra ...string) []byte {
	return phoneSDP(p.port(), version, fmts, dir, extra...)
}

func phoneSDP(port, version int, fmts, dir string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=phone 42 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n", version)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %s\r\n", port, fmts)
	for _, f := range strings.Fields(fmts) {
		switch f {
		case "0":
			b.WriteString("a=rtpmap:0 PCMU/8000\r\n")
		case "8":
			b.WriteString("a=rtpmap:8 PCMA/8000\r\n")
		case "9":
			b.WriteString("a=rtpmap:9 G722/8000\r\n")
		case "111":
			b.WriteString("a=rtpmap:111 opus/48000/2\r\n")
		default:
			fmt.Fprintf(&b, "a=rtpmap:%s telephone-event/8000\r\na=fmtp:%s 0-16\r\n", f, f)
		}
	}
	if dir != "" {
		b.WriteString("a=" + dir + "\r\n")
	}
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	return []byte(b.String())
}

// send sends one RTP packet with the phone's running seq/ts to dst.
func (p *phone) send(dst netip.AddrPort, pt uint8, payload []byte) {
	p.t.Helper()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: p.ssrc}, Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDPAddrPort(b, dst); err != nil {
		p.t.Fatal(err)
	}
	p.seq++
	p.ts += 160
}

// recv reads one RTP packet (fails after 5 s: a hang guard, not a timing assertion).
func (p *phone) recv() (rtp.Packet, netip.AddrPort) {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		p.t.Fatalf("phone %d: no packet: %v", p.port(), err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		p.t.Fatal(err)
	}
	return pkt, from
}

// noPacket asserts that nothing is queued on the socket after the relay has certainly handled
// everything sent before (the caller sends a marker packet through the same path first).
func (p *phone) drainUntil(want func(rtp.Packet) bool) []rtp.Packet {
	p.t.Helper()
	var got []rtp.Packet
	for {
		pkt, _ := p.recv()
		got = append(got, pkt)
		if want(pkt) {
			return got
		}
	}
}

func payloadOf(v byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// anchored sets up an A↔B call with the given formats and returns it with both phones.
func anchored(t *testing.T, e *Engine, fmtsA, fmtsB string) (*Call, *phone, *phone) {
	t.Helper()
	c, err := e.NewCall(CallOptions{ID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a, b := newPhone(t), newPhone(t)
	if _, err := c.OfferFromA(a.sdp(1, fmtsA, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnswerFromB(b.sdp(1, fmtsB, "")); err != nil {
		t.Fatal(err)
	}
	return c, a, b
}

// waitFor polls cond until it holds (hang guard of 5 s; used only to wait for asynchronous
// delivery, never to assert timing).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// testKey is an SDES inline key (30 bytes: master key and salt) for test phones.
const testKey = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
