package sip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip/route"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

func newID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// target is one contact to ring.
type target struct {
	uri       gsip.Uri
	dest      string // host:port overriding the URI's (NAT, TCP flows); "" = resolve uri
	transport string
	to        gsip.Uri // the To header URI
	trunk     *trunk   // set when ringing a trunk
	flow      bool     // a registered contact: reached only through its flow (flow.go)
}

// ringSpec is what every fork of one ringing attempt shares.
type ringSpec struct {
	fromUser, fromName string
	body               []byte
	contentType        string
	maxForwards        uint32
	timeout            time.Duration
	// onProvisional relays a 18x (called from fork goroutines).
	onProvisional func(res *gsip.Response)
	// fromHost replaces our host in From ("anonymous.invalid"); headers are added to each
	// INVITE (P-Asserted-Identity, Privacy); onResponse sees that anything came back.
	fromHost   string
	headers    []gsip.Header
	onResponse func()
}

// forkResult is how one fork ended.
type forkResult struct {
	dlg      *sipgo.DialogClientSession
	t        target
	won      bool
	code     int // final status, 0 when none arrived (timeout, cancel, transport error)
	reason   string
	err      error
	answered time.Time
	redirect *gsip.Uri // the first Contact of a 3xx
}

// contacts returns the targets of an extension: its live registrations (each through its
// flow), then its static contact.
func (s *Server) contacts(r *routing, ext string) []target {
	var out []target
	for _, c := range s.reg.Lookup(ext) {
		// The binding's flow, never the Contact's host or transport parameter (flow.go); over
		// TCP/TLS, the connection its REGISTER came on (conn.go).
		t, ok := s.flowTarget(c, ext)
		if !ok {
			continue
		}
		if !s.streams.flowTarget(&t, c) {
			continue // registered over TCP/TLS, and that connection is gone
		}
		out = append(out, t)
	}
	if u, ok := r.static[ext]; ok {
		// A static contact is the operator's word: it is resolved as written.
		t := target{uri: u, transport: "udp", to: gsip.Uri{Scheme: "sip", User: ext, Host: s.uriHost()}}
		if tp, ok := u.UriParams.Get("transport"); ok && tp != "" {
			t.transport = tp
		}
		if u.Scheme == "sips" {
			t.transport = "tls" // a sips: contact is only reached over TLS
		}
		out = append(out, t)
	}
	return out
}

// inviteSeen marks an INVITE (Call-ID, From tag, CSeq) already being handled; done holds
// the unix-nano time its handler returned (0 while running). Swept 32 s after done.
type inviteSeen struct {
	done atomic.Int64
}

// origin is who places a call.
type origin struct {
	user  *config.User
	trunk *trunk
}

// decision is what a call to a dialled string is, for an origin: where it goes, or the
// status it is refused with.
type decision struct {
	dir       string // "internal", "outbound", "inbound"
	ext       string // the extension rung
	num       *config.Number
	feature   string // a feature code for the App
	out       *trunk // the first trunk of an outbound call
	code      int    // non-zero: refused with code, why
	why       string
	emergency bool
	refusal   []gsip.Header  // a limit's extra headers (Retry-After)
	rq        route.Request  // what was asked of the routing decision
	route     route.Decision // its answer (the trunks to try, in order)
}

