package limit

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func udp(s string) net.Addr {
	ap := netip.MustParseAddrPort(s)
	return net.UDPAddrFromAddrPort(ap)
}

func tcp(s string) net.Addr {
	return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s))
}

// TestSourcesFlood walks one source through burst, block, staying blocked while it floods,
// and release once it slows down (invariant 1), with the clock moved by hand.
func TestSourcesFlood(t *testing.T) {
	clk := newClock()
	s := NewSources(10, 20, nil, clk.Now)
	blocks := 0
	s.onBlock = func(netip.Addr) { blocks++ }
	src := udp("203.0.113.7:5060")
	msg := []byte("INVITE sip:x SIP/2.0\r\n\r\n")

	type step struct {
		advance time.Duration
		send    int
		want    int // admitted
		blocked bool
	}
	for i, st := range []step{
		{send: 25, want: 20, blocked: true},                      // the burst, then blocked
		{advance: time.Second, send: 10, want: 0, blocked: true}, // still flooding at the rate: stays blocked
		{advance: 500 * time.Millisecond, send: 0, want: 0, blocked: true},
		// Quiet: the bucket (down at -20 at most) refills to half (10) in 3 s.
		{advance: 3 * time.Second, send: 1, want: 1, blocked: false},
		{send: 5, want: 5, blocked: false},
	} {
		clk.Add(st.advance)
		got := 0
		for range st.send {
			if s.Admit(src, msg, false) {
				got++
			}
		}
		if got != st.want || (s.Blocked() == 1) != st.blocked {
			t.Fatalf("step %d: admitted %d of %d, blocked sources %d; want %d admitted, blocked %v", i, got, st.send, s.Blocked(), st.want, st.blocked)
		}
	}
	if blocks != 1 {
		t.Errorf("onBlock called %d times, want 1", blocks)
	}
	// Another source is not affected by the first.
	if !s.Admit(udp("203.0.113.8:5060"), msg, false) {
		t.Error("an innocent source was refused")
	}
}

func TestSourcesExemptAndKeys(t *testing.T) {
	clk := newClock()
	ex := []Exempt{
		{Prefix: netip.MustParsePrefix("198.51.100.0/24")},
		{Prefix: netip.MustParsePrefix("127.0.0.1/32"), Port: 5080},
	}
	cases := []struct {
		name   string
		a, b   net.Addr // b is sent after a has used the whole budget
		bAdmit bool
	}{
		{"trunk CIDR is exempt", udp("198.51.100.9:5060"), udp("198.51.100.9:5060"), true},
		{"trunk ip:port is exempt", udp("127.0.0.1:5080"), udp("127.0.0.1:5080"), true},
		{"another port of a trunk ip:port is not", udp("127.0.0.1:5081"), udp("127.0.0.1:5082"), false},
		{"IPv4-mapped IPv6 is the IPv4 source", udp("203.0.113.1:5060"), udp("[::ffff:203.0.113.1]:5060"), false},
		{"one IPv6 /64 is one source", udp("[2001:db8:1:2::1]:5060"), udp("[2001:db8:1:2:ffff::9]:5060"), false},
		{"another /64 is another source", udp("[2001:db8:1:2::1]:5060"), udp("[2001:db8:1:3::1]:5060"), true},
		{"TCP and UDP share the source", udp("203.0.113.2:5060"), tcp("203.0.113.2:40000"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSources(1, 3, ex, clk.Now)
			for range 3 {
				s.Admit(tc.a, []byte("x"), false)
			}
			if got := s.Admit(tc.b, []byte("x"), false); got != tc.bAdmit {
				t.Errorf("second address admitted = %v, want %v", got, tc.bAdmit)
			}
		})
	}
}

