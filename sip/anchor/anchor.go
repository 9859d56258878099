// Package anchor is the media anchor of the B2BUA: a sip.SDPAnchor over a media.Engine.
//
// For every call the SIP layer bridges itself (extension to extension, trunk to extension,
// extension to trunk), the first offer from side A creates a media.Call; offers and answers
// are mapped onto it exactly as media's package doc prescribes:
//
//	Offer(A, INVITE)            → call.OfferFromA
//	Offer(B, 2xx/18x)           → call.OfferFrom(B)   (delayed offer: INVITE without SDP)
//	Answer(A, ACK/PRACK)        → call.AnswerFrom(A)
//	Answer(B, 18x/2xx)          → call.AnswerFromB
//	Offer(X, re-INVITE/UPDATE)  → call.OfferFrom(X)
//	Answer(Y, 2xx to that)      → call.AnswerFrom(Y)
//	Release                     → call.Close
//
// so both legs see ccswitch's address in c= and m= and the RTP is relayed (and transcoded)
// by media. Before each, the sides' sip.Parties become media peers (call.SetPeer): the source
// of each side's signalling is an allowed RTP source (media invariant 3), and its extension's
// or trunk's `srtp` setting (users[].srtp, trunks[].srtp; default optional) is the leg's SRTP
// policy. A call whose trunk is configured `media: passthrough` (or every call when
// `media.anchor: false`) is left alone: its bodies cross unchanged and no media.Call exists.
//
// Calls whose media is owned by someone else (the voice App: IVR then bridge to an agent, two
// SIP calls sharing one media.Call) are Attach-ed under each of their SIP call IDs, so that
// re-INVITEs relayed by the B2BUA between the bridged legs are negotiated on the right
// media.Call; Release only detaches them.
//
// When media's RTP watchdog finds a dead leg, Options.Hangup is called (asynchronously) with
// the call ID: the SIP layer sends BYE on both legs, and the resulting Release closes the media.
//
// Errors returned by Offer and Answer carry the SIP status they call for (SIPStatus: 488 no
// common codec, bad SDP or SRTP refused, 503 no RTP port, 491 offer pending, 500 otherwise);
// see Status.
package anchor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
)

// staleOffer is how long an offer may stay unanswered before a new offer replaces it: the
// B2BUA waits at most 32 s (Timer B) for the answer to a relayed re-INVITE, and does not tell
// the anchor when the peer refused it.
const staleOffer = 33 * time.Second

// Options configures an Anchor.
type Options struct {
	// Config gives the trunks whose media passes through unanchored (trunks[].media:
	// passthrough) and the global switch (media.anchor: false). Nil anchors every call.
	Config *config.Config
	// Trunk returns the name of the trunk a call came from or goes to ("" for a call between
	// extensions). Nil: the server given to SetCalls answers (else no per-trunk passthrough).
	Trunk func(callID string) string
	// Hangup ends both legs of a call whose RTP stopped (media.Config.RTPTimeout). It is called
	// from its own goroutine. Nil: the server given to SetCalls answers (else the media is
	// closed but the SIP legs are left, logged).
	Hangup func(callID string)
	// OnRelease, if set, receives a call's media figures just before its media is closed (for
	// the call record). Not called for passthrough or attached calls.
	OnRelease func(callID string, st media.Stats)
	// Logger gets component=anchor; nil means slog.Default().
	Logger *slog.Logger
}

// Anchor implements sip.SDPAnchor on a media.Engine. Safe for concurrent use.
type Anchor struct {
	eng *media.Engine
	log *slog.Logger

	trunk     func(string) string
	hangup    func(string)
	onRelease func(string, media.Stats)

	pass atomic.Pointer[passPolicy]
	sipc atomic.Pointer[callsRef]

	mu    sync.Mutex
	calls map[string]*entry
}

// Calls is what the anchor needs of the SIP server: a call's trunk and a way to end a call.
// *sip.Server provides both (CallTrunk, Hangup).
type Calls interface {
	CallTrunk(callID string) string
	Hangup(callID string)
}

type callsRef struct{ c Calls }

// SetCalls plugs the SIP server once it exists (sip.New needs the anchor first): it answers
// for Options.Trunk and Options.Hangup when those are nil.
func (a *Anchor) SetCalls(c Calls) { a.sipc.Store(&callsRef{c}) }

type passPolicy struct {
	all    bool
	trunks map[string]bool
	// SRTP policy per extension and per trunk (absent: optional).
	userSRTP, trunkSRTP map[string]media.SRTPPolicy
}

