package sip

import (
	"context"
)

// Side names one leg of a call: A is the caller's dialog, B the callee's.
type Side byte

const (
	SideA Side = 'a'
	SideB Side = 'b'
)

// SDPAnchor sees every SDP body that crosses the B2BUA, so that the media package can
// anchor RTP (rewrite c=/m= to its own ports) without the SIP code changing shape. Every
// offer and answer goes through it, in INVITE, 18x, 2xx and re-INVITE alike.
//
// Offer gets an offer that arrived on side from, for the other side; Answer gets the answer
// that arrived on side from. Both return the body to send on. An error fails the request
// that carried the body (488 to an offer in an INVITE). Release is called once when the
// call ends. Implementations must be safe for concurrent use by different calls.
type SDPAnchor interface {
	Offer(ctx context.Context, callID string, from Side, sdp []byte) ([]byte, error)
	Answer(ctx context.Context, callID string, from Side, sdp []byte) ([]byte, error)
	Release(callID string)
}

// PassThrough is the default SDPAnchor: bodies cross unchanged (no media anchoring).
type PassThrough struct{}

func (PassThrough) Offer(_ context.Context, _ string, _ Side, sdp []byte) ([]byte, error) {
	return sdp, nil
}
func (PassThrough) Answer(_ context.Context, _ string, _ Side, sdp []byte) ([]byte, error) {
	return sdp, nil
}
func (PassThrough) Release(string) {}

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
