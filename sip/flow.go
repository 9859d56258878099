package sip

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ccswitch/ccswitch/sip/registrar"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Toll fraud through the registrar is closed as a class (README "Secure by default"):
//
//   - A registered contact is reached only through its flow (registrar invariant 5): the
//     INVITE of an internal call, a DID call or an ACD offer goes to the address the
//     REGISTER came from, over its transport; the Contact URI is only the Request-URI. A
//     phone that registers the carrier's address as its Contact gets the call itself.
//   - In-dialog requests of a call to a registered contact follow the same flow: the
//     answer's Record-Route is dropped and its source pinned to the flow (flowAnswered).
//   - vetRegister refuses (403), before anything is bound, a REGISTER that comes from a
//     trunk's source, is addressed to a trunk, or has a contact (its host, maddr or
//     received) on a trunk's address or on ccswitch itself (a loop).
//   - sip.max_contacts bounds the contacts of an AOR (registrar invariant 6).

// addrSet is a set of addresses: IP prefixes with a port (0: any port) and host names with
// a port (0: any).
type addrSet struct {
	nets  []source
	names map[string][]int
}

func (a *addrSet) addNet(p netip.Prefix, port uint16) {
	a.nets = append(a.nets, source{prefix: p, port: port})
}

func (a *addrSet) addHost(host string, port int) {
	h := strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.Unmap()
		a.addNet(netip.PrefixFrom(ip, ip.BitLen()), uint16(port))
		return
	}
	if a.names == nil {
		a.names = make(map[string][]int)
	}
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	a.names[h] = append(a.names[h], port)
}

// has reports whether host (an IP, IPv6 bracketed or not, or a name) and port are in the set.
func (a *addrSet) has(host string, port int) bool {
	h := strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(h); err == nil {
		ip = ip.Unmap()
		for _, n := range a.nets {
			if n.prefix.Contains(ip) && (n.port == 0 || int(n.port) == port) {
				return true
			}
		}
		return false
	}
	for _, p := range a.names[strings.ToLower(strings.TrimSuffix(h, "."))] {
		if p == 0 || p == port {
			return true
		}
	}
	return false
}

// trunkAddrs is every address a trunk is known by: its sources (an IP or CIDR without port
// covers every port) and its outbound destination (without a port: every port of it).
func trunkAddrs(trunks []*trunk) *addrSet {
	a := &addrSet{}
	for _, t := range trunks {
		for _, s := range t.sources {
			a.addNet(s.prefix, s.port)
		}
		for _, d := range t.dests {
			a.addHost(d.uri.Host, d.uri.Port)
		}
	}
	return a
}

// selfAddrs is every address ccswitch is reached at: its listeners (an unspecified listen
// host stands for every local address, a loopback one for its whole prefix) and
// public_host, on each listening port.
func selfAddrs(listen []net.Addr, public string) *addrSet {
	a := &addrSet{}
	var local []netip.Prefix
	for _, l := range listen {
		h, p, err := net.SplitHostPort(l.String())
		if err != nil {
			continue
		}
		port, _ := strconv.Atoi(p)
		if public != "" {
			a.addHost(public, port)
		}
		ip, err := netip.ParseAddr(h)
		if err != nil || !ip.IsUnspecified() {
			a.addHost(h, port)
			continue
		}
		if local == nil {
			local = interfacePrefixes()
		}
		for _, x := range local {
			if ip.Is4() == x.Addr().Is4() || ip.Is6() {
				a.addNet(x, uint16(port))
			}
		}
	}
	return a
}

