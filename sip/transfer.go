package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// Call transfer (RFC 3515 REFER, RFC 3891 Replaces, RFC 4488 Refer-Sub). A party X in a
// call with Y (the transferee, X's bridged peer) sends REFER on its leg:
//
//   - blind: Refer-To names a target T. T is routed as if X had dialled it (decide: the same
//     authentication, outbound right, emergency and limits as X's own INVITE); ccswitch rings T
//     with an INVITE without SDP, T's offer is anchored into a re-INVITE to Y, Y's answer into
//     T's ACK, and Y is bridged to T;
//   - attended: Refer-To carries Replaces naming X's other dialog with ccswitch (X's call with
//     T, X on hold or not); T is re-INVITEd without SDP and joined to Y the same way.
//
// X gets 202 and NOTIFYs with a message/sipfrag body (100 Trying, then the final status);
// then ccswitch ends X's legs (BYE). A failed blind transfer leaves X and Y bridged.
//
// No open relay: a REFER from an extension's leg must authenticate (407) as that extension;
// one from a trunk's leg reaches only our numbers (as a carrier's INVITE); Refer-To must name
// ccswitch (its host, public_host or realm; with a port, one it listens on), never another
// host or a trunk's address; Replaces may only name a dialog of the same extension.

// mediaRef names the anchor call and side a leg's SDP is negotiated on: its own call and
// side, until a transfer joins it to another call's media.
type mediaRef struct {
	id   string
	side Side
}

func (l *Leg) mediaRef() mediaRef {
	if m := l.media.Load(); m != nil {
		return *m
	}
	return mediaRef{id: l.call.id, side: l.side}
}

func (sd Side) other() Side {
	if sd == SideA {
		return SideB
	}
	return SideA
}

// OnTransferred sets the function called when the remote party of this leg transferred its
// peer away (REFER): to is the leg that now carries the peer's call (bridged to it), and this
// leg is about to end with a BYE. The voice App uses it to follow an agent's transfer.
func (l *Leg) OnTransferred(f func(to *Leg)) {
	if f == nil {
		l.transferred.Store(nil)
		return
	}
	l.transferred.Store(&f)
}

// referTarget is a parsed Refer-To.
type referTarget struct {
	uri      gsip.Uri
	replaces string // the Replaces header of the URI, unescaped ("" for a blind transfer)
}

// parseReferTo reads the one Refer-To header (RFC 3515 §2.1).
func parseReferTo(req *gsip.Request) (referTarget, error) {
	hs := req.GetHeaders("Refer-To")
	if len(hs) == 0 {
		hs = req.GetHeaders("r")
	}
	if len(hs) != 1 {
		return referTarget{}, fmt.Errorf("sip: refer: %d Refer-To headers", len(hs))
	}
	var t referTarget
	params := gsip.NewParams()
	if _, err := gsip.ParseAddressValue(hs[0].Value(), &t.uri, &params); err != nil {
		return referTarget{}, fmt.Errorf("sip: refer: Refer-To: %w", err)
	}
	if t.uri.Scheme != "sip" && t.uri.Scheme != "sips" {
		return referTarget{}, fmt.Errorf("sip: refer: Refer-To scheme %q", t.uri.Scheme)
	}
	if t.uri.Headers != nil {
		for _, k := range t.uri.Headers.Keys() {
			if !strings.EqualFold(k, "Replaces") {
				continue
			}
			v, _ := t.uri.Headers.Get(k)
			u, err := url.QueryUnescape(v)
			if err != nil {
				return referTarget{}, fmt.Errorf("sip: refer: Replaces: %w", err)
			}
			t.replaces = u
		}
	}
	return t, nil
}

// ours reports whether a Refer-To URI names ccswitch: its advertised host or realm (any
// port, or none), or a host and port it listens on.
func (s *Server) ours(u gsip.Uri) bool {
	h := strings.Trim(u.Host, "[]")
	self := s.self.Load()
	if u.Port != 0 {
		return self != nil && self.has(h, u.Port)
	}
	if strings.EqualFold(h, strings.Trim(s.host, "[]")) || strings.EqualFold(h, s.realm) {
		return true
	}
	for _, a := range s.Addrs() {
		_, p, _ := net.SplitHostPort(a.String())
		port, _ := strconv.Atoi(p)
		if self != nil && self.has(h, port) {
			return true
		}
	}
	return false
}

