package channels

import "time"

// Router is what the conversation service needs from the queue engine (acd). NewACDRouter
// adapts *acd.Engine to it; the engine's events come back through Service.ACDEvent.
// Every method submits a command and returns without waiting for its effect.
type Router interface {
	Enqueue(t Task) error
	Cancel(task string) error
	Transfer(task, queue string) error
	Accept(reservation uint64) error
	Reject(reservation uint64) error
	Complete(task string) error
	EndWrapUp(task string) error
	Login(agent string) error
	Logout(agent string) error
	SetReady(agent string, ready bool, reason string) error
}

// Task is a conversation to route; ID is the conversation id.
type Task struct {
	ID           string
	Queue        string
	Channel      string // chat, email, social
	Priority     int
	Requirements []string // "language == fr"
	Attributes   map[string]string
}

// EventKind is what happened in the router.
type EventKind uint8

// Router events the service acts on.
const (
	Offered      EventKind = iota + 1 // Reservation offers Task to Agent until Timeout
	Accepted                          // the agent took it
	OfferEnded                        // rejected, timed out or cancelled: Reason says which
	Requeued                          // the task entered Queue (transfer, overflow)
	Ended                             // terminal: completed, abandoned or timed out
	AgentChanged                      // agent State (and Reason) changed
	Failed                            // a command failed: Err
)

// Event is one router decision about a task or an agent.
type Event struct {
	Kind        EventKind
	Task        string
	Agent       string
	Queue       string
	Reservation uint64
	Timeout     time.Time
	State       string // agent state: offline, available, not-ready, busy, wrap-up, rona
	Reason      string
	Err         error
}