// interfacePrefixes are the local addresses: each interface address, and the whole prefix
// of a loopback one (127.0.0.2 is this host too).
func interfacePrefixes() []netip.Prefix {
	out := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := p.Addr().Unmap()
		if ip.IsLoopback() {
			out = append(out, netip.PrefixFrom(ip, p.Bits()).Masked())
		} else {
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	return out
}

// Reasons vetRegister refuses a REGISTER for (the log's reason, all answered 403).
const (
	vetTrunkSource = "from-trunk"       // the REGISTER comes from a trunk's source
	vetTrunkTarget = "to-trunk"         // its Request-URI is a trunk's address
	vetContactTrk  = "contact-on-trunk" // a contact (host, maddr or received) is a trunk's address
	vetContactSelf = "contact-on-self"  // a contact points at ccswitch itself
)

// vetRegister returns why a REGISTER must be refused, "" when its contacts may be bound.
func (s *Server) vetRegister(req *gsip.Request, r *routing) string {
	if r.trunkBySource(req.Source()) != nil {
		return vetTrunkSource
	}
	if r.trunkAddrs.has(req.Recipient.Host, uriPort(req.Recipient)) {
		return vetTrunkTarget
	}
	self := s.self.Load()
	for _, h := range req.GetHeaders("Contact") {
		ch, ok := h.(*gsip.ContactHeader)
		if !ok || ch.Address.Wildcard {
			continue
		}
		for _, hp := range contactAddrs(ch) {
			if r.trunkAddrs.has(hp.host, hp.port) {
				return vetContactTrk
			}
			if self != nil && self.has(hp.host, hp.port) {
				return vetContactSelf
			}
		}
	}
	return ""
}

type hostPort struct {
	host string
	port int
}

// contactAddrs lists every address a contact names: its host, its maddr (RFC 3261 §19.1.1,
// with the URI's port), and a received parameter ("sip:ip:port", "ip:port" or "ip") that
// some registrars read as the contact's real address.
func contactAddrs(ch *gsip.ContactHeader) []hostPort {
	u := ch.Address
	port := uriPort(u)
	out := []hostPort{{u.Host, port}}
	if u.UriParams != nil {
		if m, ok := u.UriParams.Get("maddr"); ok && m != "" {
			out = append(out, hostPort{m, port})
		}
	}
	if ch.Params != nil {
		if rcv, ok := ch.Params.Get("received"); ok && rcv != "" {
			rcv = strings.Trim(rcv, `"`)
			var ru gsip.Uri
			if strings.Contains(rcv, ":") && gsip.ParseUri(rcv, &ru) == nil && ru.Host != "" {
				out = append(out, hostPort{ru.Host, uriPort(ru)})
			} else if h, p, err := net.SplitHostPort(rcv); err == nil {
				n, _ := strconv.Atoi(p)
				out = append(out, hostPort{h, n})
			} else {
				out = append(out, hostPort{rcv, 5060})
			}
		}
	}
	return out
}

// uriPort is a URI's port, or its scheme's default.
func uriPort(u gsip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return 5061
	}
	return 5060
}

// flowTarget is where a call to a registered contact goes: the Request-URI is the contact,
// the destination and transport its flow. ok is false for a binding without a source (it
// cannot be reached safely).
func (s *Server) flowTarget(c registrar.Contact, ext string) (target, bool) {
	if c.Dest == "" {
		return target{}, false
	}
	t := target{uri: c.URI, dest: c.Dest, transport: strings.ToLower(c.Transport), flow: true}
	if t.transport == "" {
		t.transport = "udp"
	}
	t.to = gsip.Uri{Scheme: "sip", User: ext, Host: s.uriHost()}
	return t, true
}

// flowAnswered pins the in-dialog requests of an answered call to a registered contact to
// its flow: no Record-Route from the phone (one naming a trunk would send our ACK, BYE and
// re-INVITEs there), and the dialog's remote address is the flow, whatever address the 2xx
// came from (sipgo's RewriteContact sends in-dialog requests to the answer's source).
func flowAnswered(t target, res *gsip.Response) {
	if !t.flow || res == nil {
		return
	}
	for {
		rr := res.GetHeaders("Record-Route")
		if len(rr) == 0 || !res.RemoveHeader(rr[0].Name()) {
			break
		}
	}
	res.SetSource(t.dest)
}
