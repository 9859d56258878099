package sip

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	gsip "github.com/emiago/sipgo/sip"
)

// routing is the part of the config calls are routed with, compiled for lookups. A new
// one replaces the old on Reload; calls in progress keep the one they started with.
type routing struct {
	users    map[string]*config.User
	static   map[string]gsip.Uri // extension → static contact
	trunks   []*trunk
	byUser   map[string]*trunk // trunk digest username → trunk
	numbers  map[string]*config.Number
	ringTime time.Duration
	// trunkAddrs is every trunk's sources and outbound address: no registered contact
	// may point there (flow.go).
	trunkAddrs *addrSet
}

// trunk is a compiled config.Trunk plus its health, which survives reloads (by name).
type trunk struct {
	cfg       config.Trunk
	sources   []source
	out       *gsip.Uri // outbound destination, nil = inbound only
	transport string
	prefixes  []string
	health    *trunkHealth
}

type trunkHealth struct {
	up      atomic.Bool
	checked atomic.Int64 // unix nanos of the last OPTIONS answer or failure
}

// source matches a request's source address: a prefix and an optional port.
type source struct {
	prefix netip.Prefix
	port   uint16
}

func (s *Server) compile(cfg *config.Config) (*routing, error) {
	r := &routing{
		users:    make(map[string]*config.User, len(cfg.Users)),
		static:   make(map[string]gsip.Uri),
		byUser:   make(map[string]*trunk),
		numbers:  make(map[string]*config.Number, len(cfg.Numbers)),
		ringTime: cfg.SIP.RingTimeout.D(),
	}
	if r.ringTime <= 0 {
		r.ringTime = 60 * time.Second
	}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		r.users[u.Extension] = u
		if u.Contact != "" {
			var uri gsip.Uri
			if err := gsip.ParseUri(u.Contact, &uri); err != nil {
				return nil, fmt.Errorf("sip: users[%d].contact %q: %w", i, u.Contact, err)
			}
			r.static[u.Extension] = uri
		}
	}
	for i := range cfg.Trunks {
		tc := cfg.Trunks[i]
		t := &trunk{cfg: tc, transport: strings.ToLower(tc.Transport)}
		if t.transport == "" {
			t.transport = "udp"
		}
		for _, src := range tc.Sources {
			m, err := parseSource(src)
			if err != nil {
				return nil, fmt.Errorf("sip: trunks[%d].sources: %w", i, err)
			}
			t.sources = append(t.sources, m)
		}
		if tc.Outbound != "" {
			u, err := parseOutbound(tc.Outbound)
			if err != nil {
				return nil, fmt.Errorf("sip: trunks[%d].outbound %q: %w", i, tc.Outbound, err)
			}
			t.out = u
		}
		for _, p := range tc.Prefixes {
			t.prefixes = append(t.prefixes, strings.TrimPrefix(p, "+"))
		}
		s.healthMu.Lock()
		h := s.health[tc.Name]
		if h == nil {
			h = &trunkHealth{}
			h.up.Store(true) // innocent until an OPTIONS fails
			s.health[tc.Name] = h
		}
		s.healthMu.Unlock()
		t.health = h
		r.trunks = append(r.trunks, t)
		if tc.Username != "" {
			r.byUser[tc.Username] = t
		}
	}
	for i := range cfg.Numbers {
		n := &cfg.Numbers[i]
		r.numbers[strings.TrimPrefix(n.DID, "+")] = n
	}
	r.trunkAddrs = trunkAddrs(r.trunks)
	return r, nil
}

func parseSource(s string) (source, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr().Unmap()
		return source{prefix: netip.PrefixFrom(a, a.BitLen()), port: ap.Port()}, nil
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return source{prefix: p.Masked()}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return source{prefix: netip.PrefixFrom(a, a.BitLen())}, nil
	}
	return source{}, fmt.Errorf("%q is not an IP, CIDR or ip:port", s)
}

func parseOutbound(s string) (*gsip.Uri, error) {
	var u gsip.Uri
	if strings.HasPrefix(s, "sip:") || strings.HasPrefix(s, "sips:") {
		if err := gsip.ParseUri(s, &u); err != nil {
			return nil, err
		}
		return &u, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, ""
	}
	u = gsip.Uri{Scheme: "sip", Host: host}
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, err
		}
		u.Port = p
	}
	return &u, nil
}

// trunkBySource returns the trunk whose sources match addr ("ip:port"), or nil.
func (r *routing) trunkBySource(addr string) *trunk {
	if len(r.trunks) == 0 {
		return nil
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	ip := ap.Addr().Unmap()
	for _, t := range r.trunks {
		for _, m := range t.sources {
			if m.prefix.Contains(ip) && (m.port == 0 || m.port == ap.Port()) {
				return t
			}
		}
	}
	return nil
}

// number finds a DID with or without its leading '+'.
func (r *routing) number(dialled string) *config.Number {
	return r.numbers[strings.TrimPrefix(dialled, "+")]
}

// outboundTrunk picks the first healthy trunk with an outbound destination whose
// prefixes allow dialled and that take accepts (take reserves a slot of the trunk; nil takes
// any). It reports whether a trunk matched but was down or full.
func (r *routing) outboundTrunk(dialled string, take func(*trunk) bool) (t *trunk, down bool) {
	d := strings.TrimPrefix(dialled, "+")
	for _, t := range r.trunks {
		if t.out == nil {
			continue
		}
		if len(t.prefixes) > 0 {
			ok := false
			for _, p := range t.prefixes {
				if strings.HasPrefix(d, p) {
					ok = true
					break
				}
			}
			if !ok {
				continue
			}
		}
		if !t.health.up.Load() {
			down = true
			continue
		}
		if take != nil && !take(t) {
			down = true
			continue
		}
		return t, false
	}
	return nil, down
}

// isNumber reports whether s looks like a dialable number (digits, optional leading +,
// * and #), the only thing sent to a trunk.
func isNumber(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && c != '*' && c != '#' {
			return false
		}
	}
	return true
}
