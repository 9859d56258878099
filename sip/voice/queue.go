package voice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
)

// ring is one attempt to reach a reserved agent.
type ring struct {
	res       acd.ReservationID
	agent     string
	cancel    context.CancelFunc
	result    chan ringResult // one value
	consumed  bool            // the result was read by Enqueue's loop
	leg       *sip.Leg        // answered, waiting for the ACD to confirm Accept
	accepting bool            // Accept was submitted for res
}

type ringResult struct {
	leg *sip.Leg
	err error
}

// drop gives up on the ring: CANCEL if it still rings, BYE to an agent leg answered (now or
// later), never bridged.
func (c *call) drop(r *ring) {
	r.cancel()
	if r.consumed {
		if r.leg != nil {
			leg := r.leg
			c.goes(func() { hangup(leg) })
		}
		return
	}
	c.goes(func() {
		if res := <-r.result; res.leg != nil {
			hangup(res.leg)
		}
	})
}

// Enqueue queues the caller through the center with hold music and waits for an agent to
// answer, the caller to leave, or the wait to end.
func (c *call) Enqueue(ctx context.Context, q ivr.QueueRequest) (ivr.QueueOutcome, error) {
	if err := c.ended(ctx); err != nil {
		return ivr.QueueOutcome{}, err
	}
	a := c.a
	start := time.Now()
	waited := func() time.Duration { return time.Since(start) }
	attrs := maps.Clone(q.Vars)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["caller"], attrs["did"], attrs["language"] = c.caller, c.did, q.Language
	pl := c.newPlace(q.Queue)
	// One task per wait: the call's ID, then "#2", "#3" if the flow queues it again.
	c.task = c.id
	if n := len(c.tasks); n > 0 {
		c.task = fmt.Sprintf("%s#%d", c.id, n+1)
	}
	task := c.task
	err := a.center.Enqueue(cmdCtx(ctx), acd.Task{ID: task, Queue: q.Queue, Channel: acd.Voice, Priority: q.Priority,
		Requirements: q.Requirements, Attributes: attrs}, c.inbox)
	if err != nil {
		return ivr.QueueOutcome{}, fmt.Errorf("voice: enqueue in %s: %w", q.Queue, err)
	}
	c.tasks = append(c.tasks, task)
	c.taskAlive = true

	// The hold (music, announcements, offers) runs until an agent answers or the caller
	// takes an option; it starts again when an option could not be taken.
	offered := &offerState{}
	var stopHold context.CancelFunc
	var holdDone chan struct{}
	startMusic := func() {
		var holdCtx context.Context
		holdCtx, stopHold = context.WithCancel(context.Background())
		holdDone = make(chan struct{})
		done := holdDone
		c.goes(func() {
			defer close(done)
			c.hold(holdCtx, q, pl, offered)
		})
	}
	stopMusic := func() {
		if stopHold != nil {
			stopHold()
			<-holdDone
			stopHold = nil
		}
	}
	startMusic()
	defer stopMusic()
	c.digits.clear() // keys pressed before the wait are not options

	var maxWait <-chan time.Time
	if q.MaxWait > 0 {
		t := time.NewTimer(q.MaxWait)
		defer t.Stop()
		maxWait = t.C
	}
	var cur *ring
	var results chan ringResult
	// giveUp ends the wait without an agent; an Accept in flight may still have taken the
	// task, so Cancel is followed by Complete (exactly one of them applies).
	giveUp := func() {
		accepting := cur != nil && cur.accepting
		if cur != nil {
			c.drop(cur)
			cur = nil
		}
		c.command("cancel", func(ctx context.Context) error { return a.center.Cancel(ctx, task) })
		if accepting {
			c.command("complete", func(ctx context.Context) error { return a.center.Complete(ctx, task) })
		}
		c.taskAlive = false
	}
	for {
		select {
		case <-c.gone:
			giveUp()
			return ivr.QueueOutcome{Result: ivr.QueueAbandoned, Waited: waited()}, nil
		case <-ctx.Done():
			giveUp()
			return ivr.QueueOutcome{}, ctx.Err()
		case <-maxWait:
			// The node's own max wait: the ACD has no "leave without abandoning" command, so
			// the task is cancelled (it counts as abandoned in the queue's figures).
			giveUp()
			return ivr.QueueOutcome{Result: ivr.QueueTimedOut, Waited: waited()}, nil

		case <-c.digits.wait():
			d, ok, _ := c.digits.pop()
			if !ok || cur != nil { // an agent is being rung: the caller is about to be answered
				continue
			}
			c.log.Debug("key while waiting", "digit", string(d), "task", task,
				"callback", offered.callback.Load(), "voicemail", offered.voicemail.Load())
			switch {
			case q.Callback != nil && offered.callback.Load() && string(d) == q.Callback.Digit:
				stopMusic()
				if number, ok := c.takeCallback(ctx, q, task); ok {
					c.taskAlive = false // the callbacks own it now
					return ivr.QueueOutcome{Result: ivr.QueueCallback, Waited: waited(), Number: number}, nil
				}
				if err := c.ended(ctx); err != nil {
					giveUp()
					return ivr.QueueOutcome{Result: ivr.QueueAbandoned, Waited: waited()}, nil
				}
				startMusic()
			case q.Voicemail != nil && offered.voicemail.Load() && string(d) == q.Voicemail.Digit:
				stopMusic()
				giveUp() // the message replaces the call in the queue
				ref, err := c.leaveVoicemail(ctx, q)
				if err != nil {
					return ivr.QueueOutcome{}, err
				}
				return ivr.QueueOutcome{Result: ivr.QueueVoicemail, Waited: waited(), Recording: ref}, nil
			}

		case <-c.inbox.Ready():
			for _, ev := range c.inbox.Take() {
				if ev.Task != task {
					continue // an earlier wait's task finishing its wrap-up
				}
				switch ev.Kind {
				case acd.EventReservationCreated:
					if cur != nil { // cannot happen (one reservation per task); be safe
						c.drop(cur)
					}
					cur, results = c.ring(ev), nil
					if cur != nil {
						results = cur.result
					}
				case acd.EventReservationTimedOut, acd.EventReservationCanceled, acd.EventReservationRejected:
					if cur != nil && cur.res == ev.Reservation {
						c.log.Debug("reservation ended: stop ringing", "agent", ev.Agent, "task", task, "event", ev.Kind.String())
						c.drop(cur) // still ringing: CANCEL; answered but the Accept lost: BYE
						cur, results = nil, nil
						c.mc.CancelOffer()
					}
				case acd.EventReservationAccepted:
					if cur != nil && cur.res == ev.Reservation && cur.leg != nil {
						stopMusic()
						leg := cur.leg
						cur, results = nil, nil
						if err := c.bridge(leg); err != nil {
							// Accepted but not bridged: end the task so the agent is freed.
							c.command("complete", func(ctx context.Context) error { return a.center.Complete(ctx, task) })
							c.taskAlive = false
							return ivr.QueueOutcome{}, err
						}
						c.agent, c.bridgedAt = ev.Agent, time.Now()
						a.setLive(ev.Agent, c, true) // supervisors may monitor it now
						return ivr.QueueOutcome{Result: ivr.QueueAnswered, Agent: ev.Agent, Waited: waited()}, nil
					}
				case acd.EventTaskTimedOut:
					if cur != nil {
						c.drop(cur)
						cur = nil
					}
					c.taskAlive = false
					return ivr.QueueOutcome{Result: ivr.QueueTimedOut, Waited: waited()}, nil
				case acd.EventCommandFailed:
					if ev.Command == "enqueue" { // the engine refused the task (requirements...)
						if cur != nil {
							c.drop(cur)
						}
						c.taskAlive = false
						return ivr.QueueOutcome{}, fmt.Errorf("voice: enqueue in %s: %w", q.Queue, ev.Err)
					}
				}
			}

		case r := <-results:
			results = nil
			if cur == nil {
				break
			}
			cur.consumed = true
			if r.err != nil {
				c.mc.CancelOffer()
				var de *sip.DialError
				if errors.As(r.err, &de) && (de.Cause == "no-answer" || de.Cause == "cancelled") {
					// RONA: the engine's timeout re-offers the task; keep cur until its event.
					c.log.Info("agent did not answer", "agent", cur.agent, "task", task)
					cur.leg = nil
					continue
				}
				c.log.Info("agent unreachable: reject", "agent", cur.agent, "task", task, "error", r.err)
				res := cur.res
				c.command("reject", func(ctx context.Context) error { return a.center.Reject(ctx, res) })
				cur = nil
				continue
			}
			cur.leg = r.leg
			res := cur.res
			if err := c.command("accept", func(ctx context.Context) error { return a.center.Accept(ctx, res) }); err != nil {
				hangup(r.leg)
				c.mc.CancelOffer()
				cur = nil
				continue
			}
			cur.accepting = true
			// Bridged on EventReservationAccepted; hung up on TimedOut/Canceled.
		}
	}
}

