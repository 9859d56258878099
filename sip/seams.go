package sip

import (
	"context"
	"net/netip"
)

// Side names one leg of a call: A is the caller's dialog, B the callee's.
type Side byte

const (
	SideA Side = 'a'
	SideB Side = 'b'
)

// Party is who is on one side of a call, as far as the B2BUA knows it when an SDP body
// crosses. Zero fields are not known (yet): the anchor keeps what it learnt earlier.
type Party struct {
	// Source is the address the side's signalling came from: the source of the request or
	// response that carried the body (for side A the INVITE's, for side B the 18x/2xx's), or,
	// for the side a body goes to, of its dialog's first message (zero before B answered).
	// Media uses its IP as an allowed RTP source (the port may differ: NAT).
	Source netip.AddrPort
	// User is the extension on that side ("" if none); Trunk the trunk's name ("" if none).
	// They select the side's media policy (users[].srtp, trunks[].srtp).
	User, Trunk string
}

// Parties are both sides of a call: A the caller, B the callee.
type Parties struct{ A, B Party }

// SDPAnchor sees every SDP body that crosses the B2BUA, so that the media package can
// anchor RTP (rewrite c=/m= to its own ports) without the SIP code changing shape. Every
// offer and answer goes through it, in INVITE, 18x, 2xx and re-INVITE alike.
//
// Offer gets an offer that arrived on side from, for the other side; Answer gets the answer
// that arrived on side from. who describes both sides (the sender's Source is where that
// body came from; the other side's is what is known of it). Both return the body to send
// on. An error fails the request that carried the body (488 to an offer in an INVITE).
// Release is called once when the call ends. Implementations must be safe for concurrent
// use by different calls.
type SDPAnchor interface {
	Offer(ctx context.Context, callID string, from Side, who Parties, sdp []byte) ([]byte, error)
	Answer(ctx context.Context, callID string, from Side, who Parties, sdp []byte) ([]byte, error)
	Release(callID string)
}

// PassThrough is the default SDPAnchor: bodies cross unchanged (no media anchoring).
type PassThrough struct{}

func (PassThrough) Offer(_ context.Context, _ string, _ Side, _ Parties, sdp []byte) ([]byte, error) {
	return sdp, nil
}
func (PassThrough) Answer(_ context.Context, _ string, _ Side, _ Parties, sdp []byte) ([]byte, error) {
	return sdp, nil
}
func (PassThrough) Release(string) {}

// sourceOf is the address a message came from (zero when unknown or unparsable).
func sourceOf(m interface{ Source() string }) netip.AddrPort {
	ap, _ := netip.ParseAddrPort(m.Source())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// parties describes two bridged legs by side.
func parties(x, y *Leg) Parties {
	var who Parties
	for _, l := range []*Leg{x, y} {
		if l == nil {
			continue
		}
		if l.mediaRef().side == SideA {
			who.A = l.party
		} else {
			who.B = l.party
		}
	}
	return who
}

// party is the caller's Party for an INVITE from src.
func (o origin) party(src netip.AddrPort) Party {
	p := Party{Source: src}
	if o.user != nil {
		p.User = o.user.Extension
	}
	if o.trunk != nil {
		p.Trunk = o.trunk.cfg.Name
	}
	return p
}

// from returns who with side's Source replaced by src (when known).
func (who Parties) from(side Side, src netip.AddrPort) Parties {
	if !src.IsValid() {
		return who
	}
	if side == SideA {
		who.A.Source = src
	} else {
		who.B.Source = src
	}
	return who
}

// App handles calls that the B2BUA does not bridge itself: numbers whose target is a flow
// (the IVR). ServeCall runs on the INVITE's own goroutine with the caller's leg not yet
// answered: it must end with a final answer to the caller — in.Answer or in.Reject — and
// if it returns without one the caller gets 480. It may keep running after Answer for as
// long as the call lasts; ctx ends when the caller hangs up or the server stops.
type App interface {
	ServeCall(ctx context.Context, in *Incoming)
}

// Option configures a Server.
type Option func(*Server)

// WithApp plugs the handler of flow numbers (default: none, such calls get 480).
func WithApp(a App) Option { return func(s *Server) { s.app = a } }

// WithSDPAnchor plugs the media anchor (default PassThrough).
func WithSDPAnchor(a SDPAnchor) Option { return func(s *Server) { s.anchor = a } }

// WithDigestAlgorithms sets the digest challenges offered, in order, overriding
// sip.digest_algorithms (whose default is "SHA-256", "MD5" per RFC 8760). Clients that read
// only the first challenge and support only MD5 (SIPp 3.6, sipsak, some phones) need "MD5"
// first or alone.
func WithDigestAlgorithms(algs ...string) Option {
	return func(s *Server) { s.digestAlgs = algs }
}