type entry struct {
	call    *media.Call // nil: passthrough
	owned   bool        // created here: Release closes it
	pending time.Time   // when the outstanding relayed offer was made (zero: none)
	who     sip.Parties // what is known of both sides, merged over the call
}

var _ sip.SDPAnchor = (*Anchor)(nil)

// New returns an Anchor creating its calls on eng.
func New(eng *media.Engine, opts Options) *Anchor {
	a := &Anchor{eng: eng, log: opts.Logger, trunk: opts.Trunk, hangup: opts.Hangup,
		onRelease: opts.OnRelease, calls: map[string]*entry{}}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("component", "anchor")
	a.Reload(opts.Config)
	return a
}

// Reload takes the passthrough settings of cfg for calls that start from now on.
func (a *Anchor) Reload(cfg *config.Config) {
	p := &passPolicy{trunks: map[string]bool{}, userSRTP: map[string]media.SRTPPolicy{}, trunkSRTP: map[string]media.SRTPPolicy{}}
	if cfg != nil {
		p.all = cfg.Media.Anchor != nil && !*cfg.Media.Anchor
		for _, t := range cfg.Trunks {
			if t.Media == "passthrough" {
				p.trunks[t.Name] = true
			}
			if pol, err := media.ParseSRTPPolicy(t.SRTP); err == nil {
				p.trunkSRTP[t.Name] = pol
			}
		}
		for _, u := range cfg.Users {
			if pol, err := media.ParseSRTPPolicy(u.SRTP); err == nil {
				p.userSRTP[u.Extension] = pol
			}
		}
	}
	a.pass.Store(p)
}

// Peer maps what the SIP layer knows of a party onto a media peer: its signalling IP, and the
// SRTP policy of its extension (users[].srtp) or trunk (trunks[].srtp), optional by default.
// The voice App uses it for the legs it negotiates itself.
func (a *Anchor) Peer(p sip.Party) media.Peer {
	pol := a.pass.Load()
	mp := media.Peer{Signal: p.Source.Addr()}
	switch {
	case p.User != "":
		mp.SRTP = pol.userSRTP[p.User]
	case p.Trunk != "":
		mp.SRTP = pol.trunkSRTP[p.Trunk]
	}
	return mp
}

// merge adds what who knows to what the entry knew (zero fields keep the earlier value).
func merge(old, who sip.Parties) sip.Parties {
	m := func(o, n sip.Party) sip.Party {
		if n.Source.IsValid() {
			o.Source = n.Source
		}
		if n.User != "" || n.Trunk != "" {
			o.User, o.Trunk = n.User, n.Trunk
		}
		return o
	}
	return sip.Parties{A: m(old.A, who.A), B: m(old.B, who.B)}
}

// peersLocked records who on e and tells its media call (a.mu held).
func (a *Anchor) peersLocked(e *entry, who sip.Parties) {
	e.who = merge(e.who, who)
	if e.call == nil {
		return
	}
	e.call.SetPeer(media.LegA, a.Peer(e.who.A))
	e.call.SetPeer(media.LegB, a.Peer(e.who.B))
}

// passthrough decides, once per call, whether its media stays unanchored.
func (a *Anchor) passthrough(callID string) bool {
	p := a.pass.Load()
	if p.all {
		return true
	}
	if len(p.trunks) == 0 {
		return false
	}
	if a.trunk != nil {
		return p.trunks[a.trunk(callID)]
	}
	if r := a.sipc.Load(); r != nil {
		return p.trunks[r.c.CallTrunk(callID)]
	}
	return false
}

// Attach makes re-INVITEs of the SIP call callID negotiate on c, a media call owned by the
// caller (the voice App), which keeps closing it; Release(callID) only forgets the link.
func (a *Anchor) Attach(callID string, c *media.Call) {
	a.mu.Lock()
	a.calls[callID] = &entry{call: c}
	a.mu.Unlock()
}

// Calls returns how many calls the anchor tracks (anchored, passthrough and attached).
func (a *Anchor) Calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.calls)
}

// Stats returns the media figures of an anchored call in progress.
func (a *Anchor) Stats(callID string) (media.Stats, bool) {
	a.mu.Lock()
	e := a.calls[callID]
	a.mu.Unlock()
	if e == nil || e.call == nil {
		return media.Stats{}, false
	}
	return e.call.Stats(), true
}

func legOf(s sip.Side) media.Leg {
	if s == sip.SideB {
		return media.LegB
	}
	return media.LegA
}