// decide routes dialled for from (toUser: the To user, the DID of a carrier that puts
// another Request-URI) with the one routing decision (route.Decide, decide.go) and applies
// the call limits (hold takes their slots): the one authentication-and-permission check of
// every call a party makes through ccswitch — a dialled INVITE (onInvite) and a transfer
// target (REFER, transfer.go). The outbound right (users[].outbound), emergency numbers,
// destination rules and the trunk choice are decided here.
func (s *Server) decide(r *routing, from origin, dialled, toUser string, hold *callHold) decision {
	rq := route.Request{Dialled: dialled, To: toUser}
	if from.user != nil {
		rq.User = from.user.Extension
	} else if from.trunk != nil {
		rq.Trunk = from.trunk.cfg.Name
		rq.Dialled, rq.To = from.trunk.inboundNumber(rq.Dialled), from.trunk.inboundNumber(rq.To)
	}
	d := route.Decide(r.table, rq, r.trunkUp)
	var (
		ext, feature string
		num          *config.Number
		out          *trunk
		code         int
		why          string
		emergency    bool
		refusal      []gsip.Header
	)
	dir := direction(from, d)
	switch d.Kind {
	case route.Refuse:
		code, why = d.Status, d.Reason
	case route.Feature:
		feature = d.Feature
	case route.Flow:
		num = r.numbers[d.Number]
	case route.Extension:
		ext = d.Extension
		if d.Number != "" {
			num = r.numbers[d.Number]
		}
	case route.Emergency, route.Trunk:
		emergency = d.Kind == route.Emergency
		if emergency {
			hold.Emergency(from.user.Extension)
		}
		if out = takeTrunk(r, hold, d.Trunks); out == nil {
			code, why = 503, "Service Unavailable" // each at max_calls: counted by the hold
		}
	}
	if code == 0 {
		if ref := s.admit(hold, from, dialled, ext, out, emergency); ref != nil {
			code, why, refusal = ref.Code, ref.Reason, refusalHeaders(ref)
		}
	}
	return decision{dir: dir, ext: ext, num: num, feature: feature, out: out, code: code, why: why,
		emergency: emergency, refusal: refusal, rq: rq, route: d}
}

