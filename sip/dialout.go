package sip

import (
	"context"
	"time"

	"github.com/ccswitch/ccswitch/sip/route"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// DialOutRequest asks the B2BUA to reach a number on an extension's behalf (click-to-dial, a
// queue callback, a transfer to a number): the same decision, limits, trunks, failover and
// caller ID as the extension dialling it from its phone.
type DialOutRequest struct {
	// As is the extension whose rights apply (outbound, class, limits, caller ID). Required.
	As string
	// Number is what is dialled: an extension, one of our numbers routed to an extension, or
	// an external number (through a trunk, if As may call it).
	Number string
	// SDP is the offer sent (from the media package); nil for none.
	SDP []byte
	// Timeout bounds the ringing (default: sip.ring_timeout).
	Timeout time.Duration
	// OnProgress, if set, sees each 18x (code and SDP).
	OnProgress func(code int, sdp []byte)
	// Parent is the call this dial serves, as in DialRequest.
	Parent string
	// CallerID, if set, is the number presented instead of As's own caller ID (a queue's
	// callback presents the DID the customer once dialled); normalised per trunk as any.
	CallerID string
	// Trunk, if set and among the trunks the decision allows, is tried first (a callback
	// goes out through the trunk the customer's call came in on).
	Trunk string
	// NoEmergency refuses an emergency number (403) instead of routing it (callbacks).
	NoEmergency bool
}

// DialOut places a call as req.As to req.Number and returns the answered leg (side B; ACKed),
// like Dial. What the number is, and whether As may reach it, is Server.Decide's answer: a
// refusal is a *DialError with the decision's status and cause ("forbidden", "no-route",
// "destination", ...), counted and logged as a refused INVITE would be. Numbers of ours that
// run a flow are refused (404): a flow answers callers, it does not ring. Limits (call rate,
// concurrent calls, daily minutes, trunk max_calls) apply as for a dialled call.
func (s *Server) DialOut(ctx context.Context, req DialOutRequest) (*Leg, error) {
	rq := route.Request{User: req.As, Dialled: req.Number}
	d := s.Decide(rq)
	r := s.routes.Load()
	if d.Kind == route.Emergency && req.NoEmergency {
		d = route.Decision{Kind: route.Refuse, Status: 403, Reason: "Forbidden", Cause: "emergency"}
	}
	switch d.Kind {
	case route.Extension:
		u := r.users[req.As]
		return s.Dial(ctx, DialRequest{Extension: d.Extension, CallerID: req.As, CallerName: u.Name, SDP: req.SDP,
			Timeout: req.Timeout, OnProgress: req.OnProgress, Parent: req.Parent})
	case route.Trunk, route.Emergency:
	case route.Refuse:
		s.refusedDial(rq, d)
		return nil, &DialError{Code: d.Status, Cause: d.Cause, Refused: true}
	default: // a feature code or a flow number: nothing to ring
		d = route.Decision{Kind: route.Refuse, Status: 404, Reason: "Not Found", Cause: route.CauseNotFound}
		s.refusedDial(rq, d)
		return nil, &DialError{Code: 404, Cause: route.CauseNotFound, Refused: true}
	}
	from := origin{user: r.users[req.As]}
	if req.CallerID != "" {
		u := *from.user
		u.CallerID, u.HideCallerID = req.CallerID, false
		from.user = &u
	}
	if req.Trunk != "" {
		d.Trunks = preferTrunk(d.Trunks, req.Trunk)
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = r.ringTime
	}
	c := s.newCall(nil, "outbound", d.Trunks[0])
	c.mu.Lock()
	c.rec.From, c.rec.To, c.rec.Parent = req.As, req.Number, req.Parent
	c.mu.Unlock()
	hold := s.newHold()
	hold.bind(c)
	if d.Kind == route.Emergency {
		hold.Emergency(req.As)
	} else if ref := hold.Caller(req.As, req.Number, true); ref != nil {
		c.end(ref.Code, "rejected")
		return nil, &DialError{Code: ref.Code, Cause: ref.Limit, Refused: true}
	}
	out := takeTrunk(r, hold, d.Trunks)
	if out == nil {
		c.end(503, "rejected")
		return nil, &DialError{Code: 503, Cause: "trunk-full", Refused: true}
	}
	if out.cfg.Name != d.Trunks[0] {
		c.mu.Lock()
		c.rec.Trunk = out.cfg.Name
		c.mu.Unlock()
	}
	spec := &ringSpec{fromUser: validate.Sanitize(req.As), fromName: validate.Sanitize(from.user.Name), body: req.SDP,
		maxForwards: 70, timeout: timeout}
	if req.OnProgress != nil {
		spec.onProvisional = func(res *gsip.Response) { req.OnProgress(res.StatusCode, res.Body()) }
	}
	return s.placeCall(ctx, c, Party{}, true, func(ctx context.Context) forkResult {
		return s.ringOut(ctx, r, c, hold, out, d, from, spec)
	})
}

// placeCall rings c's INVITE (ring; the call's stopRing and shutdown cancel it) and makes the
// answered leg: side B, ACKed with the INVITE's CSeq, registered, its session timer running
// (Dial and DialOut). An unanswered call ends with the status a caller would get (toTrunk:
// as for a trunk's failure); party is side B, with the answering trunk and source filled in.
func (s *Server) placeCall(ctx context.Context, c *call, party Party, toTrunk bool, ring func(context.Context) forkResult) (*Leg, error) {
	rctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.runCtx, cancel)
	c.mu.Lock()
	c.stopRing = cancel
	c.mu.Unlock()
	res := ring(rctx)
	stop()
	cancel()
	if !res.won {
		if ctx.Err() != nil {
			c.end(487, "cancelled")
			return nil, &DialError{Code: 487, Cause: "cancelled"}
		}
		code, _, cause := failure(res, toTrunk)
		c.end(code, cause)
		return nil, &DialError{Code: code, Cause: cause}
	}
	leg := newLeg(s, c, SideB)
	leg.cli = res.dlg
	leg.sdp = res.dlg.InviteResponse.Body()
	leg.party = party
	leg.party.Source = sourceOf(res.dlg.InviteResponse)
	if res.t.trunk != nil {
		leg.party.Trunk = res.t.trunk.cfg.Name
	}
	c.addLeg(leg, res.t.uri.String(), c.rec.Start, res.dlg.InviteRequest.CallID().Value())
	c.answered(leg, res.code)
	c.mu.Lock()
	c.rec.Code = res.code
	c.rec.Answer = time.Now()
	c.mu.Unlock()
	s.ackInitial(leg, nil)
	leg.register()
	s.startTimer(leg, timerForB(res.dlg.InviteResponse))
	return leg, nil
}

// refusedDial counts and logs a DialOut the decision refused.
func (s *Server) refusedDial(rq route.Request, d route.Decision) {
	s.trunkm.refusals.WithLabelValues(d.Cause).Inc()
	s.refusals.Info("route|"+d.Cause+"|"+rq.User+"|dial", "dial refused by routing",
		"user", validate.Sanitize(truncate(rq.User, 40)), "dialled", validate.Sanitize(truncate(rq.Dialled, 40)),
		"status", d.Status, "cause", d.Cause)
}

// preferTrunk moves name to the front of trunks when it is there (the decision's trunks stay
// the only ones tried).
func preferTrunk(trunks []string, name string) []string {
	for i, t := range trunks {
		if t == name {
			out := append([]string{name}, trunks[:i]...)
			return append(out, trunks[i+1:]...)
		}
	}
	return trunks
}
