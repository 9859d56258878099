package sip

import (
	"context"
	"strings"
	"sync"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// lookup finds the leg an in-dialog request belongs to: our tag is in its To header,
// whichever side sent it.
func (s *Server) lookup(req *gsip.Request) *Leg {
	tag, _ := req.To().Params.Get("tag")
	if tag == "" {
		return nil
	}
	v, ok := s.legs.Load(req.CallID().Value() + "|" + tag)
	if !ok {
		return nil
	}
	return v.(*Leg)
}

func (s *Server) onAck(req *gsip.Request, tx gsip.ServerTransaction) {
	l := s.lookup(req)
	if l == nil {
		return // ACK of a non-2xx is absorbed by its transaction; strays are dropped
	}
	l.deliverAck(req) // before ReadAck: whoever waits on the 2xx reads the ACK's SDP
	if l.srv != nil {
		l.srv.ReadAck(req, tx)
	}
}

func (s *Server) onBye(req *gsip.Request, tx gsip.ServerTransaction) {
	l := s.lookup(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	var err error
	cause := "caller-bye"
	if l.srv != nil {
		err = l.srv.ReadBye(req, tx)
	} else {
		cause = "callee-bye"
		err = l.cli.ReadBye(req, tx)
	}
	if err != nil {
		respond(tx, req, 500, "Server Internal Error")
	}
	l.finish(context.Background(), false, cause)
}

// onInDialog relays re-INVITE, INFO and UPDATE to the bridged leg and its answer back.
// An offer (SDP in the request) is anchored on the way out and its answer on the way back;
// a re-INVITE without SDP is relayed without, the peer's 2xx offer is anchored into ours, and
// the requester's ACK answer is anchored into the ACK to the peer. One negotiation runs per
// call at a time: a second is glare and gets 491.
func (s *Server) onInDialog(req *gsip.Request, tx gsip.ServerTransaction) {
	l := s.lookup(req)
	if l == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if err := l.readRequest(req, tx); err != nil {
		respond(tx, req, 500, "Out Of Order")
		return
	}
	body := req.Body()
	if req.Method == gsip.UPDATE && len(body) == 0 {
		// A session refresh (RFC 4028) or a bare UPDATE: each leg's session is ccswitch's own,
		// answered here and never relayed (a callee without UPDATE would refuse it).
		l.refreshed()
		respond(tx, req, 200, "OK", l.timerHeaders()...)
		return
	}
	negotiates := req.IsInvite() || req.Method == gsip.UPDATE && len(body) > 0
	// endOffer ends this exchange's negotiation once: before a final answer that ends it
	// (a requester may offer again the moment it has our refusal: waiting for this handler
	// to return answered its next re-INVITE 491), or when the handler returns.
	endOffer := func() {}
	if negotiates {
		if !l.call.beginOffer() {
			respond491(tx, req)
			return
		}
		endOffer = sync.OnceFunc(l.call.endOffer)
		defer endOffer()
	}
	// refuse ends the exchange with a final refusal, the negotiation ended first.
	refuse := func(code int, reason string) {
		endOffer()
		respond(tx, req, code, reason)
	}
	peer := l.peer.Load()
	if peer == nil || peer.ended.Load() {
		s.answerInDialog(l, req, tx)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()

	// The anchor call and sides this exchange negotiates on (a transfer may have joined the
	// legs to another call's media: transfer.go).
	lr, pr := l.mediaRef(), peer.mediaRef()
	isOffer := negotiates && len(body) > 0
	if isOffer {
		b, err := s.anchor.Offer(ctx, lr.id, lr.side, parties(l, peer).from(lr.side, sourceOf(req)), body)
		if err != nil {
			refuse(mediaFailure(err))
			return
		}
		body = b
	}
	out := gsip.NewRequest(req.Method, peer.remoteTarget())
	out.SetTransport(peer.transport())
	if ct := req.ContentType(); ct != nil && len(body) > 0 {
		out.AppendHeader(gsip.NewHeader("Content-Type", validate.Sanitize(ct.Value())))
	}
	if req.IsInvite() {
		ua := s.legUA(peer)
		out.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	}
	out.SetBody(body)
	// cancelOffer withdraws the anchored offer of an exchange the peer did not accept.
	cancelOffer := func() {
		if isOffer {
			if c, ok := s.anchor.(offerCanceller); ok {
				c.CancelOffer(lr.id)
			}
		}
	}
	// giveUp ends an exchange the peer never answered: offer withdrawn, then refused.
	giveUp := func(code int, reason string) {
		cancelOffer()
		refuse(code, reason)
	}
	ctxTx, err := peer.transactionRequest(ctx, out)
	if err != nil {
		giveUp(503, "Service Unavailable")
		return
	}
	defer ctxTx.Terminate()
	outSeq := out.CSeq().SeqNo
	var final *gsip.Response
	for final == nil {
		select {
		case r := <-ctxTx.Responses():
			if !r.IsProvisional() {
				final = r
			}
		case <-ctxTx.Done():
			giveUp(408, "Request Timeout")
			return
		case <-ctx.Done():
			giveUp(408, "Request Timeout")
			return
		}
	}
	if !final.IsSuccess() {
		cancelOffer()
	}
	rbody := final.Body()
	// lateOffer: a re-INVITE without SDP, answered with the peer's offer in its 2xx; the
	// requester answers in its ACK, which goes on to the peer in ours.
	lateOffer := req.IsInvite() && final.IsSuccess() && len(req.Body()) == 0 && len(rbody) > 0
	res := gsip.NewResponseFromRequest(req, final.StatusCode, validate.Sanitize(final.Reason), nil)
	if len(rbody) > 0 {
		switch {
		case lateOffer:
			b, err := s.anchor.Offer(ctx, lr.id, pr.side, parties(l, peer).from(pr.side, sourceOf(final)), rbody)
			if err != nil {
				// The peer's offer cannot be anchored and it waits for an answer in our ACK:
				// the session cannot go on.
				s.log.Info("late offer in re-INVITE 2xx refused", "call_id", l.call.id, "error", err)
				s.ackInDialog(peer, outSeq, nil)
				code, reason := mediaFailure(err)
				respond(tx, req, code, reason)
				l.finish(context.Background(), true, "media")
				return
			}
			rbody = b
		case isOffer && final.IsSuccess():
			if b, err := s.anchor.Answer(ctx, lr.id, pr.side, parties(l, peer).from(pr.side, sourceOf(final)), rbody); err == nil {
				rbody = b
			}
		}
		if ct := final.ContentType(); ct != nil {
			res.AppendHeader(gsip.NewHeader("Content-Type", validate.Sanitize(ct.Value())))
		}
		res.SetBody(rbody)
	}
	if final.IsSuccess() && negotiates {
		l.refreshed()
		for _, h := range l.timerHeaders() {
			res.AppendHeader(h)
		}
	}
	if !req.IsInvite() || !final.IsSuccess() {
		endOffer() // an UPDATE's answer, or a refusal: the exchange is over
		tx.Respond(res)
		return
	}
	if !lateOffer {
		s.ackInDialog(peer, outSeq, nil)
	}
	ua := s.legUA(l)
	res.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	ack := s.respond2xx(l, tx, res, req.CSeq().SeqNo)
	if !lateOffer {
		if ack == nil {
			// No ACK within 64·T1: the session SHOULD end (RFC 3261 §13.3.1.4).
			l.finish(context.Background(), true, "no-ack")
		}
		return
	}
	if ack == nil || len(ack.Body()) == 0 {
		s.ackInDialog(peer, outSeq, nil)
		l.finish(context.Background(), true, "no-ack")
		return
	}
	answer, err := s.anchor.Answer(ctx, lr.id, lr.side, parties(l, peer).from(lr.side, sourceOf(ack)), ack.Body())
	if err != nil {
		s.log.Info("answer in ACK refused", "call_id", l.call.id, "error", err)
		s.ackInDialog(peer, outSeq, nil)
		l.finish(context.Background(), true, "media")
		return
	}
	s.ackInDialog(peer, outSeq, answer)
}

// offerCanceller is the optional part of an SDPAnchor that forgets an offer the other side
// refused (a non-2xx to a relayed re-INVITE or UPDATE), so the next offer is accepted.
type offerCanceller interface {
	CancelOffer(callID string)
}

// answerInDialog answers an in-dialog request on a leg without a peer: through the leg's
// OnInDialog handler if it has one, else 501.
func (s *Server) answerInDialog(l *Leg, req *gsip.Request, tx gsip.ServerTransaction) {
	hp := l.inDialog.Load()
	if hp == nil || l.ended.Load() {
		respond(tx, req, 501, "Not Implemented")
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	code, answer := (*hp)(string(req.Method), ct, req.Body())
	if code < 200 || code > 699 {
		code = 500
	}
	res := gsip.NewResponseFromRequest(req, code, reasonPhrase(code), nil)
	if len(answer) > 0 {
		res.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
		res.SetBody(answer)
	}
	if req.IsInvite() && code < 300 {
		ua := s.legUA(l)
		res.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	}
	tx.Respond(res)
}

func reasonPhrase(code int) string {
	switch code {
	case 200:
		return "OK"
	case 400:
		return "Bad Request"
	case 415:
		return "Unsupported Media Type"
	case 488:
		return "Not Acceptable Here"
	case 491:
		return "Request Pending"
	case 501:
		return "Not Implemented"
	}
	if code < 300 {
		return "OK"
	}
	return "Error"
}

// remoteAddr is the address the remote party's signalling comes from (host:port).
func (l *Leg) remoteAddr() string {
	if l.srv != nil {
		return l.srv.InviteRequest.Source()
	}
	if r := l.cli.InviteResponse; r != nil {
		return r.Source()
	}
	return l.cli.InviteRequest.Destination()
}

func (l *Leg) transport() string {
	if l.srv != nil {
		return l.srv.InviteRequest.Transport()
	}
	return l.cli.InviteRequest.Transport()
}

// unhandledResponse gets responses no client transaction matched: retransmitted 2xx of
// INVITEs whose transaction has ended. A live leg gets the ACK it was sent again (initial
// INVITE or re-INVITE, SDP included: RFC 3261 §13.2.2.4); the 2xx of a fork that
// lost (after its transaction ended) is ACKed and BYEd; anything else is dropped.
func (s *Server) unhandledResponse(res *gsip.Response) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != gsip.INVITE || !res.IsSuccess() || res.From() == nil || res.To() == nil || res.CallID() == nil {
		return
	}
	tag, _ := res.From().Params.Get("tag")
	if v, ok := s.legs.Load(res.CallID().Value() + "|" + tag); ok {
		s.reAck(v.(*Leg), cseq.SeqNo) // an INVITE not ACKed yet (late offer) waits
		return
	}
	if _, lost := s.losers.Load(res.CallID().Value()); !lost || s.closing.Load() {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.strayAckBye(res)
	}()
}

// strayAckBye ends a dialog that a 2xx created but no call owns.
func (s *Server) strayAckBye(res *gsip.Response) {
	contact := res.Contact()
	if contact == nil {
		return
	}
	cli := s.udpClientFor(res.Source())
	if strings.EqualFold(res.Transport(), "tcp") && s.tcpCli != nil {
		cli = s.tcpCli
	}
	if isTLS(res.Transport()) && s.tlsCli != nil {
		cli = s.tlsCli
	}
	if cli == nil {
		cli = s.tcpCli
	}
	mk := func(m gsip.RequestMethod, seq uint32) *gsip.Request {
		r := gsip.NewRequest(m, *contact.Address.Clone())
		r.SetTransport(res.Transport())
		r.SetDestination(res.Source())
		r.AppendHeader(gsip.HeaderClone(res.From()))
		r.AppendHeader(gsip.HeaderClone(res.To()))
		r.AppendHeader(gsip.HeaderClone(res.CallID()))
		r.AppendHeader(&gsip.CSeqHeader{SeqNo: seq, MethodName: m})
		mf := gsip.MaxForwardsHeader(70)
		r.AppendHeader(&mf)
		r.SetBody(nil)
		return r
	}
	seq := res.CSeq().SeqNo
	cli.WriteRequest(mk(gsip.ACK, seq))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	tx, err := cli.TransactionRequest(ctx, mk(gsip.BYE, seq+1))
	if err != nil {
		return
	}
	defer tx.Terminate()
	awaitFinal(ctx, tx)
}

// awaitFinal waits for the final response of tx and returns it, or nil when the transaction
// ends (timeout, transport error) or ctx is done first. Provisional responses are skipped.
func awaitFinal(ctx context.Context, tx gsip.ClientTransaction) *gsip.Response {
	for {
		select {
		case r := <-tx.Responses():
			if !r.IsProvisional() {
				return r
			}
		case <-tx.Done():
			return nil
		case <-ctx.Done():
			return nil
		}
	}
}
