package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// resolver finds where a trunk destination written as a host name without a port is
// reached (RFC 3263 §4): NAPTR records of the domain for the trunk's transport, else its SRV
// records (_sip._udp, _sip._tcp, _sips._tcp), else its A/AAAA records on the default port.
// It asks one DNS server (sip.dns, default the first nameserver of /etc/resolv.conf).
//
// Answers are cached for their smallest TTL (at least 5 s, at most 5 min); when the server
// fails, an expired answer is used rather than none (a carrier stays reachable through a DNS
// outage), for at most staleFor.
type resolver struct {
	server string // host:port
	client *dns.Client
	now    func() time.Time

	mu    sync.Mutex
	cache map[string]cached // "host|port|transport" → hops
}

type cached struct {
	hops    []hop
	expires time.Time
}

const (
	minTTL   = 5 * time.Second
	maxTTL   = 5 * time.Minute
	staleFor = time.Hour
)

// hop is one resolved address of a destination, in the order to try.
type hop struct {
	addr string // ip:port
}

func newResolver(server string) *resolver {
	if server == "" {
		if cc, err := dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil && len(cc.Servers) > 0 {
			server = net.JoinHostPort(cc.Servers[0], cc.Port)
		} else {
			server = "127.0.0.1:53"
		}
	}
	return &resolver{server: server, client: &dns.Client{Net: "udp", Timeout: 2 * time.Second}, now: time.Now,
		cache: map[string]cached{}}
}

// naptrService is the NAPTR service field of a transport (RFC 3263 §4.1).
func naptrService(transport string) string {
	switch transport {
	case "tcp":
		return "SIP+D2T"
	case "tls":
		return "SIPS+D2T"
	}
	return "SIP+D2U"
}

func srvPrefix(transport string) string {
	switch transport {
	case "tcp":
		return "_sip._tcp."
	case "tls":
		return "_sips._tcp."
	}
	return "_sip._udp."
}

func defaultPort(transport string) int {
	if transport == "tls" {
		return 5061
	}
	return 5060
}

// resolve returns the addresses of host (a name or IP) for transport; port 0 means none was
// written, which is when NAPTR and SRV apply.
func (rv *resolver) resolve(ctx context.Context, host string, port int, transport string) ([]hop, error) {
	h := strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(h); err == nil {
		if port == 0 {
			port = defaultPort(transport)
		}
		return []hop{{addr: netip.AddrPortFrom(ip, uint16(port)).String()}}, nil
	}
	key := h + "|" + strconv.Itoa(port) + "|" + transport
	now := rv.now()
	rv.mu.Lock()
	c, ok := rv.cache[key]
	rv.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.hops, nil
	}
	ttl := maxTTL
	hops, err := rv.lookup(ctx, h, port, transport, &ttl)
	if err != nil {
		if ok && now.Before(c.expires.Add(staleFor)) {
			return c.hops, nil // stale beats nothing
		}
		return nil, err
	}
	rv.mu.Lock()
	if len(rv.cache) > 1024 {
		clear(rv.cache) // bounded: trunks' names are few
	}
	rv.cache[key] = cached{hops: hops, expires: now.Add(max(ttl, minTTL))}
	rv.mu.Unlock()
	return hops, nil
}

