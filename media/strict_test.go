package media

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStrangerGetsNothing (issue 10, RTP bleed; invariant 3): a host that never signalled
// (127.0.0.2) sends 100 RTP packets to each of the call's ports while it rings and 200 more
// while it is up. It gets nothing back, none of its packets reaches either phone, the call's
// audio flows as if it were not there, and every one of its packets is counted, in the call's
// figures and in ccswitch_media_stranger_packets_total, and logged once.
func TestStrangerGetsNothing(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs logBuffer
	e := newTestEngine(t, Config{Registerer: reg, Logger: logs.logger()})
	c, err := e.NewCall(CallOptions{ID: "bleed"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, b, x := newPhone(t), newPhone(t), newPhoneAt(t, "127.0.0.2")
	c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1")})
	if _, err := c.OfferFromA(a.sdp(1, "0", "")); err != nil {
		t.Fatal(err)
	}
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)
	spray := func() {
		for i := 0; i < 100; i++ {
			x.send(toA, 0, payloadOf(0xEE, 160))
			x.send(toB, 0, payloadOf(0xEE, 160))
		}
	}
	spray() // ringing: B has not answered
	waitFor(t, "the stranger's packets while ringing", func() bool {
		st := c.Stats()
		return st.A.Strangers == 100 && st.B.Strangers == 100
	})
	c.SetPeer(LegB, Peer{Signal: mustAddr("127.0.0.1")})
	if _, err := c.AnswerFromB(b.sdp(1, "0", "")); err != nil {
		t.Fatal(err)
	}
	// Up: the stranger sprays before the phones' first packets (the old relay latched onto it
	// and sent it the call's audio) and again between them.
	spray()
	for i := 0; i < 10; i++ {
		a.send(toA, 0, payloadOf(byte(i), 160))
		b.send(toB, 0, payloadOf(byte(100+i), 160))
		if i == 5 {
			spray()
		}
	}
	for i := 0; i < 10; i++ {
		if p, _ := b.recv(); p.Payload[0] != byte(i) {
			t.Fatalf("B's packet %d has payload %#x, want A's %#x", i, p.Payload[0], i)
		}
		if p, _ := a.recv(); p.Payload[0] != byte(100+i) {
			t.Fatalf("A's packet %d has payload %#x, want B's %#x", i, p.Payload[0], 100+i)
		}
	}
	// The phones' last packets went through after the spray: anything ccswitch had sent the
	// stranger (or the phones) is queued by now.
	x.nothingQueued("the stranger")
	a.nothingQueued("phone A after the call's audio")
	b.nothingQueued("phone B after the call's audio")
	// A packet is counted just after its write: wait for the counters to catch up.
	waitFor(t, "output counters", func() bool { st := c.Stats(); return st.A.PacketsOut >= 10 && st.B.PacketsOut >= 10 })
	st := c.Stats()
	if st.A.Strangers != 300 || st.B.Strangers != 300 || st.A.PacketsIn != 10 || st.B.PacketsIn != 10 || st.A.PacketsOut != 10 || st.B.PacketsOut != 10 {
		t.Fatalf("stats A %+v B %+v: want 300 strangers and 10 packets each way per leg", st.A, st.B)
	}
	if got := testutil.ToFloat64(e.m.strangers); got != 600 {
		t.Fatalf("ccswitch_media_stranger_packets_total = %v, want 600", got)
	}
	if n, err := testutil.GatherAndCount(reg, "ccswitch_media_stranger_packets_total"); err != nil || n != 1 {
		t.Fatalf("metric not registered: %d %v", n, err)
	}
	if got := strings.Count(logs.String(), "RTP from a stranger dropped"); got != 1 {
		t.Fatalf("%d log lines for one stranger, want 1 (rate limited):\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "source=127.0.0.2:") || !strings.Contains(logs.String(), "call_id=bleed") {
		t.Fatalf("log line names neither the source nor the call:\n%s", logs.String())
	}
}

// TestAllowedSources: before a leg latches, RTP is taken from the peer's signalling IP (any
// port: NAT) and from the IP its SDP names (a carrier's media server), never from a third
// address, unless strict sources are off.
func TestAllowedSources(t *testing.T) {
	tests := []struct {
		name      string
		signal    string // the leg's signalling source ("" = not told)
		sdpIP     string // c= of A's SDP
		from      string // where A's RTP really comes from
		anySource bool
		accepted  bool
	}{
		{"SDP address", "127.0.0.1", "127.0.0.3", "127.0.0.3", false, true},
		{"signalling address behind NAT (SDP names a private address)", "127.0.0.3", "10.1.2.3", "127.0.0.3", false, true},
		{"third address", "127.0.0.1", "127.0.0.3", "127.0.0.2", false, false},
		{"no signalling source told: SDP address only", "", "127.0.0.3", "127.0.0.1", false, false},
		{"strict sources off (media.strict_source: false)", "127.0.0.1", "127.0.0.3", "127.0.0.2", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, Config{LatchAnySource: tt.anySource})
			c, _ := e.NewCall(CallOptions{})
			defer c.Close()
			src, b := newPhoneAt(t, tt.from), newPhone(t)
			if tt.signal != "" {
				c.SetPeer(LegA, Peer{Signal: mustAddr(tt.signal)})
			}
			c.SetPeer(LegB, Peer{Signal: mustAddr("127.0.0.1")})
			if _, err := c.OfferFromA(phoneSDPAt(mustAddr(tt.sdpIP), 4000, 1, "0", "")); err != nil {
				t.Fatal(err)
			}
			if _, err := c.AnswerFromB(b.sdp(1, "0", "")); err != nil {
				t.Fatal(err)
			}
			src.send(c.LocalAddr(LegA), 0, payloadOf(7, 160))
			b.send(c.LocalAddr(LegB), 0, payloadOf(8, 160)) // to A's SDP address or latched source
			waitFor(t, "both packets handled", func() bool {
				st := c.Stats()
				return st.A.PacketsIn+st.A.Strangers == 1 && st.B.PacketsIn == 1
			})
			st := c.Stats()
			if got := st.A.PacketsIn == 1; got != tt.accepted {
				t.Fatalf("accepted = %v, want %v (stats %+v)", got, tt.accepted, st.A)
			}
			if tt.accepted {
				if p, _ := b.recv(); p.Payload[0] != 7 {
					t.Fatal("A's packet not relayed")
				}
				// Symmetric RTP: B's next packet goes to where A's came from.
				b.send(c.LocalAddr(LegB), 0, payloadOf(9, 160))
				if p, _ := src.recv(); p.Payload[0] == 8 {
					p, _ = src.recv()
					if p.Payload[0] != 9 {
						t.Fatalf("latched source got %d", p.Payload[0])
					}
				}
			} else {
				b.nothingQueued("B (the stranger's packet must not be relayed)")
			}
		})
	}
}

