package sip

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Offer/answer plumbing shared by the initial INVITE (call.go) and in-dialog requests
// (dialog.go): ACKs awaited and sent with their SDP, 2xx and ACK retransmissions (RFC 3261
// §13.3.1.4 and §14), and the per-call negotiation lock that answers glare with 491.

// ackWait is a leg waiting for the ACK of the 2xx it sent to the INVITE with CSeq seq.
type ackWait struct {
	seq uint32
	ch  chan *gsip.Request
}

// sentAck is the last ACK ccswitch sent on a leg (to a 2xx of CSeq seq): a retransmitted 2xx
// of that INVITE gets the same ACK again, body included (RFC 3261 §13.2.2.4).
type sentAck struct {
	seq  uint32
	stop func() bool // stops the expiry (rememberAck)
	// raw is the ACK as it went out, parsed again only to answer a retransmitted 2xx (rare):
	// a parsed request kept for every call's life was ~1.4 KB of an idle call (bench/sip).
	raw                     string
	transport, source, dest string
	laddr                   gsip.Addr
}

// keptAck is what a leg keeps of an ACK it sent, for retransmitted 2xx.
func keptAck(seq uint32, ack *gsip.Request) *sentAck {
	return &sentAck{seq: seq, raw: ack.String(), transport: ack.Transport(), source: ack.Source(),
		dest: ack.Destination(), laddr: ack.Laddr}
}

// afterAckKept runs f when a leg may drop the ACK it sent, unless stopped first: a UAS
// retransmits its 2xx until the ACK arrives, for at most 64·T1 from the first one (RFC 3261
// §13.3.1.4), which it sent before we ACKed it; no retransmission can ask for the ACK later.
// (Tests run f themselves.)
var afterAckKept = func(f func()) (stop func() bool) { return time.AfterFunc(64*gsip.T1, f).Stop }

// rememberAck keeps the ACK a leg sent for the 2xx retransmissions, for 64·T1: an idle call
// then holds no ACK (~0.5 KB of its heap in bench/sip's memory phase). A newer ACK (a
// re-INVITE's) replaces it.
func (l *Leg) rememberAck(seq uint32, ack *gsip.Request) {
	a := keptAck(seq, ack)
	a.stop = afterAckKept(func() { l.acked.CompareAndSwap(a, nil) })
	if old := l.acked.Swap(a); old != nil {
		old.stop()
	}
}

// forgetAck drops the kept ACK and stops its expiry, whose timer would otherwise keep the
// ended leg (and its call) reachable for up to 64·T1.
func (l *Leg) forgetAck() {
	if a := l.acked.Swap(nil); a != nil {
		a.stop()
	}
}

// request makes the kept ACK a request to write again, to the same destination.
func (a *sentAck) request() (*gsip.Request, error) {
	m, err := gsip.ParseMessage([]byte(a.raw))
	if err != nil {
		return nil, err
	}
	req, ok := m.(*gsip.Request)
	if !ok {
		return nil, fmt.Errorf("kept ACK is not a request")
	}
	req.SetTransport(a.transport)
	req.SetSource(a.source)
	req.SetDestination(a.dest)
	req.Laddr = a.laddr
	return req, nil
}

// expectAck makes the next ACK with CSeq seq on the leg go to the returned waiter.
func (l *Leg) expectAck(seq uint32) *ackWait {
	w := &ackWait{seq: seq, ch: make(chan *gsip.Request, 1)}
	l.acks.Store(w)
	return w
}

// deliverAck hands an ACK that arrived on the leg to whoever waits for it.
func (l *Leg) deliverAck(req *gsip.Request) {
	w := l.acks.Load()
	if w == nil || req.CSeq() == nil || req.CSeq().SeqNo != w.seq {
		return
	}
	select {
	case w.ch <- req:
	default: // a retransmitted ACK: the first one was taken
	}
}