// Offer maps an offer from side from onto the call's media (creating it on the first offer
// from A), after telling it who the sides are.
func (a *Anchor) Offer(_ context.Context, callID string, from sip.Side, who sip.Parties, body []byte) ([]byte, error) {
	a.mu.Lock()
	e := a.calls[callID]
	if e == nil {
		// The first offer of the call: from A in its INVITE, or from B in the 18x/2xx that
		// answers an INVITE without SDP (delayed offer; A answers it in its ACK).
		e = &entry{}
		if !a.passthrough(callID) {
			c, err := a.eng.NewCall(media.CallOptions{ID: callID, OnTimeout: func(_ *media.Call, l media.Leg) {
				a.timeout(callID, l)
			}})
			if err != nil {
				a.mu.Unlock()
				return nil, wrap(err)
			}
			e.call, e.owned = c, true
		}
		a.calls[callID] = e
	}
	a.peersLocked(e, who)
	c := e.call
	stale := !e.pending.IsZero() && time.Since(e.pending) > staleOffer
	a.mu.Unlock()
	if c == nil {
		return body, nil
	}
	if stale {
		c.CancelOffer()
	}
	out, err := c.OfferFrom(legOf(from), body)
	if err != nil {
		return nil, wrap(err)
	}
	a.mu.Lock()
	e.pending = time.Now()
	a.mu.Unlock()
	return out, nil
}

// Answer maps an answer from side from onto the call's media.
func (a *Anchor) Answer(_ context.Context, callID string, from sip.Side, who sip.Parties, body []byte) ([]byte, error) {
	a.mu.Lock()
	e := a.calls[callID]
	if e != nil {
		a.peersLocked(e, who)
	}
	a.mu.Unlock()
	if e == nil || e.call == nil {
		return body, nil
	}
	out, err := e.call.AnswerFrom(legOf(from), body)
	if err != nil {
		return nil, wrap(err)
	}
	a.mu.Lock()
	e.pending = time.Time{}
	a.mu.Unlock()
	if out == nil { // an answer to ccswitch's own offer: nothing to forward
		return body, nil
	}
	return out, nil
}

// CancelOffer forgets the offer relayed for callID when the other side refused it (a 4xx to
// a re-INVITE, or no answer): the negotiation in force stays, and the next offer is taken.
// Without it a refused offer blocks new ones for staleOffer (33 s).
func (a *Anchor) CancelOffer(callID string) {
	a.mu.Lock()
	e := a.calls[callID]
	if e != nil {
		e.pending = time.Time{}
	}
	a.mu.Unlock()
	if e != nil && e.call != nil {
		e.call.CancelOffer()
	}
}

// Release forgets the call and closes its media (unless it is attached).
func (a *Anchor) Release(callID string) {
	a.mu.Lock()
	e := a.calls[callID]
	delete(a.calls, callID)
	a.mu.Unlock()
	if e == nil || e.call == nil || !e.owned {
		return
	}
	if a.onRelease != nil {
		a.onRelease(callID, e.call.Stats())
	}
	e.call.Close()
}

func (a *Anchor) timeout(callID string, l media.Leg) {
	a.log.Info("RTP timeout: ending call", "call_id", callID, "leg", l.String())
	hangup := a.hangup
	if hangup == nil {
		if r := a.sipc.Load(); r != nil {
			hangup = r.c.Hangup
		}
	}
	if hangup == nil {
		a.log.Warn("RTP timeout but no Hangup hook: closing media only", "call_id", callID)
		go a.Release(callID)
		return
	}
	go hangup(callID)
}

// Error is an anchoring failure with the SIP status it calls for.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("anchor: %v (SIP %d)", e.Err, e.Code) }
func (e *Error) Unwrap() error { return e.Err }

// SIPStatus is the final response the B2BUA should give the request that carried the body.
func (e *Error) SIPStatus() int { return e.Code }

func wrap(err error) error {
	return &Error{Code: Status(err), Err: err}
}

// Status maps a media error to a SIP status: 488 no common codec, unusable SDP or SRTP
// refused (required and not offered, no usable crypto), 503 RTP
// ports exhausted, 491 an offer is already pending, 500 anything else.
func Status(err error) int {
	switch {
	case err == nil:
		return 200
	case errors.Is(err, media.ErrNoCommonCodec), errors.Is(err, media.ErrBadSDP),
		errors.Is(err, media.ErrSRTPRequired), errors.Is(err, media.ErrNoCommonCrypto):
		return 488
	case errors.Is(err, media.ErrNoPorts):
		return 503
	case errors.Is(err, media.ErrOfferPending):
		return 491
	}
	return 500
}
