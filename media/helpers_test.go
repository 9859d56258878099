package media

import (
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
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

// phone is a test peer: a UDP socket (on 127.0.0.1 unless told) that sends and reads RTP, in
// SRTP once it has keys (useSRTP, takeKey).
type phone struct {
	t    *testing.T
	conn *net.UDPConn
	seq  uint16
	ts   uint32
	ssrc uint32
	tx   *srtp.Context // encrypts what the phone sends (its own key)
	rx   *srtp.Context // decrypts what ccswitch sends (ccswitch's key from its SDP)
}

func newPhone(t *testing.T) *phone { return newPhoneAt(t, "127.0.0.1") }

// newPhoneAt binds a phone on ip ("127.0.0.2" stands for another host, "::1" for IPv6).
func newPhoneAt(t *testing.T, ip string) *phone {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &phone{t: t, conn: c, seq: 1000, ts: 50000, ssrc: 0x11223344}
}

func (p *phone) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *phone) addr() netip.AddrPort {
	return netip.MustParseAddrPort(p.conn.LocalAddr().String())
}

// sdp builds an offer/answer for this phone. fmts like "0 8 101"; extra lines appended as is.
func (p *phone) sdp(version int, fmts string, dir string, extra ...string) []byte {
	return phoneSDPAt(p.addr().Addr(), p.port(), version, fmts, dir, extra...)
}

func phoneSDP(port, version int, fmts, dir string, extra ...string) []byte {
	return phoneSDPAt(netip.MustParseAddr("127.0.0.1"), port, version, fmts, dir, extra...)
}

// phoneSDPAt is phoneSDP with c= and o= naming ip. An extra line "proto=RTP/SAVP" changes
// the m= line's profile.
func phoneSDPAt(ip netip.Addr, port, version int, fmts, dir string, extra ...string) []byte {
	var b strings.Builder
	fam := "IP4"
	if ip.Is6() {
		fam = "IP6"
	}
	proto := "RTP/AVP"
	var lines []string
	for _, e := range extra {
		if p, ok := strings.CutPrefix(e, "proto="); ok {
			proto = p
			continue
		}
		lines = append(lines, e)
	}
	extra = lines
	fmt.Fprintf(&b, "v=0\r\no=phone 42 %d IN %s %s\r\ns=-\r\nc=IN %s %s\r\nt=0 0\r\n", version, fam, ip, fam, ip)
	fmt.Fprintf(&b, "m=audio %d %s %s\r\n", port, proto, fmts)
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
	if p.tx != nil {
		if b, err = p.tx.EncryptRTP(nil, b, nil); err != nil {
			p.t.Fatal(err)
		}
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
	b := buf[:n]
	if p.rx != nil {
		if b, err = p.rx.DecryptRTP(nil, b, nil); err != nil {
			p.t.Fatalf("phone %d: packet from %v does not decrypt with ccswitch's key: %v", p.port(), from, err)
		}
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(b); err != nil {
		p.t.Fatal(err)
	}
	return pkt, from
}

// nothingQueued asserts that no datagram waits on the phone's socket. Loopback delivery is
// synchronous, so once a later packet was seen elsewhere, anything sent here earlier is queued.
func (p *phone) nothingQueued(what string) {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now())
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	p.conn.SetReadDeadline(time.Time{})
	if err == nil {
		p.t.Fatalf("%s: phone %v received %d bytes from %v", what, p.addr(), n, from)
	}
}

// drain reads and drops whatever is queued on the phone's socket.
func (p *phone) drain() {
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now())
	defer p.conn.SetReadDeadline(time.Time{})
	for {
		if _, _, err := p.conn.ReadFromUDPAddrPort(buf); err != nil {
			return
		}
	}
}

// useSRTP gives the phone its own SDES key and returns its a=crypto line (tag 1, suite s).
func (p *phone) useSRTP(s string) string {
	p.t.Helper()
	raw := make([]byte, 30)
	crand.Read(raw)
	ctx, err := srtp.CreateContext(raw[:16], raw[16:], profileOf(s))
	if err != nil {
		p.t.Fatal(err)
	}
	p.tx = ctx
	return "a=crypto:1 " + s + " inline:" + base64.StdEncoding.EncodeToString(raw)
}

// takeKey reads ccswitch's a=crypto from an SDP it wrote and decrypts with it from now on; it
// returns the crypto line.
func (p *phone) takeKey(body []byte) string {
	p.t.Helper()
	for _, line := range strings.Split(string(body), "\r\n") {
		v, ok := strings.CutPrefix(line, "a=crypto:")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f[2], "inline:"))
		if err != nil || len(raw) != 30 {
			p.t.Fatalf("ccswitch's crypto %q: %v", line, err)
		}
		ctx, err := srtp.CreateContext(raw[:16], raw[16:], profileOf(f[1]))
		if err != nil {
			p.t.Fatal(err)
		}
		p.rx = ctx
		return line
	}
	p.t.Fatalf("no a=crypto in ccswitch's SDP:\n%s", body)
	return ""
}

func profileOf(s string) srtp.ProtectionProfile {
	if s == "AES_CM_128_HMAC_SHA1_32" {
		return srtp.ProtectionProfileAes128CmHmacSha1_32
	}
	return srtp.ProtectionProfileAes128CmHmacSha1_80
}

// manualClock is a Clock whose Now moves only with advance (timers are real: the tests that
// use it play nothing).
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (m *manualClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *manualClock) advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

func (m *manualClock) NewTimer(d time.Duration) Timer { return SystemClock{}.NewTimer(d) }

// logBuffer is a slog text handler's output, safe for the engine's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
