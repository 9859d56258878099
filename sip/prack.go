package sip

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Reliable provisional responses (RFC 3262) on leg A. A caller whose INVITE says Require:
// 100rel gets every 18x reliably: Require: 100rel, RSeq (rising by one), retransmitted (T1
// doubling up to T2, for 64·T1) until its PRACK, which ccswitch answers 200. One reliable
// provisional is outstanding at a time (§3): a 18x while the previous is unacknowledged is not
// sent. A PRACK may carry the caller's answer to an offer ccswitch made in a reliable 18x
// (delayed offer): that answer then goes to the callee in its ACK.
//
// Leg B: an INVITE carrying our offer says Supported: 100rel; each new reliable 18x (a higher
// RSeq) is PRACKed in its early dialog (RAck, through sipgo's dialog so later requests keep
// rising CSeqs). The ACK then carries the INVITE's CSeq as a plain header (ackCSeq), which
// sipgo's dialog does not restamp. An INVITE without SDP does not offer 100rel: an offer in a
// reliable 18x would need our answer in the PRACK, which only A could give.

// reliableA is the 100rel state of one caller's INVITE.
type reliableA struct {
	s   *Server
	c   *call
	l   *Leg
	tx  gsip.ServerTransaction
	key string // Call-ID "|" our tag: where PRACKs find it (Server.early)

	mu       sync.Mutex
	rseq     uint32
	pending  *relPending
	onAnswer func(sdp []byte) // an SDP in a PRACK (the answer to an offer in a reliable 18x)
}

type relPending struct {
	rseq  uint32
	acked chan struct{}
	once  sync.Once
}

// wantsReliable reports whether a caller requires reliable provisionals.
func wantsReliable(req *gsip.Request) bool { return hasTag(req, "Require", "100rel") }

// newReliableA starts the 100rel state of leg A's INVITE (tx is its transaction).
func (s *Server) newReliableA(c *call, l *Leg, tx gsip.ServerTransaction) *reliableA {
	tag, _ := l.srv.InviteRequest.To().Params.Get("tag")
	r := &reliableA{s: s, c: c, l: l, tx: tx, key: l.srv.InviteRequest.CallID().Value() + "|" + tag,
		rseq: uint32(time.Now().UnixNano()%100000) + 1}
	s.early.Store(r.key, r)
	c.rel = r
	return r
}

// progressA sends a provisional response on leg A: reliably when the caller requires it.
// Callers keep invariant 2 (no provisional after the final answer).
func (s *Server) progressA(c *call, l *Leg, code int, reason string, body []byte, hdrs ...gsip.Header) error {
	rel := c.rel // set before any provisional can be sent, never changed
	if rel == nil {
		return l.srv.Respond(code, reason, body, hdrs...)
	}
	return rel.send(code, reason, body, hdrs)
}

func (r *reliableA) send(code int, reason string, body []byte, hdrs []gsip.Header) error {
	r.mu.Lock()
	if p := r.pending; p != nil {
		select {
		case <-p.acked:
		default:
			r.mu.Unlock()
			return nil // the previous reliable 18x is not PRACKed yet (RFC 3262 §3)
		}
	}
	r.rseq++
	p := &relPending{rseq: r.rseq, acked: make(chan struct{})}
	r.pending = p
	r.mu.Unlock()
	res := gsip.NewResponseFromRequest(r.l.srv.InviteRequest, code, reason, body)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	res.AppendHeader(gsip.NewHeader("Require", "100rel"))
	res.AppendHeader(gsip.NewHeader("RSeq", strconv.FormatUint(uint64(p.rseq), 10)))
	ua := r.s.legUA(r.l)
	res.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	if err := r.tx.Respond(res); err != nil {
		return err
	}
	r.s.wg.Add(1)
	go r.retransmit(res, p)
	return nil
}

// retransmit resends a reliable 18x until its PRACK, the final answer, or 64·T1.
func (r *reliableA) retransmit(res *gsip.Response, p *relPending) {
	defer r.s.wg.Done()
	iv := gsip.T1
	t := time.NewTimer(iv)
	defer t.Stop()
	giveUp := time.NewTimer(64 * gsip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-p.acked:
			return
		case <-giveUp.C:
			return
		case <-r.tx.Done():
			return
		case <-r.s.runCtx.Done():
			return
		case <-t.C:
			r.c.mu.Lock()
			if !r.c.aFinal {
				r.tx.Respond(res)
			}
			final := r.c.aFinal
			r.c.mu.Unlock()
			if final {
				return
			}
			iv = min(2*iv, gsip.T2)
			t.Reset(iv)
		}
	}
}

// prack acknowledges RSeq rseq; it reports whether rseq was one of ours.
func (r *reliableA) prack(rseq uint32) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.pending; p != nil && p.rseq == rseq {
		p.once.Do(func() { close(p.acked) })
		return true
	}
	return r.pending != nil && rseq < r.rseq && rseq > 0 // a retransmitted PRACK
}

// onPrack answers a PRACK: 200 for one of our reliable 18x, else 481.
func (s *Server) onPrack(req *gsip.Request, tx gsip.ServerTransaction) {
	tag, _ := req.To().Params.Get("tag")
	v, ok := s.early.Load(req.CallID().Value() + "|" + tag)
	if !ok {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	r := v.(*reliableA)
	rack := req.GetHeader("RAck")
	if rack == nil {
		respond(tx, req, 400, "Missing RAck")
		return
	}
	f := strings.Fields(rack.Value())
	n, err := strconv.ParseUint(firstOr(f), 10, 32)
	if err != nil || len(f) != 3 || !strings.EqualFold(f[2], "INVITE") || !r.prack(uint32(n)) {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	if body := req.Body(); len(body) > 0 {
		r.mu.Lock()
		f := r.onAnswer
		r.mu.Unlock()
		if f != nil {
			f(body)
		}
	}
	respond(tx, req, 200, "OK")
}

func firstOr(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// prackB acknowledges a reliable provisional of leg B's INVITE (dlg) unless its RSeq was
// acknowledged already (*last); the PRACK's answer is awaited on its own goroutine.
func (s *Server) prackB(dlg *sipgo.DialogClientSession, res *gsip.Response, last *uint32) {
	h := res.GetHeader("RSeq")
	if h == nil {
		return
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil || uint32(n) <= *last {
		return // a retransmission: its PRACK's own transaction retransmits
	}
	*last = uint32(n)
	target := dlg.InviteRequest.Recipient
	if c := res.Contact(); c != nil {
		target = c.Address
	}
	req := gsip.NewRequest(gsip.PRACK, *target.Clone())
	req.AppendHeader(gsip.NewHeader("RAck", strconv.FormatUint(n, 10)+" "+strconv.FormatUint(uint64(dlg.InviteRequest.CSeq().SeqNo), 10)+" INVITE"))
	req.SetBody(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	tx, err := dlg.TransactionRequest(ctx, req)
	if err != nil {
		cancel()
		s.log.Debug("PRACK failed", "error", err)
		return
	}
	stop := context.AfterFunc(s.runCtx, cancel) // shutdown stops the wait
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer stop()
		defer cancel()
		defer tx.Terminate()
		awaitFinal(ctx, tx)
	}()
}

// forget drops the call's 100rel state (c.end).
func (r *reliableA) forget() { r.s.early.Delete(r.key) }
