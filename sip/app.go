package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/config"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// Incoming is a caller's leg handed to an App before it is answered.
type Incoming struct {
	s       *Server
	user    string // authenticated extension, "" for trunks
	c       *call
	leg     *Leg
	req     *gsip.Request
	dialled Dialled
	mu      sync.Mutex
	final   bool
}

// DialledKind says what kind of thing a caller dialled.
type DialledKind uint8

const (
	// DialledNumber: one of our numbers whose calls run a flow (Dialled.Number).
	DialledNumber DialledKind = iota + 1
	// DialledFeature: a feature code ("*45") dialled by an authenticated extension
	// (Dialled.Code; Incoming.User is the extension).
	DialledFeature
)

// Dialled is what the caller dialled, as the B2BUA understood it.
type Dialled struct {
	Kind DialledKind
	// Number is the dialled number's configuration (its Flow, Language, schedule), for
	// DialledNumber.
	Number config.Number
	// Code is the feature code, for DialledFeature.
	Code string
}

// CallID is ccswitch's ID of the call (its record's ID; Leg.CallID once answered).
func (in *Incoming) CallID() string { return in.c.id }

// Dialled returns what the caller dialled.
func (in *Incoming) Dialled() Dialled { return in.dialled }

// Caller returns the caller's number, a hint for display and the screen pop, never a key
// that merges customers: the authenticated extension; for a trunk's call its
// P-Asserted-Identity or Remote-Party-ID (believed from trunks only, RFC 3325), else its From
// user, in E.164 when the trunk normalises numbers (trunkcall.go).
func (in *Incoming) Caller() string { return in.s.callerOf(in.c, in.req, in.user) }

// Diverted returns the number a trunk's call was first addressed to before the network
// diverted it (Diversion, else History-Info), "" when none or when the call is not from a
// trunk (RFC 3325: those headers are believed from trunks only). A hint, like Caller.
func (in *Incoming) Diverted() string { return in.s.divertedOf(in.c, in.req, in.user) }

// Party returns who the caller is: the INVITE's source address and the authenticated
// extension or the trunk (for the media's SetPeer).
func (in *Incoming) Party() Party { return in.leg.party }

// Offer returns the caller's SDP offer (nil if the INVITE had none).
func (in *Incoming) Offer() []byte { return in.req.Body() }

// Progress sends a provisional response (180, or 183 with early-media SDP).
func (in *Incoming) Progress(code int, sdp []byte) error {
	if code < 180 || code > 199 {
		return fmt.Errorf("sip: progress: %d is not a 18x", code)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.final {
		return errors.New("sip: progress after final answer")
	}
	var hdrs []gsip.Header
	if len(sdp) > 0 {
		hdrs = append(hdrs, gsip.NewHeader("Content-Type", "application/sdp"))
	}
	return in.s.progressA(in.c, in.leg, code, reasonFor(code), sdp, hdrs...)
}

// Answer sends 200 with sdp and returns once the caller ACKed; the Leg then lives until a
// BYE (either way).
func (in *Incoming) Answer(sdp []byte) (*Leg, error) {
	in.mu.Lock()
	if in.final {
		in.mu.Unlock()
		return nil, errors.New("sip: answer after final answer")
	}
	in.final = true
	in.c.mu.Lock()
	in.c.aFinal = true
	in.c.rec.Code = 200
	in.c.mu.Unlock()
	in.mu.Unlock()
	in.leg.register()
	in.c.answered(in.leg, 200)
	var hdrs []gsip.Header
	if len(sdp) > 0 {
		hdrs = append(hdrs, gsip.NewHeader("Content-Type", "application/sdp"))
	}
	timer := in.s.timerForA(in.req)
	hdrs = append(hdrs, timerHeaders(timer, true)...)
	hdrs = append(hdrs, gsip.NewHeader("Supported", supportedTags))
	if err := in.leg.srv.Respond(200, "OK", sdp, hdrs...); err != nil {
		in.leg.finish(context.Background(), false, "no-ack")
		return nil, err
	}
	in.s.startTimer(in.leg, timer)
	return in.leg, nil
}

// Reject gives the caller a final failure (4xx–6xx).
func (in *Incoming) Reject(code int, reason string) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sip: reject: %d is not a failure code", code)
	}
	in.mu.Lock()
	if in.final {
		in.mu.Unlock()
		return errors.New("sip: reject after final answer")
	}
	in.final = true
	in.mu.Unlock()
	in.s.finalA(in.c, in.leg, code, validate.Sanitize(reason), "rejected")
	return nil
}

func reasonFor(code int) string {
	switch code {
	case 180:
		return "Ringing"
	case 181:
		return "Call Is Being Forwarded"
	case 182:
		return "Queued"
	case 183:
		return "Session Progress"
	}
	return "Progress"
}