// TestNoRelatchWhileSDPStands: a latched leg never moves to another source, however long its
// peer is silent (the old relay re-latched after 2 s); only a new SDP lets it learn again.
func TestNoRelatchWhileSDPStands(t *testing.T) {
	clk := &manualClock{now: time.Unix(1_800_000_000, 0)}
	e := newTestEngine(t, Config{Clock: clk})
	c, a, b := anchored(t, e, "0", "0")
	c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1")})
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)
	a.send(toA, 0, payloadOf(1, 160))
	b.recv()
	clk.advance(time.Hour) // A silent for an hour
	other := newPhone(t)   // same IP, another port: a NAT rebinding, or another process
	other.send(toA, 0, payloadOf(2, 160))
	a.send(toA, 0, payloadOf(6, 160)) // behind the other's packet in A's socket
	if p, _ := b.recv(); p.Payload[0] != 6 {
		t.Fatalf("B got %d: the other source's packet must be dropped, A's relayed", p.Payload[0])
	}
	b.send(toB, 0, payloadOf(3, 160))
	if p, _ := a.recv(); p.Payload[0] != 3 {
		t.Fatal("B's audio must still go to A's latched address")
	}
	other.nothingQueued("the other source")
	if st := c.Stats(); st.A.Strangers != 1 {
		t.Fatalf("A strangers %d, want 1", st.A.Strangers)
	}
	// A re-INVITE (new o= version) lets the leg learn its source again.
	if _, err := c.OfferFrom(LegA, a.sdp(2, "0", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnswerFromB(b.sdp(2, "0", "")); err != nil {
		t.Fatal(err)
	}
	other.send(toA, 0, payloadOf(4, 160))
	if p, _ := b.recv(); p.Payload[0] != 4 {
		t.Fatal("after a new SDP the leg latches again")
	}
	b.send(toB, 0, payloadOf(5, 160))
	if p, _ := other.recv(); p.Payload[0] != 5 {
		t.Fatal("B's audio must follow the new latch")
	}
}

// TestPortsInRandomOrder: the pool hands ports out in random order (a scanner spraying the
// first port of the range finds a random call, or none), and a port just released rests before
// it is handed out again.
func TestPortsInRandomOrder(t *testing.T) {
	p, err := newPortPool(mustAddr("127.0.0.1"), 24000, 24199)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for i := 0; i < 20; i++ {
		c, rc, port, err := p.listen(false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		defer rc.Close()
		got = append(got, port)
	}
	ascending := true
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+2 {
			ascending = false
		}
	}
	if ascending || got[0] == 24000 && got[1] == 24002 {
		t.Fatalf("ports %v: handed out in order", got)
	}
	// A released port is not handed out again while others are free.
	c, rc, port, _ := p.listen(false)
	c.Close()
	rc.Close()
	p.release(port)
	p.release(port + 1)
	for i := 0; i < 20; i++ {
		c, rc, q, err := p.listen(false)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		rc.Close()
		defer p.release(q)
		defer p.release(q + 1)
		if q == port {
			t.Fatalf("port %d handed out again right after its release", port)
		}
	}
}

// TestPortsFirstPortRandom: the first call of a fresh engine does not always get the first
// port of the range (the scanner sent to 127.0.0.1:20000).
func TestPortsFirstPortRandom(t *testing.T) {
	seen := map[int]bool{}
	for i := 0; i < 10; i++ {
		p, _ := newPortPool(mustAddr("127.0.0.1"), 24200, 24399)
		c, rc, port, err := p.listen(false)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		rc.Close()
		seen[port] = true
	}
	if len(seen) < 2 {
		t.Fatalf("10 fresh pools all started at %v", seen)
	}
}

// TestPortsExhaustedCountedAndLogged (issue 10, resources): when the range runs out the leg is
// refused with ErrNoPorts (the B2BUA answers 503), counted in
// ccswitch_media_ports_exhausted_total and logged; the gauges follow ports in use and free.
func TestPortsExhaustedCountedAndLogged(t *testing.T) {
	var logs logBuffer
	reg := prometheus.NewRegistry()
	e := newTestEngine(t, Config{PortMin: 20990, PortMax: 20993, Registerer: reg, Logger: logs.logger()}) // two pairs
	if got := testutil.ToFloat64(e.m.portsFree); got != 4 {
		t.Fatalf("free ports %v, want 4", got)
	}
	c1, _ := e.NewCall(CallOptions{ID: "first"})
	if _, err := c1.OfferFromA(phoneSDP(4000, 1, "0", "")); err != nil {
		t.Fatal(err)
	}
	if in, free := testutil.ToFloat64(e.m.portsInUse), testutil.ToFloat64(e.m.portsFree); in != 4 || free != 0 {
		t.Fatalf("in use %v free %v, want 4 and 0", in, free)
	}
	c2, _ := e.NewCall(CallOptions{ID: "second"})
	for i := 0; i < 3; i++ {
		if _, err := c2.OfferFromA(phoneSDP(4000, 1, "0", "")); !errors.Is(err, ErrNoPorts) {
			t.Fatalf("no port left: %v, want ErrNoPorts", err)
		}
	}
	if got := testutil.ToFloat64(e.m.portsOut); got != 3 {
		t.Fatalf("ccswitch_media_ports_exhausted_total = %v, want 3", got)
	}
	if n := strings.Count(logs.String(), "RTP port range exhausted"); n != 1 {
		t.Fatalf("%d log lines, want 1 (rate limited):\n%s", n, logs.String())
	}
	c1.Close()
	if in, free := testutil.ToFloat64(e.m.portsInUse), testutil.ToFloat64(e.m.portsFree); in != 0 || free != 4 {
		t.Fatalf("after close: in use %v free %v", in, free)
	}
	if _, err := c2.OfferFromA(phoneSDP(4000, 1, "0", "")); err != nil {
		t.Fatalf("after Close the ports are free again: %v", err)
	}
	c2.Close()
	for _, name := range []string{"ccswitch_media_ports_exhausted_total", "ccswitch_media_ports_in_use", "ccswitch_media_ports_free"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s not registered: %d %v", name, n, err)
		}
	}
}

