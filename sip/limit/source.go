package limit

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// MaxSources bounds the number of source addresses tracked at once (invariant 2).
const MaxSources = 65536

// Exempt is a source that is never limited: a prefix, and a port (0: any).
type Exempt struct {
	Prefix netip.Prefix
	Port   uint16
}

// Sources limits the SIP messages each source address sends, on the raw bytes, before sipgo
// parses them (invariant 1). Each source (an IPv4 address, or an IPv6 /64) has a token bucket
// of SourceRate tokens per second and SourceBurst deep. A source that empties it is blocked:
// all its messages are dropped, and still drain the bucket (down to -burst), until the bucket
// has refilled to half: a source that keeps flooding stays blocked, one that stops is let in
// again after 1.5 × burst / rate seconds. Safe for concurrent use.
type Sources struct {
	now func() time.Time
	// onBlock is called (outside the lock) when a source becomes blocked.
	onBlock func(src netip.Addr)
	dropped func()

	mu       sync.Mutex
	rate     float64 // tokens per second; 0 = off
	burst    float64
	exempt   []Exempt
	m        map[netip.Addr]*bucket
	overflow bucket // shared by new sources while m is full
	blocked  int    // sources currently blocked (for the gauge)

	off atomic.Bool // rate == 0: skip the lock entirely
}

type bucket struct {
	tokens  float64
	last    int64 // unix nanos of the last refill
	blocked bool
}

// NewSources returns a limiter at rate messages per second with burst, exempting ex.
func NewSources(rate float64, burst int, ex []Exempt, now func() time.Time) *Sources {
	if now == nil {
		now = time.Now
	}
	s := &Sources{now: now, m: make(map[netip.Addr]*bucket)}
	s.Set(rate, burst, ex)
	return s
}

// SetExempt replaces the exempt sources only.
func (s *Sources) SetExempt(ex []Exempt) {
	s.mu.Lock()
	s.exempt = append([]Exempt(nil), ex...)
	s.mu.Unlock()
}

// Set changes the rate, burst and exempt sources (on reload); tracked sources keep their state.
func (s *Sources) Set(rate float64, burst int, ex []Exempt) {
	if burst < 1 {
		burst = max(int(5*rate), 1)
	}
	s.mu.Lock()
	s.rate, s.burst = rate, float64(burst)
	s.exempt = append([]Exempt(nil), ex...)
	s.overflow = bucket{tokens: s.burst, last: s.now().UnixNano()}
	s.mu.Unlock()
	s.off.Store(rate <= 0)
}

// Key is the address a source is counted under: the IPv4 address, or the /64 of an IPv6 one
// (one subscriber usually has a whole /64).
func Key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// AddrOf reads the IP and port of a transport address without allocating for UDP and TCP.
func AddrOf(a net.Addr) (netip.Addr, uint16, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), uint16(a.Port), ok
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), uint16(a.Port), ok
	case nil:
		return netip.Addr{}, 0, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, 0, false
	}
	return ap.Addr().Unmap(), ap.Port(), true
}

var endOfHead = []byte("\r\n\r\n")

// Admit counts one read from addr and reports whether it may be parsed. stream says the read
// is a chunk of a TCP/TLS/WS stream: it costs one token per message head it holds (at least
// one), so pipelining does not multiply a source's budget. An address it cannot read is
// admitted (the parser will refuse it).
func (s *Sources) Admit(addr net.Addr, data []byte, stream bool) bool {
	if s.off.Load() {
		return true
	}
	ip, port, ok := AddrOf(addr)
	if !ok {
		return true
	}
	cost := 1.0
	if stream {
		cost = float64(max(bytes.Count(data, endOfHead), 1))
	}
	return s.admit(ip, port, cost)
}

func (s *Sources) admit(ip netip.Addr, port uint16, cost float64) bool {
	now := s.now().UnixNano()
	s.mu.Lock()
	if s.rate <= 0 || s.isExempt(ip, port) {
		s.mu.Unlock()
		return true
	}
	key := Key(ip)
	b := s.m[key]
	if b == nil {
		if len(s.m) >= MaxSources {
			b = &s.overflow
		} else {
			b = &bucket{tokens: s.burst, last: now}
			s.m[key] = b
		}
	}
	if el := now - b.last; el > 0 {
		b.tokens = min(s.burst, b.tokens+float64(el)/1e9*s.rate)
		b.last = now
	}
	if b.blocked && b.tokens >= s.burst/2 {
		b.blocked = false
		s.blocked--
	}
	if !b.blocked && b.tokens >= cost {
		b.tokens -= cost
		s.mu.Unlock()
		return true
	}
	b.tokens = max(b.tokens-cost, -s.burst)
	newly := !b.blocked
	if newly {
		b.blocked = true
		s.blocked++
	}
	s.mu.Unlock()
	if s.dropped != nil {
		s.dropped()
	}
	if newly && s.onBlock != nil {
		s.onBlock(key)
	}
	return false
}

func (s *Sources) isExempt(ip netip.Addr, port uint16) bool {
	for _, e := range s.exempt {
		if (e.Port == 0 || e.Port == port) && e.Prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// Sweep unblocks sources that went quiet and forgets those whose bucket has refilled.
func (s *Sources) Sweep() {
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, b := range s.m {
		tokens := b.tokens + float64(now-b.last)/1e9*s.rate
		if b.blocked && (s.rate <= 0 || tokens >= s.burst/2) {
			b.blocked = false
			s.blocked--
		}
		if !b.blocked && (s.rate <= 0 || tokens >= s.burst) {
			delete(s.m, k)
		}
	}
}

// Blocked returns how many sources are blocked now.
func (s *Sources) Blocked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.blocked
}

// Tracked returns how many sources are tracked now.
func (s *Sources) Tracked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
