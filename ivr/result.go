package ivr

import (
	"fmt"
	"time"

	"github.com/ccswitch/ccswitch/ivr/calendar"
)

// Outcome is how a run ended.
type Outcome uint8

const (
	// OutcomeHangup: the flow ended (hangup node, or a path with no next node) and the
	// contact was hung up.
	OutcomeHangup Outcome = iota
	// OutcomeAnswered: an agent answered the contact from a queue.
	OutcomeAnswered
	// OutcomeRoute: the number is open and has a plain target; the caller (sip) rings
	// Result.Target. The interaction was not touched.
	OutcomeRoute
	// OutcomeTransferred: a transfer node handed the contact to Result.Target.
	OutcomeTransferred
	// OutcomeUnavailable: the number was closed (or on holiday), or no agent was logged in to
	// the queue; the unavailability prompt was played and the contact hung up.
	OutcomeUnavailable
	// OutcomeAbandoned: the contact left (hung up, closed the conversation, or gave up
	// waiting in a queue).
	OutcomeAbandoned
	// OutcomeFailed: the run stopped on an error (a loop, a channel failure); Run returns
	// the error and the contact was hung up if possible.
	OutcomeFailed
	// OutcomeCallback: the caller accepted a callback in a queue and was hung up; the queue
	// calls them back (Result.Target is the number).
	OutcomeCallback
	// OutcomeVoicemail: the caller left a message to the queue (Result.Recordings).
	OutcomeVoicemail
)

var outcomeNames = [...]string{"hangup", "answered", "route", "transferred", "unavailable", "abandoned", "failed", "callback", "voicemail"}

func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Result is what happened to a contact in ivr: for the call record and the customer's
// timeline.
type Result struct {
	DID     string
	Flow    string // "" for a plain-target number
	Channel string
	Outcome Outcome
	// Reason explains the outcome in a few words ("closed: holiday christmas", "no agent
	// logged in to sales", "max wait in support").
	Reason string
	// State is the number's calendar state when the contact arrived.
	State calendar.State
	// Target is where the contact went (OutcomeRoute, OutcomeTransferred).
	Target string
	// Queue and Agent: the last queue the contact waited in, and who answered.
	Queue, Agent string
	// Language, Vars, Requirements and Priority are the flow's state at the end.
	Language     string
	Vars         map[string]string
	Requirements Requirements
	Priority     int
	// Recordings are the references Record returned (voicemails).
	Recordings []string
	// Path is every node the contact went through, in order.
	Path []Step
}

// Step is one node visited.
type Step struct {
	At   time.Time // from Options.Now
	Node string    // node id ("escape" for the flow's escape)
	Type string
	// Input is what the contact answered at a menu or gather ("" for none).
	Input string
	// Event is what the node decided: "choice 2", "invalid", "no input", "escape", "open",
	// "holiday christmas", "answered 1001", "timeout", "language fr", ...
	Event string
}
