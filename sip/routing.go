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
	"github.com/ccswitch/ccswitch/sip/route"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// routing is the part of the config calls are routed with, compiled for lookups. A new
// one replaces the old on Reload; calls in progress keep the one they started with.
type routing struct {
	users    map[string]*config.User
	static   map[string]gsip.Uri // extension → static contact
	trunks   []*trunk
	byName   map[string]*trunk
	byUser   map[string]*trunk // trunk digest username → trunk
	table    *route.Table      // the routing decision's view (decide.go)
	numbers  map[string]*config.Number
	ringTime time.Duration
	// trunkAddrs is every trunk's sources and outbound address: no registered contact
	// may point there (flow.go).
	trunkAddrs *addrSet
}

// trunk is a compiled config.Trunk; its destinations' health survives reloads (by trunk
// name and URI).
type trunk struct {
	cfg       config.Trunk
	sources   []source
	dests     []*dest // outbound destinations in configured order; none = inbound only
	transport string
	prefixes  []string
	line      string // the registration contact's line parameter (trunkreg.go)
}

// dest is one outbound destination of a trunk.
type dest struct {
	uri      *gsip.Uri
	priority int
	weight   int
	health   *trunkHealth
}

// trunkHealth is a destination's OPTIONS state: down after options_down misses in a row,
// up after options_up answers in a row. Only the health loop writes it.
type trunkHealth struct {
	up      atomic.Bool
	checked atomic.Int64 // unix nanos of the last OPTIONS answer or failure
	misses  atomic.Int32 // unanswered probes in a row
	answers atomic.Int32 // answered probes in a row
}

// up reports whether the trunk may take calls out: one of its destinations is up.
func (t *trunk) up() bool {
	for _, d := range t.dests {
		if d.health.up.Load() {
			return true
		}
	}
	return false
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
		byName:   make(map[string]*trunk),
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
		dests, err := s.compileDests(tc)
		if err != nil {
			return nil, fmt.Errorf("sip: trunks[%d].outbound: %w", i, err)
		}
		t.dests = dests
		if tc.Register {
			t.line = lineToken(tc)
		}
		for _, p := range tc.Prefixes {
			t.prefixes = append(t.prefixes, strings.TrimPrefix(p, "+"))
		}
		r.trunks = append(r.trunks, t)
		r.byName[tc.Name] = t
		if tc.Username != "" {
			r.byUser[tc.Username] = t
		}
	}
	for i := range cfg.Numbers {
		n := &cfg.Numbers[i]
		r.numbers[strings.TrimPrefix(n.DID, "+")] = n
	}
	r.trunkAddrs = trunkAddrs(r.trunks)
	emergency := map[string]bool{}
	for _, e := range cfg.SIP.Emergency {
		emergency[e] = true
	}
	r.table = r.routeTable(emergency, cfg.SIP.EmergencyTrunk, s.app != nil)
	return r, nil
}

// compileDests parses a trunk's outbound destinations and attaches their health, kept
// across reloads by trunk name and URI.
func (s *Server) compileDests(tc config.Trunk) ([]*dest, error) {
	var out []*dest
	add := func(raw string, prio, weight int) error {
		u, err := parseOutbound(raw)
		if err != nil {
			return fmt.Errorf("%q: %w", raw, err)
		}
		key := tc.Name + "|" + raw
		s.healthMu.Lock()
		h := s.health[key]
		if h == nil {
			h = &trunkHealth{}
			h.up.Store(true) // innocent until its probes fail
			s.health[key] = h
		}
		s.healthMu.Unlock()
		out = append(out, &dest{uri: u, priority: prio, weight: weight, health: h})
		return nil
	}
	if tc.Outbound != "" {
		return out, add(tc.Outbound, 0, 1)
	}
	for _, d := range tc.Destinations {
		w := 1
		if d.Weight != nil {
			w = *d.Weight
		}
		if err := add(d.URI, d.Priority, w); err != nil {
			return nil, err
		}
	}
	return out, nil
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
