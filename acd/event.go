package acd

import (
	"strconv"
	"time"
)

// EventKind names an Event.
type EventKind uint8

const (
	// EventTaskQueued: the task entered Queue (Enqueue, Transfer, Overflow
	// or a requeue after reject/RONA show as their own kinds first).
	EventTaskQueued EventKind = iota + 1
	// EventReservationCreated: Task is offered to Agent under Reservation;
	// the voice path rings the agent, the text path shows the offer. It
	// ends with exactly one of Accepted, Rejected, TimedOut, Canceled.
	EventReservationCreated
	// EventReservationAccepted: the agent took the task.
	EventReservationAccepted
	// EventReservationRejected: the agent refused; the task is back at
	// its place.
	EventReservationRejected
	// EventReservationTimedOut: RONA, no answer within the queue's
	// RONATimeout; the task is back at its place. The voice path stops
	// ringing.
	EventReservationTimedOut
	// EventReservationCanceled: the task was cancelled, transferred or
	// the agent logged out while ringing; stop ringing.
	EventReservationCanceled
	// EventTaskRelaxed: a relaxation step applied to a waiting task;
	// Stage is the number of steps applied.
	EventTaskRelaxed
	// EventTaskTransferred: the task left Queue for Target; Agent is set
	// when an accepted task was taken off that agent.
	EventTaskTransferred
	// EventTaskOverflowed: max wait passed; the task left Queue for Target.
	EventTaskOverflowed
	// EventTaskCompleted: terminal, the accepted task was completed.
	EventTaskCompleted
	// EventTaskAbandoned: terminal, the task was cancelled before it was
	// accepted (caller hung up).
	EventTaskAbandoned
	// EventTaskTimedOut: terminal, max wait passed and there was no
	// overflow queue (or its queue was removed by Apply).
	EventTaskTimedOut
	// EventWrapUpEnded: the agent's wrap-up after Task ended (at once
	// after EventTaskCompleted when the queue has no WrapUp); its slot is
	// free and the task ID may be reused.
	EventWrapUpEnded
	// EventAgentState: the agent's state changed to State (Reason for
	// not ready).
	EventAgentState
	// EventCommandFailed: a submitted command could not apply; Err says
	// why (ErrNoReservation when an Accept lost the race with RONA).
	EventCommandFailed
)

var eventNames = [...]string{"", "task-queued", "reservation-created", "reservation-accepted",
	"reservation-rejected", "reservation-timed-out", "reservation-canceled", "task-relaxed",
	"task-transferred", "task-overflowed", "task-completed", "task-abandoned", "task-timed-out",
	"wrap-up-ended", "agent-state", "command-failed"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k > 0 {
		return eventNames[k]
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Terminal reports whether k ends a task.
func (k EventKind) Terminal() bool {
	return k == EventTaskCompleted || k == EventTaskAbandoned || k == EventTaskTimedOut
}

// Event is one decision or change reported to the Sink. Fields that do
// not apply to the kind are zero.
type Event struct {
	Kind        EventKind
	Time        time.Time
	Task        string
	Agent       string
	Queue       string
	Target      string // transfer or overflow destination
	Channel     Channel
	Reservation ReservationID
	// Timeout is when a created reservation will time out.
	Timeout time.Time
	// Wait is how long the task waited before this event (since Enqueue).
	Wait   time.Duration
	State  AgentState
	Reason string
	Stage  int
	// Command is the failed command's kind for EventCommandFailed.
	Command string
	Err     error
	// TaskTag and AgentTag are the Tag of Task and Agent (Task.Tag, AgentDef.Tag); zero
	// when the event names no task or no agent, and in EventCommandFailed except for the
	// TaskTag of a failed Enqueue.
	TaskTag, AgentTag uint64
}

// Sink receives the engine's events. Event is called on the engine
// goroutine (the one running Run), one event at a time, in decision
// order. It must not block and must not call Sync; it may submit
// commands (they return ErrBusy rather than block when the ring is full)
// and may hand the event to another goroutine. The Event is a value; it
// is the receiver's to keep.
type Sink interface {
	Event(ev Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ev Event)

// Event calls f.
func (f SinkFunc) Event(ev Event) { f(ev) }

// ReservationID identifies one offer of one task to one agent. It is
// never reused by an engine.
type ReservationID uint64

// AgentState is an agent's state as the engine and snapshots report it.
type AgentState uint8

const (
	Offline AgentState = iota
	// Available: logged in and ready for tasks.
	Available
	// NotReady: logged in, not taking tasks; Reason says why.
	NotReady
	// Busy: holding at least one reserved or accepted task.
	Busy
	// WrapUp: no task in progress, finishing the after-work of one.
	WrapUp
	// RONA: not taking tasks after RONAMisses unanswered offers; the
	// agent leaves it with SetState(Available).
	RONA
	// NumAgentStates is the number of states.
	NumAgentStates
)

var stateNames = [...]string{"offline", "available", "not-ready", "busy", "wrap-up", "rona"}

func (s AgentState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state's name ("not-ready"), as JSON does for the desktop.
func (s AgentState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
