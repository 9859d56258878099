package hook

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// Event is one JSON body POSTed to an endpoint.
type Event struct {
	// ID is unique per event and the same on every attempt and endpoint: receivers dedupe on it.
	ID string `json:"id"`
	// Type is offer, accept, end or wrapup.
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Task is the call's task id or the conversation id.
	Task string `json:"task"`
	// Kind is call or conversation.
	Kind string `json:"kind"`
	// Channel is the ACD channel: voice, chat, email or social.
	Channel string `json:"channel"`
	Queue   string `json:"queue,omitempty"`
	Agent   string `json:"agent,omitempty"`
	// Reason says how an end came: task-completed, task-abandoned or task-timed-out.
	Reason string `json:"reason,omitempty"`
	// WaitMS is how long the task had waited in queue when the event happened.
	WaitMS int64 `json:"wait_ms,omitempty"`
	// Details describe the task beyond the engine's view (a conversation's adapter, customer
	// and wrap-up code), when a Details source is configured.
	Details map[string]string `json:"details,omitempty"`
}

// Types are the event types, as written in the config's webhooks[].events.
var Types = []string{"offer", "accept", "end", "wrapup"}

// FromACD maps an engine event to a webhook event; ok is false for kinds not sent.
func FromACD(ev acd.Event) (Event, bool) {
	e := Event{Time: ev.Time, Task: ev.Task, Channel: ev.Channel.String(), Queue: ev.Queue, Agent: ev.Agent,
		WaitMS: ev.Wait.Milliseconds()}
	switch ev.Kind {
	case acd.EventReservationCreated:
		e.Type = "offer"
	case acd.EventReservationAccepted:
		e.Type = "accept"
	case acd.EventTaskCompleted, acd.EventTaskAbandoned, acd.EventTaskTimedOut:
		e.Type, e.Reason = "end", ev.Kind.String()
	case acd.EventWrapUpEnded:
		e.Type = "wrapup"
	default:
		return Event{}, false
	}
	e.Kind = "conversation"
	if ev.Channel == acd.Voice {
		e.Kind = "call"
	}
	return e, true
}

func newID() string { return "evt-" + strings.ToLower(rand.Text()[:20]) }
