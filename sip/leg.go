package sip

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/sip/limit"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/store"
)

// Leg is one SIP dialog of a call, seen from ccswitch: side A (we are its UAS) or side B
// (we are its UAC). A Leg ends once (BYE either way, or Hangup); ending a bridged leg ends
// its peer too.
type Leg struct {
	s    *Server
	side Side
	key  string // Call-ID "|" our tag
	srv  *sipgo.DialogServerSession
	cli  *sipgo.DialogClientSession
	call *call
	sdp  []byte // the remote party's last SDP (A: its offer; B: its answer)
	// party is who the remote party is (for the media anchor): its source, user or trunk.
	party Party

	peer        atomic.Pointer[Leg]
	inDialog    atomic.Pointer[InDialogFunc]
	acks        atomic.Pointer[ackWait]      // the ACK awaited on this leg (offer.go)
	acked       atomic.Pointer[sentAck]      // the last ACK sent on this leg (offer.go)
	media       atomic.Pointer[mediaRef]     // set when a transfer joined the leg to another call's media
	transferred atomic.Pointer[func(*Leg)]   // OnTransferred
	timer       atomic.Pointer[sessionTimer] // the leg's session timer (sessiontimer.go), nil: none
	// remoteSeq is the CSeq of the remote party's last in-dialog request on leg B (0: none).
	remoteSeq atomic.Uint64
	ended     atomic.Bool
	done      chan struct{}
}

// InDialogFunc answers an in-dialog request (re-INVITE, UPDATE, INFO) on a leg that is not
// bridged: it gets the method, Content-Type and body, and returns the status code and the
// response body (an SDP answer for an offer; nil for none).
type InDialogFunc func(method, contentType string, body []byte) (code int, answer []byte)

// OnInDialog sets (or, with nil, clears) the handler of in-dialog requests that arrive on
// this leg while it has no bridged peer (an App-owned caller: DTMF INFO, hold re-INVITE).
// Without one such requests get 501. A bridged leg relays them to its peer instead.
func (l *Leg) OnInDialog(f func(method, contentType string, body []byte) (int, []byte)) {
	if f == nil {
		l.inDialog.Store(nil)
		return
	}
	h := InDialogFunc(f)
	l.inDialog.Store(&h)
}

func newLeg(s *Server, c *call, side Side) *Leg {
	return &Leg{s: s, side: side, call: c, done: make(chan struct{})}
}

// Side tells which side of its call the leg is.
func (l *Leg) Side() Side { return l.side }

// SDP returns the remote party's session description (A: its offer; B: its answer).
func (l *Leg) SDP() []byte { return l.sdp }

// Party returns who the remote party is: where its signalling came from, and the extension
// or trunk it is (for the media anchor's SetPeer).
func (l *Leg) Party() Party { return l.party }

// CallID returns ccswitch's id of the call the leg belongs to.
func (l *Leg) CallID() string { return l.call.id }

// Done is closed when the leg has ended.
func (l *Leg) Done() <-chan struct{} { return l.done }

// Hangup ends the leg with a BYE (and its bridged peer, if any).
func (l *Leg) Hangup(ctx context.Context) {
	l.finish(ctx, true, "hangup")
}

// remoteTarget is where in-dialog requests to the remote party go.
func (l *Leg) remoteTarget() gsip.Uri {
	if l.srv != nil {
		if c := l.srv.InviteRequest.Contact(); c != nil {
			return *c.Address.Clone()
		}
		return *l.srv.InviteRequest.Recipient.Clone()
	}
	if r := l.cli.InviteResponse; r != nil {
		if c := r.Contact(); c != nil {
			return *c.Address.Clone()
		}
	}
	return *l.cli.InviteRequest.Recipient.Clone()
}

func (l *Leg) transactionRequest(ctx context.Context, req *gsip.Request) (gsip.ClientTransaction, error) {
	if l.srv != nil {
		return l.srv.TransactionRequest(ctx, req)
	}
	return l.cli.TransactionRequest(ctx, req)
}

func (l *Leg) writeRequest(req *gsip.Request) error {
	if l.srv != nil {
		return l.srv.WriteRequest(req)
	}
	return l.cli.WriteRequest(req)
}

// register makes the leg findable by in-dialog requests and responses.
func (l *Leg) register() {
	if l.srv != nil {
		tag, _ := l.srv.InviteRequest.To().Params.Get("tag")
		l.key = l.srv.InviteRequest.CallID().Value() + "|" + tag
	} else {
		tag, _ := l.cli.InviteRequest.From().Params.Get("tag")
		l.key = l.cli.InviteRequest.CallID().Value() + "|" + tag
	}
	l.s.legs.Store(l.key, l)
}