func (s *Server) onInvite(req *gsip.Request, tx gsip.ServerTransaction) {
	// A retransmitted INVITE whose transaction sipgo already let go (its Timer_1xx "100
	// Trying" can fire after our final answer, and then the transaction is terminated as
	// soon as the handler returns) would start the same call a second time: drop it.
	fromTag, _ := req.From().Params.Get("tag")
	inviteKey := req.CallID().Value() + "|" + fromTag + "|" + strconv.FormatUint(uint64(req.CSeq().SeqNo), 10)
	seen := &inviteSeen{}
	if _, dup := s.invites.LoadOrStore(inviteKey, seen); dup {
		return
	}
	defer seen.done.Store(time.Now().UnixNano())
	// An immediate 100 stops the caller's retransmissions (and sipgo's own 100 timer).
	respond(tx, req, 100, "Trying")
	r := s.routes.Load()
	var from origin
	if t := r.trunkBySource(req.Source()); t != nil {
		from.trunk = t
	} else if t := s.trunkByRegistration(r, req); t != nil {
		from.trunk = t // a call to our registration with the carrier (trunkreg.go)
	} else {
		name, ok := s.authenticate(req, tx)
		if !ok {
			return
		}
		if u := r.users[name]; u != nil {
			if s.refuseUserInsecure(req, tx, u) {
				return
			}
			from.user = u
		} else if t := r.byUser[name]; t != nil {
			from.trunk = t
		} else {
			respond(tx, req, 403, "Forbidden")
			return
		}
	}
	if req.Contact() == nil {
		respond(tx, req, 400, "Missing Contact")
		return
	}

	if from.trunk == nil {
		s.untrust(req) // RFC 3325: identity headers are believed from trunks only
	}

	dialled := req.Recipient.User
	hold := s.newHold()
	d := s.decide(r, from, dialled, req.To().Address.User, hold)
	if d.route.Kind == route.Refuse {
		s.refused(req, d.rq, d.route)
	}
	dir, ext, num, feature, out, code, why, refusal := d.dir, d.ext, d.num, d.feature, d.out, d.code, d.why, d.refusal

	trunkName := ""
	if from.trunk != nil {
		trunkName = from.trunk.cfg.Name
	}
	if out != nil {
		trunkName = out.cfg.Name
	}
	if code == 0 {
		if h, brief := s.tooBrief(req); brief {
			code, why, refusal = 422, "Session Interval Too Small", h
		}
	}
	c := s.newCall(req, dir, trunkName)
	hold.bind(c)
	if code != 0 {
		respond(tx, req, code, why, refusal...)
		c.end(code, "rejected")
		return
	}

	ua := s.dialogUAFor(req.Transport(), req.Recipient.Scheme, req.Source())
	dlgA, err := ua.ReadInvite(req, tx)
	if err != nil {
		if errors.Is(tx.Err(), gsip.ErrTransactionCanceled) {
			c.end(487, "cancel")
			return
		}
		// No dialog can be made (e.g. no From tag, RFC 3261 §8.1.1.3).
		respond(tx, req, 400, "Bad Request")
		c.end(400, "rejected")
		return
	}
	s.streams.holdCall(req, dlgA)
	legA := newLeg(s, c, SideA)
	legA.srv = dlgA
	legA.sdp = req.Body()
	legA.party = from.party(sourceOf(req))
	c.addLeg(legA, req.From().Address.String(), c.rec.Start, req.CallID().Value())
	var rel *reliableA
	if wantsReliable(req) {
		rel = s.newReliableA(c, legA, tx)
	}

	if feature != "" || num != nil && num.Target == "" {
		user := ""
		if from.user != nil {
			user = from.user.Extension
		}
		d := Dialled{Kind: DialledFeature, Code: feature}
		if num != nil {
			d = Dialled{Kind: DialledNumber, Number: *num}
		}
		s.serveApp(c, legA, req, d, user)
		return
	}

	callee := Party{User: ext} // who side B is, for the media anchor
	if out != nil {
		callee = Party{Trunk: out.cfg.Name}
	}
	var targets []target
	if out == nil {
		targets = s.contacts(r, ext)
	}
	if out == nil && len(targets) == 0 {
		s.finalA(c, legA, 480, "Temporarily Unavailable", "unavailable")
		return
	}

	callerUser, callerName := req.From().Address.User, req.From().DisplayName
	if from.user != nil {
		callerUser, callerName = from.user.Extension, from.user.Name
	} else if from.trunk != nil {
		callerUser = from.trunk.callerNumber(req) // trunkcall.go: PAI/RPID, E.164
	}
	spec := &ringSpec{
		fromUser:    validate.Sanitize(callerUser),
		fromName:    validate.Sanitize(callerName),
		contentType: contentType(req),
		maxForwards: 69,
		timeout:     r.ringTime,
	}
	if mf := req.MaxForwards(); mf != nil {
		spec.maxForwards = uint32(*mf) - 1
	}
	if body := req.Body(); len(body) > 0 {
		b, err := s.anchor.Offer(dlgA.Context(), c.id, SideA, Parties{A: legA.party, B: callee}, body)
		if err != nil {
			code, reason := mediaFailure(err)
			s.finalA(c, legA, code, reason, "media")
			return
		}
		spec.body = b
	}
	// Delayed offer (an INVITE without SDP): B's first SDP, in a 18x or its 2xx, is an offer;
	// it is anchored into ccswitch's offer to A, whose answer comes in its ACK.
	late := &lateOffer{s: s, callID: c.id}
	delayed := len(req.Body()) == 0
	if delayed && rel != nil {
		// The caller answers an offer in a reliable 18x in its PRACK.
		rel.mu.Lock()
		rel.onAnswer = func(sdp []byte) {
			late.answer(dlgA.Context(), Parties{A: legA.party, B: callee}, sdp)
		}
		rel.mu.Unlock()
	}
	spec.onProvisional = func(res *gsip.Response) {
		if res.StatusCode < 180 {
			return
		}
		body := res.Body()
		var hdrs []gsip.Header
		if len(body) > 0 {
			var b []byte
			var err error
			who := Parties{A: legA.party, B: callee}.from(SideB, sourceOf(res))
			if delayed {
				b, err = late.offer(dlgA.Context(), who, body)
			} else {
				b, err = s.anchor.Answer(dlgA.Context(), c.id, SideB, who, body)
			}
			if err != nil {
				body = nil
			} else {
				body = b
				hdrs = append(hdrs, gsip.NewHeader("Content-Type", "application/sdp"))
			}
		}
		c.mu.Lock()
		if !c.aFinal {
			s.progressA(c, legA, res.StatusCode, validate.Sanitize(res.Reason), body, hdrs...)
		}
		c.mu.Unlock()
	}

	ringCtx, stop := context.WithCancel(dlgA.Context())
	c.mu.Lock()
	c.stopRing = stop
	c.mu.Unlock()
	var res forkResult
	if out != nil {
		res = s.ringOut(ringCtx, r, c, hold, out, d.route, from, spec) // trunkcall.go: failover
	} else {
		res = s.ring(ringCtx, targets, spec)
	}
	stop()

	if !res.won {
		if errors.Is(context.Cause(dlgA.Context()), gsip.ErrTransactionCanceled) {
			c.end(487, "cancel")
			return
		}
		code, reason, cause := failure(res, out != nil)
		if s.closing.Load() {
			code, reason, cause = 503, "Service Unavailable", "shutdown"
		}
		s.finalA(c, legA, code, reason, cause)
		return
	}

	dlgB := res.dlg
	legB := newLeg(s, c, SideB)
	legB.cli = dlgB
	legB.sdp = dlgB.InviteResponse.Body()
	legB.party = callee
	if res.t.trunk != nil {
		legB.party.Trunk = res.t.trunk.cfg.Name // the trunk that answered (failover)
	}
	legB.party.Source = sourceOf(dlgB.InviteResponse)
	c.addLeg(legB, res.t.uri.String(), c.rec.Start, dlgB.InviteRequest.CallID().Value())
	c.answered(legB, dlgB.InviteResponse.StatusCode)
	// Until A has ACKed, a re-INVITE or UPDATE from B is glare (491, B retries).
	c.negotiating.Store(true)
	defer c.endOffer()

	body := dlgB.InviteResponse.Body()
	// With a delayed offer B's 2xx carries the offer and B waits for our ACK with the answer,
	// which A gives in its own ACK: B's ACK waits for A's.
	lateB := delayed && len(body) > 0
	var ackedB atomic.Bool
	ackB := func(answer []byte) {
		if !ackedB.CompareAndSwap(false, true) {
			return
		}
		if err := s.ackInitial(legB, answer); err != nil {
			s.log.Debug("ACK to leg B failed", "call_id", c.id, "error", err)
		}
	}
	if !lateB {
		ackB(nil)
	}
	legB.register()

	var hdrs []gsip.Header
	if len(body) > 0 {
		var b []byte
		var err error
		who := Parties{A: legA.party, B: legB.party}
		if lateB {
			b, err = late.offer(dlgA.Context(), who, body)
			if late.answered() != nil {
				b = nil // answered in a PRACK already: the 2xx carries no SDP
			}
		} else {
			b, err = s.anchor.Answer(dlgA.Context(), c.id, SideB, who, body)
		}
		if err != nil {
			ackB(nil)
			legB.finish(context.Background(), true, "media")
			code, reason := mediaFailure(err)
			s.finalA(c, legA, code, reason, "media")
			return
		}
		body = b
		hdrs = append(hdrs, gsip.NewHeader("Content-Type", "application/sdp"))
	}
	legA.peer.Store(legB)
	legB.peer.Store(legA)
	legA.register()

	c.mu.Lock()
	c.aFinal = true
	c.rec.Code = 200
	c.mu.Unlock()
	c.answered(legA, 200)
	ackA := legA.expectAck(req.CSeq().SeqNo)
	defer legA.acks.CompareAndSwap(ackA, nil)
	timerA := s.timerForA(req)
	hdrs = append(hdrs, timerHeaders(timerA, true)...)
	hdrs = append(hdrs, gsip.NewHeader("Supported", supportedTags))
	err = dlgA.Respond(200, "OK", body, hdrs...)
	if err == nil {
		s.startTimer(legA, timerA)
		s.startTimer(legB, timerForB(dlgB.InviteResponse))
	}
	if err == nil && lateB {
		// A's ACK carries its answer to ccswitch's offer: anchored, it answers B's offer.
		var ack *gsip.Request
		select {
		case ack = <-ackA.ch:
		default:
		}
		if ack != nil && len(ack.Body()) == 0 && late.answered() != nil {
			ackB(late.answered()) // the caller answered in its PRACK
			return
		}
		if ack == nil || len(ack.Body()) == 0 {
			s.log.Info("delayed offer: the caller's ACK has no answer: ending the call", "call_id", c.id)
			ackB(nil)
			legA.finish(context.Background(), true, "media")
			return
		}
		answer, aerr := s.anchor.Answer(dlgA.Context(), c.id, SideA, Parties{A: legA.party, B: legB.party}.from(SideA, sourceOf(ack)), ack.Body())
		if aerr != nil {
			s.log.Info("delayed offer: the caller's answer was refused: ending the call", "call_id", c.id, "error", aerr)
			ackB(nil)
			legA.finish(context.Background(), true, "media")
			return
		}
		ackB(answer)
		return
	}
	ackB(nil) // on failure, B still needs its ACK before our BYE
	if err != nil {
		// CANCEL crossed our 200, or no ACK came: the call is over.
		if errors.Is(context.Cause(dlgA.Context()), gsip.ErrTransactionCanceled) {
			c.mu.Lock()
			c.rec.Code = 487
			c.mu.Unlock()
			legA.finish(context.Background(), false, "cancel")
			return
		}
		// No ACK within 64*T1: end the dialog with a BYE (RFC 3261 §13.3.1.4).
		legA.finish(context.Background(), true, "no-ack")
	}
}

