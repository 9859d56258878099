package channels

import (
	"fmt"

	"github.com/ccswitch/ccswitch/acd"
)

// ACDRouter adapts the queue engine to Router.
type ACDRouter struct{ E *acd.Engine }

// NewACDRouter returns a Router submitting commands to e. Pass the engine's events to
// Service.ACDEvent (from the engine's Sink).
func NewACDRouter(e *acd.Engine) *ACDRouter { return &ACDRouter{E: e} }

// Enqueue parses t's requirements and enqueues it.
func (r *ACDRouter) Enqueue(t Task) error {
	ch, err := acd.ParseChannel(t.Channel)
	if err != nil {
		return err
	}
	reqs := make([]acd.Condition, 0, len(t.Requirements))
	for _, s := range t.Requirements {
		c, err := acd.ParseCondition(s)
		if err != nil {
			return fmt.Errorf("channels: task %s: %w", t.ID, err)
		}
		reqs = append(reqs, c)
	}
	return r.E.Enqueue(acd.Task{ID: t.ID, Queue: t.Queue, Channel: ch, Priority: t.Priority,
		Requirements: reqs, Attributes: t.Attributes})
}

func (r *ACDRouter) Cancel(task string) error          { return r.E.Cancel(task) }
func (r *ACDRouter) Transfer(task, queue string) error { return r.E.Transfer(task, queue) }
func (r *ACDRouter) Accept(res uint64) error           { return r.E.Accept(acd.ReservationID(res)) }
func (r *ACDRouter) Reject(res uint64) error           { return r.E.Reject(acd.ReservationID(res)) }
func (r *ACDRouter) Complete(task string) error        { return r.E.Complete(task) }
func (r *ACDRouter) EndWrapUp(task string) error       { return r.E.EndWrapUp(task) }
func (r *ACDRouter) Login(agent string) error          { return r.E.AgentLogin(agent) }
func (r *ACDRouter) Logout(agent string) error         { return r.E.AgentLogout(agent) }

// SetReady sets the agent Available or NotReady with reason.
func (r *ACDRouter) SetReady(agent string, ready bool, reason string) error {
	if ready {
		return r.E.SetState(agent, acd.Available, "")
	}
	return r.E.SetState(agent, acd.NotReady, reason)
}

// ConvertACDEvent maps an engine event to a Router event; ok is false for kinds the text
// side ignores.
func ConvertACDEvent(ev acd.Event) (Event, bool) {
	out := Event{Task: ev.Task, Agent: ev.Agent, Queue: ev.Queue, Reservation: uint64(ev.Reservation),
		Timeout: ev.Timeout, Reason: ev.Reason, Err: ev.Err}
	switch ev.Kind {
	case acd.EventReservationCreated:
		out.Kind = Offered
	case acd.EventReservationAccepted:
		out.Kind = Accepted
	case acd.EventReservationRejected:
		out.Kind, out.Reason = OfferEnded, "rejected"
	case acd.EventReservationTimedOut:
		out.Kind, out.Reason = OfferEnded, "timed-out"
	case acd.EventReservationCanceled:
		out.Kind, out.Reason = OfferEnded, "canceled"
	case acd.EventTaskTransferred, acd.EventTaskOverflowed:
		out.Kind, out.Queue = Requeued, ev.Target
	case acd.EventTaskCompleted, acd.EventTaskAbandoned, acd.EventTaskTimedOut:
		out.Kind, out.Reason = Ended, ev.Kind.String()
	case acd.EventAgentState:
		out.Kind, out.State = AgentChanged, ev.State.String()
	case acd.EventCommandFailed:
		out.Kind, out.Reason = Failed, ev.Command
	default:
		return Event{}, false
	}
	return out, true
}

// ACDEvent takes one engine event. It never blocks, so it may be called from the engine's Sink.
func (s *Service) ACDEvent(ev acd.Event) {
	if e, ok := ConvertACDEvent(ev); ok {
		s.RouterEvent(e)
	}
}
