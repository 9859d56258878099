package channels

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/store"
)

// offers is the conversations' side of the ACD: it queues them through the center (one
// inbox for all their events), applies the engine's events to them — in order for each
// conversation, for different conversations at once — and keeps the offers agents see.
type offers struct {
	s     *Service
	inbox *center.Inbox
	lanes [16]lane
	seed  maphash.Seed

	mu     sync.Mutex // guards byConv (a leaf)
	byConv map[string]Offer
	wg     sync.WaitGroup
}

// lane runs the events of the conversations hashed to it, one at a time.
type lane struct {
	mu   sync.Mutex
	evs  []acd.Event
	wake chan struct{}
}

func newOffers(s *Service) *offers {
	o := &offers{s: s, inbox: center.NewInbox(), seed: maphash.MakeSeed(), byConv: map[string]Offer{}}
	for i := range o.lanes {
		o.lanes[i].wake = make(chan struct{}, 1)
	}
	return o
}

// acdChannel is the engine's channel of an adapter's conversations.
func acdChannel(adapter string) acd.Channel {
	switch ACDChannel(adapter) {
	case "chat":
		return acd.Chat
	case "email":
		return acd.Email
	}
	return acd.Social
}

// enqueue queues conversation c (queued and stored) with what it is routed with; reqs are
// the flow's parsed requirements, or nil to read c's stored ones (after a restart). The
// backpressure of a busy engine makes it wait, never fail. A conversation the engine cannot
// take (its queue is gone) ends with the reason, rather than waiting for nobody.
func (o *offers) enqueue(c store.Conversation, reqs []acd.Condition) {
	if reqs == nil && len(c.Requirements) > 0 {
		for _, r := range c.Requirements {
			cd, err := acd.ParseCondition(r)
			if err != nil {
				o.refused(c.ID, err)
				return
			}
			reqs = append(reqs, cd)
		}
	}
	t := acd.Task{ID: c.ID, Queue: c.Queue, Channel: acdChannel(c.Adapter), Priority: c.Priority, Requirements: reqs,
		Attributes: map[string]string{"adapter": c.Adapter, "customer": c.Customer}}
	err := o.s.cc.Enqueue(o.s.ctx, t, o.inbox)
	switch {
	case err == nil, errors.Is(err, center.ErrDuplicateTask):
	case errors.Is(err, acd.ErrClosed), errors.Is(err, context.Canceled):
		o.s.log.Info("not queued: stopping; the next start queues it", "task", c.ID)
	default:
		o.refused(c.ID, err)
	}
}

// refused ends a conversation the engine cannot take.
func (o *offers) refused(conv string, err error) {
	o.s.log.Error("conversation not queued: ended", "task", conv, "error", err)
	if _, _, uerr := o.s.update(conv, step{kind: stepEnded, reason: "not queued: " + err.Error()}); uerr != nil && uerr != errNoChange {
		o.s.log.Error("store end", "task", conv, "error", uerr)
	}
	o.s.flows.ended(conv, false)
}

// run hands the engine's events to the lanes until ctx ends.
func (o *offers) run(ctx context.Context) {
	for i := range o.lanes {
		o.wg.Add(1)
		go o.runLane(ctx, &o.lanes[i])
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.inbox.Ready():
		}
		for _, ev := range o.inbox.Take() {
			l := &o.lanes[maphash.String(o.seed, ev.Task)%uint64(len(o.lanes))]
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (o *offers) runLane(ctx context.Context, l *lane) {
	defer o.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		}
		l.mu.Lock()
		evs := l.evs
		l.evs = nil
		l.mu.Unlock()
		for _, ev := range evs {
			o.event(ev)
		}
	}
}

// wait returns once the lanes stopped (after Run's context ended).
func (o *offers) wait() { o.wg.Wait() }