// onRefer handles an in-dialog REFER.
func (s *Server) onRefer(req *gsip.Request, tx gsip.ServerTransaction) {
	l := s.lookup(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := l.readRequest(req, tx); err != nil {
		respond(tx, req, 500, "Out Of Order")
		return
	}
	r := s.routes.Load()
	var from origin
	switch {
	case l.party.User != "":
		// The same authentication as a dialled call: the extension on this leg, by digest.
		name, ok := s.authenticate(req, tx)
		if !ok {
			return
		}
		if name != l.party.User || r.users[name] == nil {
			s.refuseTransfer(req, tx, l, 403, "Forbidden", "not-the-leg-owner")
			return
		}
		from.user = r.users[name]
	case l.party.Trunk != "":
		for _, t := range r.trunks {
			if t.cfg.Name == l.party.Trunk {
				from.trunk = t
			}
		}
		if from.trunk == nil {
			s.refuseTransfer(req, tx, l, 403, "Forbidden", "unknown-trunk")
			return
		}
	default:
		s.refuseTransfer(req, tx, l, 403, "Forbidden", "unknown-party")
		return
	}
	target, err := parseReferTo(req)
	if err != nil {
		s.refuseTransfer(req, tx, l, 400, "Bad Refer-To", "bad-refer-to")
		return
	}
	if !s.ours(target.uri) {
		// Another host, or a trunk's address: ccswitch relays to nobody.
		s.refuseTransfer(req, tx, l, 403, "Forbidden", "foreign-host")
		return
	}
	y := l.peer.Load()
	if y == nil || y.ended.Load() {
		s.refuseTransfer(req, tx, l, 603, "Decline", "no-transferee")
		return
	}
	if target.replaces != "" {
		s.attendedTransfer(req, tx, l, y, from, target.replaces)
		return
	}
	s.blindTransfer(req, tx, l, y, from, r, target.uri.User)
}

// refuseTransfer answers a REFER with a refusal, counted and logged.
func (s *Server) refuseTransfer(req *gsip.Request, tx gsip.ServerTransaction, l *Leg, code int, reason, why string) {
	s.metrics.transfers.WithLabelValues(why).Inc()
	s.refusals.Warn("refer|"+why+"|"+sourceIP(req), "REFER refused",
		"source", req.Source(), "call_id", l.call.id, "reason", why, "status", code)
	respond(tx, req, code, reason)
}

// accept answers a REFER 202 and reports whether NOTIFYs are wanted (Refer-Sub: false,
// RFC 4488, asks for none).
func accept(req *gsip.Request, tx gsip.ServerTransaction) bool {
	sub := true
	if h := req.GetHeader("Refer-Sub"); h != nil && strings.EqualFold(strings.TrimSpace(h.Value()), "false") {
		sub = false
	}
	if sub {
		respond(tx, req, 202, "Accepted")
	} else {
		respond(tx, req, 202, "Accepted", gsip.NewHeader("Refer-Sub", "false"))
	}
	return sub
}

// notifyRefer tells the transferor how its transfer goes (RFC 3515 §2.4.5): a sipfrag of
// the status line; final ends the implicit subscription.
func (s *Server) notifyRefer(l *Leg, code int, reason string, final bool) {
	if l.ended.Load() {
		return
	}
	n := gsip.NewRequest(gsip.NOTIFY, l.remoteTarget())
	n.SetTransport(l.transport())
	n.AppendHeader(gsip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	n.AppendHeader(gsip.NewHeader("Subscription-State", state))
	n.AppendHeader(gsip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	n.SetBody([]byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", code, validate.Sanitize(reason))))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	tx, err := l.transactionRequest(ctx, n)
	if err != nil {
		return
	}
	defer tx.Terminate()
	awaitFinal(ctx, tx)
}

// blindTransfer rings target for X (leg x) and joins Y to it.
func (s *Server) blindTransfer(req *gsip.Request, tx gsip.ServerTransaction, x, y *Leg, from origin, r *routing, dialled string) {
	p, code, why := s.planTransfer(r, from, dialled)
	if code != 0 {
		s.refuseTransfer(req, tx, x, code, why, "route-"+strconv.Itoa(code))
		return
	}
	sub := accept(req, tx)
	s.metrics.transfers.WithLabelValues("blind").Inc()
	notify := func(code int, reason string, final bool) {
		if sub {
			s.notifyRefer(x, code, reason, final)
		}
	}
	notify(100, "Trying", false)
	code, reason := s.runTransfer(x, y, p, r)
	notify(code, reason, true)
	if code == 200 {
		x.finish(context.Background(), true, "transferred")
	}
}

// Transfer moves the peer of leg (an answered leg bridged to another) to target, as if leg's
// remote party had sent a blind REFER: the desktop's Transfer button. target (an extension or
// a number) is routed as if extension as dialled it — decide: its outbound right, emergency
// numbers, limits. Transfer returns once the target answered and was joined (leg then ends
// with a BYE), or a *DialError when the target was refused or did not answer (leg and its
// peer stay bridged).
func (s *Server) Transfer(leg *Leg, as, target string) error {
	r := s.routes.Load()
	u := r.users[as]
	if u == nil {
		return &DialError{Code: 403, Cause: "forbidden"}
	}
	y := leg.peer.Load()
	if y == nil || y.ended.Load() || leg.ended.Load() {
		return &DialError{Code: 481, Cause: "no-call"}
	}
	p, code, _ := s.planTransfer(r, origin{user: u}, validate.Sanitize(target))
	if code != 0 {
		s.metrics.transfers.WithLabelValues("route-" + strconv.Itoa(code)).Inc()
		return &DialError{Code: code, Cause: "refused"}
	}
	s.metrics.transfers.WithLabelValues("blind").Inc()
	code, reason := s.runTransfer(leg, y, p, r)
	if code != 200 {
		return &DialError{Code: code, Cause: reason}
	}
	leg.finish(context.Background(), true, "transferred")
	return nil
}

// transferPlan is a routed blind-transfer target.
type transferPlan struct {
	targets []target
	callee  Party
	toTrunk bool
	hold    *callHold
	// out and from, for a target through a trunk: the caller ID it presents is the one a
	// call the transferor dialled would (outSpec: users[].caller_id, trunks[].caller_id).
	out       *trunk
	from      origin
	emergency bool
}

// planTransfer routes a blind transfer's target with decide, the check of a dialled call; a
// non-zero code refuses it.
func (s *Server) planTransfer(r *routing, from origin, dialled string) (*transferPlan, int, string) {
	hold := s.newHold()
	d := s.decide(r, from, dialled, dialled, hold)
	if d.code == 0 && (d.feature != "" || d.num != nil && d.num.Target == "") {
		d.code, d.why = 501, "Not Implemented" // feature codes and flow numbers: not a transfer target yet
	}
	if d.code != 0 {
		hold.Release()
		return nil, d.code, d.why
	}
	p := &transferPlan{callee: Party{User: d.ext}, hold: hold}
	if d.out != nil {
		number := d.route.Number // normalised for the trunk by the decision
		if number == "" {
			number = dialled
		}
		p.targets = s.trunkTargets(s.runCtx, d.out, d.out.outboundNumber(number))
		p.callee, p.toTrunk = Party{Trunk: d.out.cfg.Name}, true
		p.out, p.from, p.emergency = d.out, from, d.emergency
	} else {
		p.targets = s.contacts(r, d.ext)
	}
	return p, 0, ""
}

// runTransfer rings a planned target with an INVITE without SDP and joins Y to it in place
// of X; it returns the final status for the transferor (200: done; X is left to the caller).
func (s *Server) runTransfer(x, y *Leg, p *transferPlan, r *routing) (int, string) {
	if len(p.targets) == 0 {
		p.hold.Release()
		return 480, "Temporarily Unavailable"
	}
	c := x.call
	fromUser, fromName := y.identity()
	spec := &ringSpec{fromUser: validate.Sanitize(fromUser), fromName: validate.Sanitize(fromName), maxForwards: 70, timeout: r.ringTime}
	if p.out != nil {
		spec = s.outSpec(spec, p.from, p.out, p.emergency)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(s.runCtx, cancel)
	defer stop()
	go func() {
		select {
		case <-y.done: // the transferee left: stop ringing
			cancel()
		case <-ctx.Done():
		}
	}()
	res := s.ring(ctx, p.targets, spec)
	if !res.won {
		p.hold.Release()
		code, reason, _ := failure(res, p.toTrunk)
		if y.ended.Load() {
			code, reason = 487, "Request Terminated"
		}
		return code, reason
	}
	c.addHold(p.hold.Hold)
	t := newLeg(s, c, x.side)
	t.cli = res.dlg
	t.sdp = res.dlg.InviteResponse.Body()
	t.party = p.callee
	t.party.Source = sourceOf(res.dlg.InviteResponse)
	yr := y.mediaRef()
	t.media.Store(&mediaRef{id: yr.id, side: yr.side.other()})
	c.addLeg(t, res.t.uri.String(), time.Now(), res.dlg.InviteRequest.CallID().Value())
	c.answered(t, res.code)
	t.register()
	if err := s.join(y, t, true); err != nil {
		s.log.Info("transfer: joining the target failed", "call_id", c.id, "error", err)
		t.finish(context.Background(), true, "transfer-failed")
		return 500, "Server Internal Error"
	}
	s.handOver(x, y, t)
	s.startTimer(t, timerForB(t.cli.InviteResponse))
	return 200, "OK"
}

// attendedTransfer joins Y to the party X talks to in the dialog Replaces names.
func (s *Server) attendedTransfer(req *gsip.Request, tx gsip.ServerTransaction, x, y *Leg, from origin, replaces string) {
	parts := strings.Split(replaces, ";")
	callID := strings.TrimSpace(parts[0])
	var tags []string
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "to-tag") || strings.EqualFold(k, "from-tag") {
			tags = append(tags, v)
		}
	}
	var x2 *Leg
	for _, tag := range tags {
		if v, ok := s.legs.Load(callID + "|" + tag); ok {
			x2 = v.(*Leg)
		}
	}
	if x2 == nil {
		// The transferor may know only its own tag of that dialog (the other names ccswitch's
		// tag, which it may have got wrong): match the Call-ID and its tag.
		s.legs.Range(func(_, v any) bool {
			l := v.(*Leg)
			if l.callID() == callID && slices.Contains(tags, l.remoteTag()) {
				x2 = l
				return false
			}
			return true
		})
	}
	if x2 == nil {
		s.refuseTransfer(req, tx, x, 481, "Call/Transaction Does Not Exist", "replaces-unknown")
		return
	}
	if x2 == x || x2.party.User == "" || from.user == nil || x2.party.User != from.user.Extension {
		// Only the extension's own other call can be joined (no hijacking by Replaces).
		s.refuseTransfer(req, tx, x, 403, "Forbidden", "replaces-not-owner")
		return
	}
	t := x2.peer.Load()
	if t == nil || t.ended.Load() || t == y {
		s.refuseTransfer(req, tx, x, 481, "Call/Transaction Does Not Exist", "replaces-no-peer")
		return
	}
	sub := accept(req, tx)
	s.metrics.transfers.WithLabelValues("attended").Inc()
	notify := func(code int, reason string, final bool) {
		if sub {
			s.notifyRefer(x, code, reason, final)
		}
	}
	notify(100, "Trying", false)
	old := t.mediaRef()
	yr := y.mediaRef()
	t.media.Store(&mediaRef{id: yr.id, side: yr.side.other()})
	if err := s.join(y, t, false); err != nil {
		t.media.Store(&old)
		s.log.Info("attended transfer: joining failed", "call_id", x.call.id, "error", err)
		notify(500, "Server Internal Error", true)
		return
	}
	x2.peer.Store(nil)
	s.handOver(x, y, t)
	if old.id != yr.id {
		// T's old media (its call with X) carries nothing now; its RTP watchdog must not end T.
		s.anchor.Release(old.id)
	}
	notify(200, "OK", true)
	x.finish(context.Background(), true, "transferred")
	x2.finish(context.Background(), true, "transferred")
}

// handOver bridges y to t in place of x, and tells x's OnTransferred.
func (s *Server) handOver(x, y, t *Leg) {
	x.peer.Store(nil)
	y.peer.Store(t)
	t.peer.Store(y)
	if f := x.transferred.Load(); f != nil {
		(*f)(t)
	}
}

// join negotiates media between y and t through y's media: t (fresh: its 2xx still
// unACKed, or else re-INVITEd without SDP) offers, y is re-INVITEd with that offer anchored,
// and y's answer goes to t in its ACK.
func (s *Server) join(y, t *Leg, fresh bool) error {
	for i := 0; !y.call.beginOffer(); i++ {
		if i > 50 {
			return errors.New("sip: transfer: the transferee is negotiating")
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer y.call.endOffer()
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	var offer []byte
	var tseq uint32
	if fresh {
		offer = t.cli.InviteResponse.Body()
	} else {
		res, seq, err := s.reinvite(ctx, t, nil)
		if err != nil {
			return err
		}
		offer, tseq = res.Body(), seq
	}
	ackT := func(body []byte) {
		if fresh {
			s.ackInitial(t, body)
		} else {
			s.ackInDialog(t, tseq, body)
		}
	}
	if len(offer) == 0 {
		ackT(nil)
		return errors.New("sip: transfer: the target offered no SDP")
	}
	tr, yr := t.mediaRef(), y.mediaRef()
	who := Parties{}
	who = who.set(tr.side, t.party).set(yr.side, y.party)
	forY, err := s.anchor.Offer(ctx, tr.id, tr.side, who, offer)
	if err != nil {
		ackT(nil)
		return err
	}
	res, _, err := s.reinvite(ctx, y, forY)
	if err != nil || len(res.Body()) == 0 {
		if c, ok := s.anchor.(offerCanceller); ok {
			c.CancelOffer(yr.id)
		}
		ackT(nil)
		if err == nil {
			err = errors.New("sip: transfer: the transferee answered without SDP")
		}
		return err
	}
	forT, err := s.anchor.Answer(ctx, yr.id, yr.side, who.from(yr.side, sourceOf(res)), res.Body())
	if err != nil {
		ackT(nil)
		return err
	}
	ackT(forT)
	return nil
}

// reinvite sends a re-INVITE on leg l with body (nil: none) and returns its 2xx and CSeq. With
// a body the ACK is sent at once; without, the caller ACKs (ackInDialog) with its answer.
func (s *Server) reinvite(ctx context.Context, l *Leg, body []byte) (*gsip.Response, uint32, error) {
	out := gsip.NewRequest(gsip.INVITE, l.remoteTarget())
	out.SetTransport(l.transport())
	ua := s.legUA(l)
	out.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	if len(body) > 0 {
		out.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	}
	out.SetBody(body)
	ctxTx, err := l.transactionRequest(ctx, out)
	if err != nil {
		return nil, 0, err
	}
	defer ctxTx.Terminate()
	seq := out.CSeq().SeqNo
	for {
		select {
		case r := <-ctxTx.Responses():
			if r.IsProvisional() {
				continue
			}
			if !r.IsSuccess() {
				return nil, seq, fmt.Errorf("sip: re-INVITE: %d %s", r.StatusCode, validate.Sanitize(r.Reason))
			}
			if len(body) > 0 {
				s.ackInDialog(l, seq, nil)
			}
			return r, seq, nil
		case <-ctxTx.Done():
			return nil, seq, errors.New("sip: re-INVITE: no answer")
		case <-ctx.Done():
			return nil, seq, ctx.Err()
		}
	}
}

// identity is the number and name a leg's remote party is known by: what a transfer target
// sees as the caller.
func (l *Leg) identity() (user, name string) {
	if l.party.User != "" {
		if u := l.s.routes.Load().users[l.party.User]; u != nil {
			return u.Extension, u.Name
		}
		return l.party.User, ""
	}
	if l.srv != nil {
		f := l.srv.InviteRequest.From()
		return f.Address.User, f.DisplayName
	}
	t := l.cli.InviteRequest.To()
	return t.Address.User, ""
}

// callID is the SIP Call-ID of the leg's dialog.
func (l *Leg) callID() string {
	if l.srv != nil {
		return l.srv.InviteRequest.CallID().Value()
	}
	return l.cli.InviteRequest.CallID().Value()
}

// remoteTag is the remote party's tag in the leg's dialog.
func (l *Leg) remoteTag() string {
	if l.srv != nil {
		tag, _ := l.srv.InviteRequest.From().Params.Get("tag")
		return tag
	}
	if r := l.cli.InviteResponse; r != nil {
		tag, _ := r.To().Params.Get("tag")
		return tag
	}
	return ""
}

// set returns who with side's party replaced by p.
func (who Parties) set(side Side, p Party) Parties {
	if side == SideA {
		who.A = p
	} else {
		who.B = p
	}
	return who
}