// bound reports whether a port of ip is held (cannot be bound again).
func bound(ip netip.Addr, port int) bool {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// TestRTCPMux (RFC 5761): a peer that offers rtcp-mux is answered with it and its leg holds one
// port; ccswitch offers rtcp-mux too, and gives the RTCP port back when the answer takes it.
func TestRTCPMux(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b := newPhone(t), newPhone(t)
	offerB, err := c.OfferFromA(a.sdp(1, "0", "", "a=rtcp-mux"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(offerB), "a=rtcp-mux") {
		t.Fatalf("offer to B lacks rtcp-mux:\n%s", offerB)
	}
	ip := mustAddr("127.0.0.1")
	pb := int(c.LocalAddr(LegB).Port())
	if !bound(ip, pb+1) {
		t.Fatal("before B's answer, B's RTCP port must be held (B may refuse mux)")
	}
	if in, _ := e.pool.counts(); in != 3 {
		t.Fatalf("%d ports in use, want 3 (A with rtcp-mux: 1; B: 2 until it answers)", in)
	}
	answerA, err := c.AnswerFromB(b.sdp(1, "0", "", "a=rtcp-mux"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(answerA), "a=rtcp-mux") {
		t.Fatalf("answer to A lacks rtcp-mux:\n%s", answerA)
	}
	if bound(ip, pb+1) {
		t.Fatal("B took rtcp-mux: its RTCP port must be released")
	}
	if in, _ := e.pool.counts(); in != 2 {
		t.Fatalf("%d ports in use, want 2 (one per leg)", in)
	}
	// RTCP arriving on the RTP port is not audio and not a stranger.
	a.send(c.LocalAddr(LegA), 72, make([]byte, 20)) // payload type byte 200 = SR
	a.send(c.LocalAddr(LegA), 0, payloadOf(1, 160))
	if p, _ := b.recv(); p.Payload[0] != 1 {
		t.Fatal("audio after RTCP not relayed")
	}
	if st := c.Stats(); st.A.Strangers != 0 || st.A.PacketsIn != 1 {
		t.Fatalf("stats %+v", st.A)
	}
}

// TestIPv6Media: an engine on ::1 anchors IPv6 peers exactly as IPv4 ones.
func TestIPv6Media(t *testing.T) {
	if c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	e := newTestEngine(t, Config{IP: mustAddr("::1")})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b := newPhoneAt(t, "::1"), newPhoneAt(t, "::1")
	c.SetPeer(LegA, Peer{Signal: mustAddr("::1")})
	offerB, err := c.OfferFromA(a.sdp(1, "0", ""))
	if err != nil {
		t.Fatal(err)
	}
	if sd := parseOut(t, offerB); sd.ConnectionInformation.AddressType != "IP6" || sd.ConnectionInformation.Address.Address != "::1" || sd.Origin.AddressType != "IP6" {
		t.Fatalf("offer to B:\n%s", offerB)
	}
	if _, err := c.AnswerFromB(b.sdp(1, "0", "")); err != nil {
		t.Fatal(err)
	}
	if c.LocalAddr(LegA).Addr() != mustAddr("::1") {
		t.Fatalf("leg A at %v", c.LocalAddr(LegA))
	}
	a.send(c.LocalAddr(LegA), 0, payloadOf(1, 160))
	b.send(c.LocalAddr(LegB), 0, payloadOf(2, 160))
	if p, _ := b.recv(); p.Payload[0] != 1 {
		t.Fatal("A→B")
	}
	if p, from := a.recv(); p.Payload[0] != 2 || from != c.LocalAddr(LegA) {
		t.Fatalf("B→A from %v", from)
	}
	// Another source on ::1 is refused once A latched.
	x := newPhoneAt(t, "::1")
	x.send(c.LocalAddr(LegA), 0, payloadOf(0xEE, 160))
	waitFor(t, "IPv6 stranger counted", func() bool { return c.Stats().A.Strangers == 1 })
}

// TestPublicIP: media.public_ip is what every SDP says (c= and o=), while sockets bind
// media.ip, which may then be the unspecified address.
func TestPublicIP(t *testing.T) {
	t.Run("behind 1:1 NAT", func(t *testing.T) {
		e := newTestEngine(t, Config{PublicIP: mustAddr("192.0.2.7")})
		c, _ := e.NewCall(CallOptions{})
		defer c.Close()
		offer, err := c.OfferFromA(phoneSDP(4000, 1, "0", ""))
		if err != nil {
			t.Fatal(err)
		}
		sd := parseOut(t, offer)
		if sd.ConnectionInformation.Address.Address != "192.0.2.7" || sd.Origin.UnicastAddress != "192.0.2.7" {
			t.Fatalf("offer:\n%s", offer)
		}
		if c.LocalAddr(LegB).Addr() != mustAddr("127.0.0.1") {
			t.Fatalf("sockets bind media.ip: %v", c.LocalAddr(LegB))
		}
	})
	t.Run("bind every interface", func(t *testing.T) {
		e := newTestEngine(t, Config{IP: mustAddr("0.0.0.0"), PublicIP: mustAddr("127.0.0.1")})
		c, a, b := anchored(t, e, "0", "0")
		if c.LocalAddr(LegA).Addr() != mustAddr("127.0.0.1") {
			t.Fatalf("LocalAddr %v, want the public address", c.LocalAddr(LegA))
		}
		c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1")})
		a.send(c.LocalAddr(LegA), 0, payloadOf(1, 160))
		if p, _ := b.recv(); p.Payload[0] != 1 {
			t.Fatal("A→B")
		}
		b.send(c.LocalAddr(LegB), 0, payloadOf(2, 160))
		if p, _ := a.recv(); p.Payload[0] != 2 {
			t.Fatal("B→A")
		}
		x := newPhoneAt(t, "127.0.0.2")
		x.send(c.LocalAddr(LegA), 0, payloadOf(0xEE, 160))
		waitFor(t, "stranger counted on a dual-stack socket", func() bool { return c.Stats().A.Strangers == 1 })
	})
	t.Run("unspecified without public ip", func(t *testing.T) {
		if _, err := New(Config{IP: mustAddr("0.0.0.0"), PortMin: 24400, PortMax: 24410}); err == nil {
			t.Fatal("0.0.0.0 without a public IP must be refused: SDP needs an address")
		}
	})
}