// event applies one engine event to its conversation.
func (o *offers) event(ev acd.Event) {
	s := o.s
	conv := ev.Task
	switch ev.Kind {
	case acd.EventReservationCreated:
		c, ok, err := s.st.Conversation(conv)
		if err != nil || !ok {
			s.log.Warn("offer of an unknown conversation", "task", conv, "error", err)
			return
		}
		of := Offer{Conv: c.ID, Agent: ev.Agent, Reservation: uint64(ev.Reservation), Timeout: ev.Timeout,
			Adapter: c.Adapter, Customer: c.Customer, Queue: c.Queue}
		if cu, ok, _ := s.st.Customer(c.Customer); ok {
			of.Name, of.Customer = cu.Name, cu.ID
		}
		if ms, _ := s.st.Messages(c.ID, 0); len(ms) > 0 {
			for i := len(ms) - 1; i >= 0; i-- {
				if ms[i].Dir == store.In {
					of.Preview = ms[i].Text
					break
				}
			}
		}
		o.mu.Lock()
		o.byConv[c.ID] = of
		o.mu.Unlock()
		of.TTLMillis = max(0, of.Timeout.Sub(s.now()).Milliseconds())
		s.hub.send(ev.Agent, AgentEvent{Type: "offer", Offer: &of})
		s.lookupOffer(ev.Agent, c, of.Reservation)
	case acd.EventReservationRejected, acd.EventReservationTimedOut, acd.EventReservationCanceled:
		o.forget(conv, uint64(ev.Reservation))
		reason := map[acd.EventKind]string{acd.EventReservationRejected: "rejected", acd.EventReservationTimedOut: "timed-out",
			acd.EventReservationCanceled: "canceled"}[ev.Kind]
		c, _, _ := s.st.Conversation(conv)
		s.hub.send(ev.Agent, AgentEvent{Type: "offer-ended", Conv: &c, Reason: reason})
	case acd.EventReservationAccepted:
		o.forget(conv, 0)
		s.flows.answered(conv, ev.Agent)
		c, _, err := s.update(conv, step{kind: stepAccepted, agent: ev.Agent})
		if err != nil {
			if err != errNoChange {
				s.log.Error("store assignment", "task", conv, "agent", ev.Agent, "error", err)
			}
			return
		}
		s.hub.send(ev.Agent, AgentEvent{Type: "assigned", Conv: &c})
	case acd.EventTaskTransferred, acd.EventTaskOverflowed:
		if _, _, err := s.update(conv, step{kind: stepRequeued, queue: ev.Target}); err != nil && err != errNoChange {
			s.log.Error("store requeue", "task", conv, "queue", ev.Target, "error", err)
		}
	case acd.EventTaskAbandoned, acd.EventTaskTimedOut:
		o.forget(conv, 0)
		s.flows.ended(conv, ev.Kind == acd.EventTaskTimedOut)
		if _, _, err := s.update(conv, step{kind: stepEnded, reason: ev.Kind.String()}); err != nil && err != errNoChange {
			s.log.Error("store end", "task", conv, "error", err)
		}
	case acd.EventCommandFailed:
		s.log.Warn("ACD command failed", "command", ev.Command, "task", conv, "error", ev.Err)
		if ev.Command == "enqueue" {
			o.refused(conv, ev.Err)
		}
	}
}

// forget drops the offer of conv (of reservation res, or any when 0).
func (o *offers) forget(conv string, res uint64) {
	o.mu.Lock()
	if of, ok := o.byConv[conv]; ok && (res == 0 || of.Reservation == res) {
		delete(o.byConv, conv)
	}
	o.mu.Unlock()
}

// Offers returns the offers pending for agent.
func (s *Service) Offers(agent string) []Offer {
	s.offers.mu.Lock()
	defer s.offers.mu.Unlock()
	var out []Offer
	now := s.now()
	for _, of := range s.offers.byConv {
		if of.Agent == agent {
			of.TTLMillis = max(0, of.Timeout.Sub(now).Milliseconds())
			out = append(out, of)
		}
	}
	slices.SortFunc(out, func(a, b Offer) int { return a.Timeout.Compare(b.Timeout) })
	return out
}

// offerTo returns the offer of conv, if it is agent's.
func (s *Service) offerTo(agent, conv, op string) (Offer, error) {
	s.offers.mu.Lock()
	of, ok := s.offers.byConv[conv]
	s.offers.mu.Unlock()
	if !ok {
		return of, fmt.Errorf("channels: %s %s: no offer: %w", op, conv, ErrNotFound)
	}
	if of.Agent != agent {
		return of, fmt.Errorf("channels: %s %s: %w", op, conv, ErrNotYours)
	}
	return of, nil
}

// Accept accepts the offer of conv to agent; the assignment shows as an "assigned" event.
func (s *Service) Accept(agent, conv string) error {
	of, err := s.offerTo(agent, conv, "accept")
	if err != nil {
		return err
	}
	return s.cc.Accept(s.ctx, acd.ReservationID(of.Reservation))
}

// Reject refuses the offer of conv to agent; the engine offers it to someone else.
func (s *Service) Reject(agent, conv string) error {
	of, err := s.offerTo(agent, conv, "reject")
	if err != nil {
		return err
	}
	return s.cc.Reject(s.ctx, acd.ReservationID(of.Reservation))
}