// finalA gives leg A a final non-2xx answer and ends the call.
func (s *Server) finalA(c *call, legA *Leg, code int, reason, cause string) {
	c.mu.Lock()
	c.aFinal = true
	c.rec.Code = code
	if len(c.rec.Legs) > 0 {
		c.rec.Legs[0].Code = code
		c.rec.Legs[0].End = time.Now()
	}
	c.mu.Unlock()
	c.end(code, cause)
	legA.srv.Respond(code, reason, nil)
}

func contentType(req *gsip.Request) string {
	if ct := req.ContentType(); ct != nil {
		return validate.Sanitize(ct.Value())
	}
	return ""
}

// failure maps the best failed fork to leg A's answer (RFC 3261 §16.7 in spirit: busy
// wins, then the most telling 4xx–6xx).
func failure(res forkResult, toTrunk bool) (int, string, string) {
	switch {
	case res.code == 486 || res.code == 600:
		return 486, "Busy Here", "busy"
	case res.code == 603:
		return 603, "Decline", "declined"
	case res.code == 0 && res.err != nil && errors.Is(res.err, context.DeadlineExceeded):
		return 480, "No Answer", "no-answer"
	case res.code == 0:
		return 480, "Temporarily Unavailable", "unavailable"
	case toTrunk && res.code == 503:
		return 502, "Bad Gateway", "trunk-failure"
	case toTrunk && (res.code == 401 || res.code == 407):
		return 403, "Forbidden", "trunk-auth"
	case toTrunk && res.code >= 400:
		return res.code, validate.Sanitize(res.reason), "trunk-failure"
	case res.code == 404:
		return 404, "Not Found", "not-found"
	}
	return 480, "Temporarily Unavailable", "unavailable"
}

