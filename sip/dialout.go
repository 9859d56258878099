package sip

import (
	"context"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip/validate"
	gsip "github.com/emiago/sipgo/sip"
)

// outboundRoute is the decision for an extension's call to a number that is not ours: an
// emergency number goes through the emergency trunk whatever the extension's rights; any
// other needs the extension's outbound right and a dialable number, and takes the first
// healthy trunk whose prefixes allow it (prefer, when it is such a trunk, is tried first). The
// outbound trunk's slot is taken on hold. code != 0 is the refusal. A dialled INVITE and
// Server.DialNumber (callbacks) both decide here: there is no second permission check.
func (s *Server) outboundRoute(r *routing, hold *callHold, user *config.User, dialled, prefer string) (out *trunk, emergency bool, code int, why string) {
	if s.lim.Emergency(dialled) {
		// Any authenticated extension, whatever its outbound right and limits.
		hold.Emergency(user.Extension)
		if out = s.emergencyTrunk(r); out == nil {
			return nil, true, 503, "Service Unavailable"
		}
		hold.Trunk(out.cfg.Name)
		return out, true, 0, ""
	}
	if !user.Outbound {
		return nil, false, 403, "Forbidden"
	}
	if !isNumber(dialled) {
		return nil, false, 404, "Not Found"
	}
	if prefer != "" {
		if t, _ := r.outboundTrunk(dialled, func(t *trunk) bool { return t.cfg.Name == prefer && hold.Trunk(t.cfg.Name) }); t != nil {
			return t, false, 0, ""
		}
	}
	t, down := r.outboundTrunk(dialled, func(t *trunk) bool { return hold.Trunk(t.cfg.Name) })
	switch {
	case t != nil:
		return t, false, 0, ""
	case down:
		return nil, false, 503, "Service Unavailable"
	}
	return nil, false, 404, "No Route"
}

// NumberDial is an outbound call ccswitch places itself (a queue's callback) to a number
// through a trunk, on behalf of an extension.
type NumberDial struct {
	// For is the extension the call is placed for (the agent taking the callback): its
	// outbound right, destination rules, call rate, concurrent calls and daily minutes apply,
	// exactly as to a call it dials.
	For string
	// Number is the number called.
	Number string
	// CallerID is the user part of our From (the number the customer once dialled).
	CallerID   string
	CallerName string
	// Trunk is tried first when it can carry the number (the trunk the customer's call came
	// in on); "" or unusable: the usual choice.
	Trunk string
	// SDP is the offer (from the media package).
	SDP []byte
	// Timeout bounds the ringing (default sip.ring_timeout).
	Timeout time.Duration
	// Parent names the call this one serves, for the call record.
	Parent string
}

// DialNumber places d through the outbound decision a dialled INVITE takes (outboundRoute and
// the per-call limits), and returns the answered leg (side B; ACKed) or a *DialError: Code
// 403/404/503 (Cause "refused") when the decision or a limit refuses it, else why it was not
// answered. Emergency numbers are refused (a callback never dials one). The minutes of the
// call count against d.For from the answer.
func (s *Server) DialNumber(ctx context.Context, d NumberDial) (*Leg, error) {
	r := s.routes.Load()
	user := r.users[d.For]
	if user == nil {
		return nil, &DialError{Code: 404, Cause: "not-found"}
	}
	c := s.newCall(nil, "outbound", "")
	c.mu.Lock()
	c.rec.From, c.rec.To, c.rec.Parent = d.CallerID, d.Number, d.Parent
	c.mu.Unlock()
	hold := s.newHold()
	hold.bind(c)
	if s.lim.Emergency(d.Number) {
		c.end(403, "rejected")
		return nil, &DialError{Code: 403, Cause: "refused"}
	}
	out, _, code, _ := s.outboundRoute(r, hold, user, d.Number, d.Trunk)
	if code == 0 {
		if ref := s.admit(hold, origin{user: user}, d.Number, "", out, false); ref != nil {
			code = ref.Code
		}
	}
	if code != 0 {
		c.end(code, "rejected")
		return nil, &DialError{Code: code, Cause: "refused"}
	}
	c.mu.Lock()
	c.rec.Trunk = out.cfg.Name
	c.mu.Unlock()
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = r.ringTime
	}
	u := *out.out
	u.User = d.Number
	targets := []target{{uri: u, transport: out.transport, trunk: out, to: gsip.Uri{Scheme: "sip", User: d.Number, Host: u.Host, Port: u.Port}}}
	spec := &ringSpec{
		fromUser: validate.Sanitize(d.CallerID), fromName: validate.Sanitize(d.CallerName),
		body: d.SDP, maxForwards: 70, timeout: timeout,
	}
	if spec.fromUser == "" {
		spec.fromUser = "ccswitch"
	}
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.runCtx, cancel)
	c.mu.Lock()
	c.stopRing = cancel
	c.mu.Unlock()
	res := s.ring(rctx, targets, spec)
	stop()
	cancel()
	if !res.won {
		if ctx.Err() != nil {
			c.end(487, "cancelled")
			return nil, &DialError{Code: 487, Cause: "cancelled"}
		}
		code, _, cause := failure(res, true)
		c.end(code, cause)
		return nil, &DialError{Code: code, Cause: cause}
	}
	leg := newLeg(s, c, SideB)
	leg.cli = res.dlg
	leg.sdp = res.dlg.InviteResponse.Body()
	leg.party = Party{Source: sourceOf(res.dlg.InviteResponse), Trunk: out.cfg.Name}
	c.addLeg(leg, res.t.uri.String(), c.rec.Start, res.dlg.InviteRequest.CallID().Value())
	c.answered(leg, res.code)
	c.mu.Lock()
	c.rec.Code = res.code
	c.rec.Answer = time.Now()
	c.mu.Unlock()
	hold.Answered() // minutes count from the answer (limit invariant 5)
	res.dlg.Ack(context.Background())
	leg.register()
	return leg, nil
}