// lookup is resolve without the cache; ttl is lowered to the smallest TTL seen.
func (rv *resolver) lookup(ctx context.Context, h string, port int, transport string, ttl *time.Duration) ([]hop, error) {
	if port != 0 {
		ips, err := rv.addrs(ctx, h, ttl)
		if err != nil {
			return nil, err
		}
		return hopsOf(ips, port), nil
	}
	srvName := srvPrefix(transport) + dns.Fqdn(h)
	if naptrs, err := rv.query(ctx, h, dns.TypeNAPTR, ttl); err == nil {
		var best []*dns.NAPTR
		for _, rr := range naptrs {
			if n, ok := rr.(*dns.NAPTR); ok && strings.EqualFold(n.Service, naptrService(transport)) && strings.EqualFold(n.Flags, "s") {
				best = append(best, n)
			}
		}
		sort.SliceStable(best, func(i, j int) bool {
			if best[i].Order != best[j].Order {
				return best[i].Order < best[j].Order
			}
			return best[i].Preference < best[j].Preference
		})
		if len(best) > 0 {
			srvName = dns.Fqdn(best[0].Replacement)
		}
	}
	rrs, err := rv.query(ctx, srvName, dns.TypeSRV, ttl)
	var srvs []*dns.SRV
	if err == nil {
		for _, rr := range rrs {
			if s, ok := rr.(*dns.SRV); ok && s.Target != "." {
				srvs = append(srvs, s)
			}
		}
	}
	if len(srvs) == 0 {
		ips, err := rv.addrs(ctx, h, ttl)
		if err != nil {
			return nil, err
		}
		return hopsOf(ips, defaultPort(transport)), nil
	}
	var out []hop
	for _, s := range orderSRV(srvs) {
		ips, err := rv.addrs(ctx, strings.TrimSuffix(s.Target, "."), ttl)
		if err != nil {
			continue
		}
		out = append(out, hopsOf(ips, int(s.Port))...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sip: %s: no SRV target resolves", srvName)
	}
	return out, nil
}

func hopsOf(ips []netip.Addr, port int) []hop {
	out := make([]hop, 0, len(ips))
	for _, ip := range ips {
		out = append(out, hop{addr: netip.AddrPortFrom(ip, uint16(port)).String()})
	}
	return out
}

// orderSRV orders SRV records by priority, and within one priority in the weighted random
// order of RFC 2782.
func orderSRV(srvs []*dns.SRV) []*dns.SRV {
	sort.SliceStable(srvs, func(i, j int) bool { return srvs[i].Priority < srvs[j].Priority })
	out := make([]*dns.SRV, 0, len(srvs))
	for i := 0; i < len(srvs); {
		j := i
		for j < len(srvs) && srvs[j].Priority == srvs[i].Priority {
			j++
		}
		group := append([]*dns.SRV(nil), srvs[i:j]...)
		ws := make([]int, len(group))
		for k, s := range group {
			ws[k] = int(s.Weight)
		}
		for _, k := range weightedOrder(ws) {
			out = append(out, group[k])
		}
		i = j
	}
	return out
}

// weightedOrder returns the indexes of weights in a random order where each next one is
// picked with probability proportional to its weight (RFC 2782); zero weights come last in
// random order.
func weightedOrder(weights []int) []int {
	idx := make([]int, len(weights))
	for i := range idx {
		idx[i] = i
	}
	rand.Shuffle(len(idx), func(a, b int) { idx[a], idx[b] = idx[b], idx[a] })
	out := make([]int, 0, len(idx))
	for len(idx) > 0 {
		total := 0
		for _, i := range idx {
			total += weights[i]
		}
		pick := 0
		if total > 0 {
			r := rand.IntN(total)
			for k, i := range idx {
				if r < weights[i] {
					pick = k
					break
				}
				r -= weights[i]
			}
		}
		out = append(out, idx[pick])
		idx = append(idx[:pick], idx[pick+1:]...)
	}
	return out
}

// addrs resolves a name's A and AAAA records (A first).
func (rv *resolver) addrs(ctx context.Context, name string, ttl *time.Duration) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := rv.query(ctx, name, qt, ttl)
		if err != nil {
			continue
		}
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(a.A.To4()); ok {
					out = append(out, ip)
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(a.AAAA); ok {
					out = append(out, ip)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sip: %s: no address", name)
	}
	return out, nil
}

func (rv *resolver) query(ctx context.Context, name string, qt uint16, ttl *time.Duration) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qt)
	m.RecursionDesired = true
	in, _, err := rv.client.ExchangeContext(ctx, m, rv.server)
	if err != nil {
		return nil, err
	}
	if in.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("sip: %s %s: %s", name, dns.TypeToString[qt], dns.RcodeToString[in.Rcode])
	}
	for _, rr := range in.Answer {
		*ttl = min(*ttl, time.Duration(rr.Header().Ttl)*time.Second)
	}
	return in.Answer, nil
}