func hangup(l *sip.Leg) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	l.Hangup(ctx)
	cancel()
}

// ring rings the reserved agent's extension with an offer for leg B, bounded by the
// reservation's timeout (the engine's RONA event comes first and CANCELs it).
func (c *call) ring(ev acd.Event) *ring {
	a := c.a
	srv := a.srv.Load()
	ext, ok := a.center.ExtensionOf(ev.Agent)
	reject := func() {
		c.command("reject", func(ctx context.Context) error { return a.center.Reject(ctx, ev.Reservation) })
	}
	if srv == nil || !ok {
		c.log.Warn("reserved agent has no extension: reject", "agent", ev.Agent, "task", ev.Task)
		reject()
		return nil
	}
	c.mc.CancelOffer()
	c.mc.SetPeer(media.LegB, c.a.peerOf(sip.Party{User: ext}))
	offer, err := c.mc.OfferTo(media.LegB, media.SendRecv)
	if err != nil {
		c.log.Warn("no offer for the agent: reject", "agent", ev.Agent, "task", ev.Task, "error", err)
		reject()
		return nil
	}
	timeout := time.Until(ev.Timeout) + 500*time.Millisecond
	if ev.Timeout.IsZero() || timeout <= 0 {
		timeout = 0 // sip's ring_timeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &ring{res: ev.Reservation, agent: ev.Agent, cancel: cancel, result: make(chan ringResult, 1)}
	c.log.Info("ringing agent", "agent", ev.Agent, "task", ev.Task, "extension", ext, "timeout", timeout)
	if f := a.onRing; f != nil {
		c.goes(func() { f(ev.Agent, c.id, c.caller) })
	}
	c.goes(func() {
		leg, err := srv.Dial(ctx, sip.DialRequest{Extension: ext, CallerID: c.caller, SDP: offer, Timeout: timeout, Parent: c.id})
		r.result <- ringResult{leg: leg, err: err}
	})
	return r
}