// finish ends the leg once: BYE to the remote party if sendBye, then the peer, then the
// call record if this was the call's last leg.
func (l *Leg) finish(ctx context.Context, sendBye bool, cause string) {
	if !l.ended.CompareAndSwap(false, true) {
		return
	}
	if l.key != "" {
		l.s.legs.Delete(l.key)
	}
	if st := l.timer.Load(); st != nil {
		st.stop()
	}
	l.forgetAck()
	if sendBye {
		bctx, cancel := context.WithTimeout(ctx, 8*time.Second)
		if l.srv != nil {
			l.srv.Bye(bctx)
		} else {
			l.cli.Bye(bctx)
		}
		cancel()
	}
	l.call.legEnded(l, cause)
	close(l.done)
	if p := l.peer.Load(); p != nil {
		p.finish(ctx, true, cause)
	}
}

// call is one call: its record and legs. The INVITE handler that creates it owns it until
// leg A has its final answer; afterwards BYE handlers end it.
type call struct {
	s  *Server
	id string

	mu       sync.Mutex
	rec      store.CallRecord
	aFinal   bool // leg A has its final response: no provisional may follow
	legs     []*Leg
	live     int
	written  bool
	stopRing context.CancelFunc
	hold     *limit.Hold   // the call's limit slots (limits.go), released by end
	holds    []*limit.Hold // more limit slots: a transfer target's (transfer.go)
	rel      *reliableA    // 100rel state of leg A (prack.go); set before ringing, then read-only
	// negotiating is held by the offer/answer exchange in progress (offer.go): glare → 491.
	negotiating atomic.Bool
}

func (s *Server) newCall(req *gsip.Request, dir, trunk string) *call {
	c := &call{s: s, id: newID()}
	now := time.Now()
	c.rec = store.CallRecord{ID: c.id, Direction: dir, Start: now, Trunk: trunk}
	if req != nil {
		c.rec.CallID = req.CallID().Value()
		c.rec.From = req.From().Address.User
		c.rec.To = req.Recipient.User
	}
	s.calls.Store(c.id, c)
	return c
}

func (c *call) addLeg(l *Leg, peer string, start time.Time, callID string) {
	c.mu.Lock()
	c.legs = append(c.legs, l)
	c.live++
	c.rec.Legs = append(c.rec.Legs, store.LegRecord{Role: string(l.side), CallID: callID, Peer: peer, Start: start})
	c.mu.Unlock()
}

func (c *call) legRecord(l *Leg) *store.LegRecord {
	for i, x := range c.legs {
		if x == l && i < len(c.rec.Legs) {
			return &c.rec.Legs[i]
		}
	}
	return nil
}

// answered marks a leg's 2xx.
func (c *call) answered(l *Leg, code int) {
	now := time.Now()
	c.mu.Lock()
	if r := c.legRecord(l); r != nil {
		r.Code = code
		r.Answer = now
	}
	if c.rec.Answer.IsZero() && l.side == SideA {
		c.rec.Answer = now
	}
	hold := c.hold
	c.mu.Unlock()
	if l.side == SideA {
		hold.Answered()
	}
}

func (c *call) legEnded(l *Leg, cause string) {
	now := time.Now()
	c.mu.Lock()
	if r := c.legRecord(l); r != nil && r.End.IsZero() {
		r.End = now
	}
	c.live--
	last := c.live <= 0
	if c.rec.Cause == "" {
		c.rec.Cause = cause
	}
	c.mu.Unlock()
	if last {
		c.end(0, "")
	}
}

// end hands the call record on once and forgets the call. code/cause fill in what is unset.
func (c *call) end(code int, cause string) {
	c.mu.Lock()
	if c.written {
		c.mu.Unlock()
		return
	}
	c.written = true
	if c.rec.Code == 0 {
		c.rec.Code = code
	}
	if c.rec.Cause == "" {
		c.rec.Cause = cause
	}
	c.rec.End = time.Now()
	rec := c.rec
	hold := c.hold
	holds := c.holds
	rec.Legs = slices.Clone(c.rec.Legs)
	c.mu.Unlock()
	hold.Release()
	if c.rel != nil {
		c.rel.forget()
	}
	for _, h := range holds {
		h.Release()
	}
	c.s.calls.Delete(c.id)
	c.s.withMedia(c.id, &rec) // before the anchor releases the call's media
	c.s.anchor.Release(c.id)
	c.s.record(rec)
}

// addHold makes c.end release h too.
func (c *call) addHold(h *limit.Hold) {
	c.mu.Lock()
	written := c.written
	if !written {
		c.holds = append(c.holds, h)
	}
	c.mu.Unlock()
	if written {
		h.Release()
	}
}

// stop ends the call for shutdown: stop ringing, hang up the legs.
func (c *call) stop(cause string) {
	c.mu.Lock()
	stop := c.stopRing
	legs := append([]*Leg(nil), c.legs...)
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, l := range legs {
		if l.srv != nil && l.srv.LoadState() < gsip.DialogStateEstablished {
			continue // not answered: the INVITE handler answers it
		}
		// RFC 3261 §15: the callee must not BYE before the ACK of its 2xx. A leg answered an
		// instant ago waits (bounded by ctx) for that ACK; ending it earlier lost the ACK and
		// left the 2xx retransmitting without a BYE (seen in TestSIPpShutdownByesCalls).
		for l.srv != nil && l.srv.LoadState() == gsip.DialogStateEstablished && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		l.finish(ctx, true, cause)
	}
}