// ring sends one INVITE per target and returns the first 2xx (won) or the best failure.
// Losing forks are CANCELled (or ACKed and BYEd when their 2xx came too late) by their own
// goroutines, which the Server waits for on shutdown.
func (s *Server) ring(ctx context.Context, targets []target, spec *ringSpec) forkResult {
	ringCtx, cancel := context.WithTimeoutCause(ctx, spec.timeout, context.DeadlineExceeded)
	defer cancel()
	results := make(chan forkResult, len(targets))
	var winner atomic.Bool
	for _, t := range targets {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			results <- s.fork(ringCtx, t, spec, &winner)
		}()
	}
	var best forkResult
	for range targets {
		r := <-results
		if r.won {
			return r
		}
		if better(r, best) {
			best = r
		}
	}
	if best.code == 0 && best.err == nil {
		best.err = context.Cause(ringCtx)
	}
	if best.code == 0 && errors.Is(context.Cause(ringCtx), context.DeadlineExceeded) {
		best.err = context.DeadlineExceeded
	}
	return best
}

// better orders failures: busy first, then any final response over none.
func better(a, b forkResult) bool {
	rank := func(r forkResult) int {
		switch {
		case r.code == 486 || r.code == 600 || r.code == 603:
			return 4
		case r.code >= 400 && r.code != 408 && r.code != 480:
			return 3
		case r.code != 0:
			return 2
		case r.err != nil:
			return 1
		}
		return 0
	}
	return rank(a) > rank(b)
}