// beginOffer takes the call's negotiation slot: one offer/answer exchange (INVITE, re-INVITE
// or UPDATE with SDP, relayed or not) at a time. A second one while the first is pending is
// glare (RFC 3261 §14.1, RFC 3311 §5.2): it gets 491 so that the phone retries after its
// random back-off, never 488.
func (c *call) beginOffer() bool { return c.negotiating.CompareAndSwap(false, true) }

func (c *call) endOffer() { c.negotiating.Store(false) }

// respond491 answers glare.
func respond491(tx gsip.ServerTransaction, req *gsip.Request) {
	respond(tx, req, 491, "Request Pending")
}

// respond2xx sends a 2xx to an INVITE received on leg l (a re-INVITE) and retransmits it,
// T1 doubling up to T2, until its ACK arrives (RFC 3261 §13.3.1.4), for at most 64·T1. It
// returns the ACK, or nil when none came (the caller then ends the session with BYE).
func (s *Server) respond2xx(l *Leg, tx gsip.ServerTransaction, res *gsip.Response, seq uint32) *gsip.Request {
	w := l.expectAck(seq)
	defer l.acks.CompareAndSwap(w, nil)
	if err := tx.Respond(res); err != nil {
		return nil
	}
	interval := gsip.T1
	retry := time.NewTimer(interval)
	defer retry.Stop()
	giveUp := time.NewTimer(64 * gsip.T1)
	defer giveUp.Stop()
	for {
		select {
		case ack := <-w.ch:
			return ack
		case <-retry.C:
			if err := tx.Respond(res); err != nil {
				// The transaction is gone (Timer L): an ACK may still be on its way.
				select {
				case ack := <-w.ch:
					return ack
				case <-giveUp.C:
					return nil
				case <-l.done:
					return nil
				}
			}
			interval = min(2*interval, gsip.T2)
			retry.Reset(interval)
		case <-giveUp.C:
			return nil
		case <-l.done:
			return nil
		}
	}
}

// noBuild sends a request exactly as it is (Via and all): a retransmitted ACK.
func noBuild(*sipgo.Client, *gsip.Request) error { return nil }

// ackInitial ACKs the 2xx of leg B's INVITE, with body (an SDP answer to an offer B made in
// that 2xx) or without, and remembers the ACK for the 2xx's retransmissions.
func (s *Server) ackInitial(l *Leg, body []byte) error {
	dlg := l.cli
	inv, res := dlg.InviteRequest, dlg.InviteResponse
	target := inv.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	ack := gsip.NewRequest(gsip.ACK, *target.Clone())
	ack.SipVersion = inv.SipVersion
	ack.AppendHeader(gsip.HeaderClone(inv.From()))
	ack.AppendHeader(gsip.HeaderClone(res.To()))
	ack.AppendHeader(gsip.HeaderClone(inv.CallID()))
	ack.AppendHeader(ackCSeq(inv.CSeq().SeqNo))
	mf := gsip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	if c := inv.Contact(); c != nil {
		ack.AppendHeader(gsip.HeaderClone(c))
	}
	if len(body) > 0 {
		ack.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	}
	ack.SetBody(body)
	ack.SetTransport(inv.Transport())
	ack.Laddr = inv.Laddr
	err := dlg.WriteAck(context.Background(), ack)
	l.rememberAck(inv.CSeq().SeqNo, ack)
	return err
}

// ackInDialog ACKs the 2xx of a re-INVITE ccswitch sent on leg l (CSeq seq), with body or
// without, and remembers it for the 2xx's retransmissions.
func (s *Server) ackInDialog(l *Leg, seq uint32, body []byte) {
	ack := gsip.NewRequest(gsip.ACK, l.remoteTarget())
	ack.SetTransport(l.transport())
	ack.AppendHeader(ackCSeq(seq))
	if len(body) > 0 {
		ack.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	}
	ack.SetBody(body)
	if err := l.writeRequest(ack); err != nil {
		s.log.Debug("ACK of re-INVITE failed", "call_id", l.call.id, "error", err)
	}
	l.rememberAck(seq, ack)
}