// serveApp hands a flow number's call, or an extension's feature code, to the App, and makes
// sure the caller gets a final answer.
func (s *Server) serveApp(c *call, legA *Leg, req *gsip.Request, d Dialled, user string) {
	if s.app == nil {
		s.finalA(c, legA, 480, "Temporarily Unavailable", "no-app")
		return
	}
	if d.Kind == DialledNumber {
		c.mu.Lock()
		c.rec.Flow = d.Number.Flow
		c.mu.Unlock()
	}
	in := &Incoming{s: s, c: c, leg: legA, req: req, dialled: d, user: user}
	ctx, cancel := context.WithCancel(legA.srv.Context())
	defer cancel()
	stop := context.AfterFunc(s.runCtx, cancel)
	defer stop()
	s.app.ServeCall(ctx, in)
	in.mu.Lock()
	done := in.final
	in.mu.Unlock()
	if !done {
		in.Reject(480, "Temporarily Unavailable")
	}
}

// DialRequest asks the B2BUA to ring an extension on behalf of another component (the ACD
// ringing an agent).
type DialRequest struct {
	Extension  string
	CallerID   string // user part of our From (caller's number)
	CallerName string
	// SDP is the offer sent to the extension (from the media package); nil for none.
	SDP []byte
	// Timeout bounds the ringing (default: sip.ring_timeout).
	Timeout time.Duration
	// OnProgress, if set, sees each 18x (code and SDP) from the extension's contacts.
	OnProgress func(code int, sdp []byte)
	// Parent is the call this dial serves (the queued caller's, as Leg.CallID gives it): the
	// dial's record names it, so that the agent leg is folded into the caller's record.
	Parent string
}

// DialError says why a Dial did not answer.
type DialError struct {
	Code  int    // SIP status the B2BUA would give a caller: 486, 480, 404, 603...
	Cause string // "busy", "no-answer", "unavailable", "not-found", "cancelled"
	// Refused: ccswitch itself refused the call (routing decision or a limit); nothing rang.
	Refused bool
}

func (e *DialError) Error() string { return fmt.Sprintf("sip: dial: %s (%d)", e.Cause, e.Code) }

// Dial rings every contact of an extension (first answer wins; the others are
// CANCELled) and returns the answered leg (side B; ACKed). Cancelling ctx before an
// answer CANCELs all contacts and returns a DialError with Cause "cancelled". Use Bridge
// to tie the leg to another, or Leg.Hangup.
func (s *Server) Dial(ctx context.Context, d DialRequest) (*Leg, error) {
	r := s.routes.Load()
	if r.users[d.Extension] == nil {
		return nil, &DialError{Code: 404, Cause: "not-found"}
	}
	targets := s.contacts(r, d.Extension)
	if len(targets) == 0 {
		return nil, &DialError{Code: 480, Cause: "unavailable"}
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = r.ringTime
	}
	c := s.newCall(nil, "dial", "")
	c.mu.Lock()
	c.rec.From, c.rec.To, c.rec.Parent = d.CallerID, d.Extension, d.Parent
	c.mu.Unlock()
	s.newHold().bind(c)
	if r := c.hold.Callee(d.Extension); r != nil {
		c.end(r.Code, "busy")
		return nil, &DialError{Code: r.Code, Cause: "busy"}
	}
	spec := &ringSpec{
		fromUser: validate.Sanitize(d.CallerID), fromName: validate.Sanitize(d.CallerName),
		body: d.SDP, maxForwards: 70, timeout: timeout,
	}
	if spec.fromUser == "" {
		spec.fromUser = "ccswitch"
	}
	if d.OnProgress != nil {
		spec.onProvisional = func(res *gsip.Response) { d.OnProgress(res.StatusCode, res.Body()) }
	}
	return s.placeCall(ctx, c, Party{User: d.Extension}, false, func(ctx context.Context) forkResult {
		return s.ring(ctx, targets, spec)
	})
}

// Bridge ties two answered legs: a BYE or re-INVITE on one is relayed to the other.
// Media is not touched here (the SDPAnchor / media package connects the RTP).
func (s *Server) Bridge(a, b *Leg) error {
	if a.ended.Load() || b.ended.Load() {
		return errors.New("sip: bridge: leg already ended")
	}
	if !a.peer.CompareAndSwap(nil, b) {
		return errors.New("sip: bridge: leg already bridged")
	}
	if !b.peer.CompareAndSwap(nil, a) {
		a.peer.Store(nil)
		return errors.New("sip: bridge: leg already bridged")
	}
	return nil
}

// Hangup ends the call with our id callID (as given to SDPAnchor and Leg.CallID): BYE to
// every answered leg, and a ringing call stops ringing. It is what the media anchor calls
// when RTP stops. Unknown ids are ignored.
func (s *Server) Hangup(callID string) {
	if v, ok := s.calls.Load(callID); ok {
		v.(*call).stop("hangup")
	}
}

// CallTrunk returns the name of the trunk a call came from or goes to ("" for calls
// between extensions), for per-trunk media policy.
func (s *Server) CallTrunk(callID string) string {
	v, ok := s.calls.Load(callID)
	if !ok {
		return ""
	}
	c := v.(*call)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.Trunk
}

// ActiveCalls returns the number of answered calls (each counted once).
func (s *Server) ActiveCalls() int {
	n := 0
	s.legs.Range(func(_, v any) bool {
		if v.(*Leg).side == SideA {
			n++
		}
		return true
	})
	return n
}