// fork rings one target until answer, failure or ctx's end.
func (s *Server) fork(ctx context.Context, t target, spec *ringSpec, winner *atomic.Bool) forkResult {
	req := gsip.NewRequest(gsip.INVITE, t.uri)
	req.SetTransport(strings.ToUpper(t.transport)) // it is the Via's: SIP/2.0/TLS
	if t.dest != "" {
		req.SetDestination(t.dest)
	}
	fromHost := s.uriHost()
	if spec.fromHost != "" {
		fromHost = spec.fromHost
	}
	from := &gsip.FromHeader{DisplayName: spec.fromName, Address: gsip.Uri{Scheme: "sip", User: spec.fromUser, Host: fromHost}, Params: gsip.NewParams()}
	from.Params.Add("tag", gsip.GenerateTagN(16))
	to := &gsip.ToHeader{Address: t.to, Params: gsip.NewParams()}
	mf := gsip.MaxForwardsHeader(spec.maxForwards)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&mf)
	peer := t.dest
	if peer == "" {
		peer = t.uri.Host
	}
	ua := s.dialogUAFor(t.transport, t.uri.Scheme, peer)
	req.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	req.AppendHeader(gsip.NewHeader("Allow", allowHeader))
	for _, h := range spec.headers {
		req.AppendHeader(gsip.HeaderClone(h))
	}
	// Session timers on every leg we place; reliable provisionals when we offer (an offer in
	// a reliable 18x would need an answer in our PRACK, which only A could give: prack.go).
	if len(spec.body) > 0 {
		req.AppendHeader(gsip.NewHeader("Supported", supportedTags))
	} else {
		req.AppendHeader(gsip.NewHeader("Supported", "timer, norefersub"))
	}
	req.AppendHeader(gsip.NewHeader("Session-Expires", strconv.Itoa(int(s.sessionInterval()/time.Second))))
	if len(spec.body) > 0 {
		ct := spec.contentType
		if ct == "" {
			ct = "application/sdp"
		}
		req.AppendHeader(gsip.NewHeader("Content-Type", ct))
		req.SetBody(spec.body)
	} else {
		req.SetBody(nil)
	}

	res := forkResult{t: t}
	dlg, err := ua.WriteInvite(ctx, req)
	if err != nil {
		res.err = err
		return res
	}
	res.dlg = dlg
	var rseq uint32 // the last reliable 18x PRACKed
	opts := sipgo.AnswerOptions{OnResponse: func(r *gsip.Response) error {
		if spec.onResponse != nil {
			spec.onResponse()
		}
		if r.IsProvisional() && r.StatusCode > 100 && len(spec.body) > 0 && hasTag(r, "Require", "100rel") {
			s.prackB(dlg, r, &rseq)
		}
		if r.IsProvisional() && spec.onProvisional != nil && !winner.Load() {
			spec.onProvisional(r)
		}
		return nil
	}}
	if t.trunk != nil && t.trunk.cfg.OutboundUsername != "" {
		opts.Username, opts.Password = t.trunk.cfg.OutboundUsername, t.trunk.cfg.OutboundSecret
	}
	err = dlg.WaitAnswer(ctx, opts)
	last := dlg.InviteResponse
	if last != nil && last.IsSuccess() {
		flowAnswered(t, last)
	}
	if err != nil || winner.Load() {
		// Whatever happens, a 2xx arriving for this INVITE from now on is unwanted: the
		// unhandled-response path will ACK and BYE it (and only it: no reflection of
		// strangers' 2xx).
		s.losers.Store(req.CallID().Value(), time.Now().Add(64*gsip.T1))
	}
	if err == nil {
		if winner.CompareAndSwap(false, true) {
			res.won, res.code, res.answered = true, last.StatusCode, time.Now()
			return res
		}
		s.ackBye(dlg) // a second 2xx: the call went to another contact
		res.code = last.StatusCode
		return res
	}
	if last != nil && last.IsSuccess() {
		s.ackBye(dlg) // 2xx crossed our CANCEL (RFC 3261 §9.1)
		res.code = 0
		res.err = err
		return res
	}
	res.err = err
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		res.code, res.reason = de.Res.StatusCode, de.Res.Reason
		if ct := de.Res.Contact(); ct != nil && res.code >= 300 && res.code < 400 {
			u := ct.Address
			res.redirect = &u
		}
	}
	return res
}

var allowHeader = strings.Join(allowed, ", ")

// ackBye confirms and immediately ends an unwanted dialog.
func (s *Server) ackBye(dlg *sipgo.DialogClientSession) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	dlg.Ack(ctx)
	dlg.Bye(ctx)
}

var _ = net.JoinHostPort
var _ = strconv.Itoa

// mediaFailure is the final response for an SDP the anchor could not take: the status the
// anchor's error names (SIPStatus: 503 when its ports ran out, 491 for crossing offers), else
// 488.
func mediaFailure(err error) (int, string) {
	var se interface{ SIPStatus() int }
	if errors.As(err, &se) {
		switch code := se.SIPStatus(); code {
		case 503:
			return 503, "Service Unavailable"
		case 491:
			return 491, "Request Pending"
		case 500:
			return 500, "Server Internal Error"
		}
	}
	return 488, "Not Acceptable Here"
}