// ackCSeq is the CSeq of an ACK to the INVITE with CSeq seq, as a plain header: sipgo's dialog
// stamps its last CSeq on the parsed CSeq of every request it sends, which after a PRACK or
// another request is not the INVITE's; it does not rewrite a plain header, which is what goes
// on the wire.
func ackCSeq(seq uint32) gsip.Header {
	return gsip.NewHeader("CSeq", strconv.FormatUint(uint64(seq), 10)+" ACK")
}

// reAck answers a retransmitted 2xx of an INVITE ccswitch sent on leg l with the ACK it
// already sent for it. It reports whether it matched.
func (s *Server) reAck(l *Leg, seq uint32) bool {
	a := l.acked.Load()
	if a == nil || a.seq != seq {
		return false
	}
	ua := s.legUA(l)
	req, err := a.request()
	if err == nil {
		err = ua.Client.WriteRequest(req, noBuild)
	}
	if err != nil {
		s.log.Debug("ACK retransmission failed", "call_id", l.call.id, "error", err)
	}
	return true
}

// lateOffer anchors B's offer when A's INVITE had no SDP (delayed offer): B repeats the
// same offer in every 18x and its 2xx (RFC 3261 §13.2.1), which maps to one offer to A.
// A different SDP replaces the outstanding offer.
type lateOffer struct {
	s      *Server
	callID string

	mu       sync.Mutex
	from, to []byte // B's offer and the anchored offer made of it for A
	forB     []byte // A's answer (in a PRACK), anchored for B's ACK
}

// answer takes A's answer from a PRACK (to the offer of a reliable 18x).
func (o *lateOffer) answer(ctx context.Context, who Parties, sdp []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.to == nil || o.forB != nil {
		return
	}
	b, err := o.s.anchor.Answer(ctx, o.callID, SideA, who, sdp)
	if err != nil {
		o.s.log.Info("delayed offer: the caller's answer in PRACK refused", "call_id", o.callID, "error", err)
		return
	}
	o.forB = b
}

// answered is A's anchored answer from a PRACK (nil: none yet).
func (o *lateOffer) answered() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.forB
}

func (o *lateOffer) offer(ctx context.Context, who Parties, body []byte) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.to != nil {
		if bytes.Equal(body, o.from) {
			return o.to, nil
		}
		if c, ok := o.s.anchor.(offerCanceller); ok {
			c.CancelOffer(o.callID)
		}
	}
	b, err := o.s.anchor.Offer(ctx, o.callID, SideB, who, body)
	if err != nil {
		return nil, err
	}
	o.from, o.to = bytes.Clone(body), b
	return b, nil
}

// readRequest checks the CSeq of an in-dialog request from the remote party (RFC 3261
// §12.2.2: lower than the last one → 500). On leg A the remote CSeq space starts at the
// caller's INVITE (sipgo's check); on leg B it starts with the callee's first request:
// sipgo seeds it with the CSeq of our own INVITE (random up to 32767), which refused a
// phone's first re-INVITE with a lower number.
func (l *Leg) readRequest(req *gsip.Request, tx gsip.ServerTransaction) error {
	if l.srv != nil {
		return l.srv.ReadRequest(req, tx)
	}
	seq := req.CSeq().SeqNo
	for {
		last := l.remoteSeq.Load()
		if last != 0 && seq < uint32(last) {
			return errOutOfOrder
		}
		if l.remoteSeq.CompareAndSwap(last, uint64(seq)) {
			return nil
		}
	}
}

// supportedTags is our Supported header: reliable provisionals (RFC 3262), session timers
// (RFC 4028), REFER without implicit subscription (RFC 4488). A Require of any of them is
// honoured (validate's Policy.Supported), not refused 420.
const supportedTags = "100rel, timer, norefersub"

var supportedList = []string{"100rel", "timer", "norefersub"}