// TestSourcesStreamCost: a TCP read holding several message heads costs one token each.
func TestSourcesStreamCost(t *testing.T) {
	clk := newClock()
	s := NewSources(1, 5, nil, clk.Now)
	four := []byte("OPTIONS a SIP/2.0\r\n\r\nOPTIONS b SIP/2.0\r\n\r\nOPTIONS c SIP/2.0\r\n\r\nOPTIONS d SIP/2.0\r\n\r\n")
	src := tcp("203.0.113.5:40000")
	if !s.Admit(src, four, true) {
		t.Fatal("first read of four messages refused")
	}
	if s.Admit(src, four, true) {
		t.Fatal("second read of four messages admitted: the budget is 5")
	}
	partial := []byte("OPTIONS e SIP/2.0\r\nVia: ")
	clk.Add(time.Hour)
	if !s.Admit(src, partial, true) {
		t.Fatal("a partial read after an hour was refused")
	}
}

func TestSourcesOff(t *testing.T) {
	s := NewSources(0, 0, nil, nil)
	for range 1000 {
		if !s.Admit(udp("203.0.113.7:5060"), []byte("x"), false) {
			t.Fatal("refused with the limit off")
		}
	}
	if s.Tracked() != 0 {
		t.Fatalf("tracked %d sources with the limit off", s.Tracked())
	}
}

// TestSourcesBounded: a spoofed flood from more sources than MaxSources keeps the table at
// MaxSources (invariant 2); the sweep frees idle sources and unblocks quiet ones.
func TestSourcesBounded(t *testing.T) {
	clk := newClock()
	s := NewSources(100, 2, nil, clk.Now)
	base := netip.MustParseAddr("10.0.0.0").As4()
	n := MaxSources + 1000
	for i := range n {
		a := base
		a[1], a[2], a[3] = byte(i>>16), byte(i>>8), byte(i)
		s.Admit(net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom4(a), 5060)), []byte("x"), false)
	}
	if got := s.Tracked(); got != MaxSources {
		t.Fatalf("tracked %d, want %d", got, MaxSources)
	}
	flood := udp("192.0.2.1:5060")
	for range 10 {
		s.Admit(flood, []byte("x"), false) // shares the overflow bucket: blocked
	}
	s.Sweep() // nothing is idle yet
	if s.Tracked() != MaxSources {
		t.Fatalf("sweep freed busy sources: %d left", s.Tracked())
	}
	clk.Add(time.Second)
	s.Sweep()
	if s.Tracked() != 0 || s.Blocked() != 1 { // the overflow bucket is not in the table
		t.Fatalf("after a quiet second: tracked %d, blocked %d; want 0 and 1 (the overflow bucket)", s.Tracked(), s.Blocked())
	}
	if !s.Admit(flood, []byte("x"), false) {
		t.Fatal("source refused after the table emptied")
	}
}

func TestSourcesSweepUnblocksQuietSource(t *testing.T) {
	clk := newClock()
	s := NewSources(10, 10, nil, clk.Now)
	for range 20 {
		s.Admit(udp("203.0.113.7:5060"), []byte("x"), false)
	}
	if s.Blocked() != 1 {
		t.Fatalf("blocked = %d, want 1", s.Blocked())
	}
	clk.Add(10 * time.Second)
	s.Sweep()
	if s.Blocked() != 0 || s.Tracked() != 0 {
		t.Fatalf("after 10 quiet seconds: blocked %d, tracked %d", s.Blocked(), s.Tracked())
	}
}

func TestAdmitAllocatesNothing(t *testing.T) {
	s := NewSources(1e9, 1<<30, []Exempt{{Prefix: netip.MustParsePrefix("198.51.100.0/24")}}, nil)
	src := udp("203.0.113.7:5060")
	msg := []byte("INVITE sip:x SIP/2.0\r\n\r\n")
	s.Admit(src, msg, false)
	if n := testing.AllocsPerRun(1000, func() { s.Admit(src, msg, false) }); n != 0 {
		t.Fatalf("Admit allocates %v times per message", n)
	}
}
