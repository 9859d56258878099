package sip

import (
	"net"
	"net/netip"
	"strings"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// udpSide is one UDP listener and what sends from it: IPv4 and IPv6 listeners work alike,
// each peer is written to from a listener of its address family (udpFor), with that
// listener's advertised host in Via and Contact.
type udpSide struct {
	addr *net.UDPAddr
	host string // written in Via and Contact (public_host or the listen host)
	cli  *sipgo.Client
	ua   *sipgo.DialogUA
}

// advertisedHost is the host a listener on listenHost writes in Via and Contact: public
// (sip.public_host) when it is a DNS name or an IP of the listener's family, else the
// listen host; fallback when that is unspecified (0.0.0.0, ::).
func advertisedHost(public, listenHost, fallback string) string {
	lh := strings.Trim(listenHost, "[]")
	la, lerr := netip.ParseAddr(lh)
	if public != "" {
		p := strings.Trim(public, "[]")
		pa, err := netip.ParseAddr(p)
		if err != nil || lerr != nil || pa.Is4() == la.Unmap().Is4() || la.IsUnspecified() && la.Is6() {
			return p
		}
	}
	if lerr == nil && la.IsUnspecified() {
		return fallback
	}
	return lh
}

// bracket writes an IPv6 host as URIs need it ("[::1]"); other hosts are returned as they are.
func bracket(host string) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		return "[" + host + "]"
	}
	return host
}

// uriHost is the server's own host as a URI host (From and To of the requests we make).
func (s *Server) uriHost() string { return bracket(s.host) }

// udpFor returns the UDP listener that writes to peer (host, host:port or [v6]:port): the
// first of the peer's address family (an IPv6 wildcard listener serves both), else the
// first listener.
func (s *Server) udpFor(peer string) *udpSide {
	if len(s.udp) == 0 {
		return nil
	}
	h := peer
	if host, _, err := net.SplitHostPort(peer); err == nil {
		h = host
	}
	ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
	if err != nil {
		return s.udp[0]
	}
	v4 := ip.Unmap().Is4()
	for _, u := range s.udp {
		if l, ok := netip.AddrFromSlice(u.addr.IP); ok {
			if l.Unmap().Is4() == v4 || l.IsUnspecified() && l.Is6() && u.addr.IP.To4() == nil {
				return u
			}
		}
	}
	return s.udp[0]
}

// udpClientFor is the client that sends UDP requests to peer (see udpFor).
func (s *Server) udpClientFor(peer string) *sipgo.Client {
	if u := s.udpFor(peer); u != nil {
		return u.cli
	}
	return s.udpCli
}

// dialogUAToPeer is dialogUA for a request to or from peer: over UDP, the listener of the
// peer's address family.
func (s *Server) dialogUAToPeer(transport, peer string) *sipgo.DialogUA {
	if transport == "" || strings.EqualFold(transport, "udp") {
		if u := s.udpFor(peer); u != nil {
			return u.ua
		}
	}
	return s.dialogUA(transport)
}

// newUDPSide builds the client and dialog UA that send from listener c.
func newUDPSide(ua *sipgo.UserAgent, c *net.UDPConn, host string, opts ...sipgo.ClientOption) (*udpSide, error) {
	addr := c.LocalAddr().(*net.UDPAddr)
	cli, err := sipgo.NewClient(ua, append(opts, sipgo.WithClientHostname(host),
		sipgo.WithClientPort(addr.Port), sipgo.WithClientConnectionAddr(addr.String()))...)
	if err != nil {
		return nil, err
	}
	contact := gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: "ccswitch", Host: bracket(host), Port: addr.Port}}
	return &udpSide{addr: addr, host: host, cli: cli,
		ua: &sipgo.DialogUA{Client: cli, RewriteContact: true, ContactHDR: contact}}, nil
}
