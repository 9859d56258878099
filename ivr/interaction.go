package ivr

import (
	"context"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
)

// ChannelVoice is what Interaction.Channel returns for a phone call. Every other value
// ("chat", "sms", "whatsapp", "email", ...) runs the flow in text mode.
const ChannelVoice = "voice"

// Interaction is one contact seen from a flow: a call (implemented by the voice path, over
// sip and media) or a conversation (implemented by the text channels). The interpreter calls
// it from one goroutine, one method at a time.
//
// Every method returns ErrHungUp (possibly wrapped) once the caller has hung up or the
// conversation has been closed from the other side; any other error is a failure of the
// channel. When ctx is done, methods return promptly with ctx.Err().
type Interaction interface {
	// Channel names the medium: ChannelVoice, or a text channel's name.
	Channel() string

	// Play gives the contact a prompt: voice plays the WAV <prompts>/<Language>/<Name>.wav (or
	// Name as a path); text sends Text (or its own text for Name in Language when Text is
	// empty).
	//
	// When p.BargeIn is set, a voice caller may interrupt the prompt with a DTMF digit: Play
	// stops playing and returns that digit, which the interpreter takes as the start of the
	// answer. When BargeIn is not set, digits pressed during the prompt are discarded. Text
	// channels return "".
	Play(ctx context.Context, p Prompt) (bargeIn string, err error)

	// Collect waits for an answer: DTMF digits (voice) or the next message (text).
	//
	// Voice returns at MaxDigits digits, at the Terminator (not included in the result), or
	// when Timeout passes after the last digit (or after the call, with no digit), with the
	// digits received so far. It must include digits received since the previous Play or
	// Collect returned (a DTMF buffer), not only those that arrive after it is called.
	// Text returns the next message's text; MaxDigits and Terminator do not apply.
	//
	// "" with a nil error means nothing arrived before the timeout.
	Collect(ctx context.Context, o CollectOptions) (string, error)

	// Enqueue hands the contact to the ACD and returns when an agent has answered it, when
	// it was abandoned, or when it waited longer than MaxWait. While it waits, voice plays
	// hold music and, if Announce is set, the position and expected wait. If no agent is
	// logged in to the queue, Enqueue is not called for a call (see Agents).
	Enqueue(ctx context.Context, q QueueRequest) (QueueOutcome, error)

	// Transfer hands the contact to an extension or an external number; the flow ends.
	Transfer(ctx context.Context, target string) error

	// Record keeps a message from the contact (voice: a WAV of at most MaxLength, ended by
	// silence, # or hangup; text: the next message) and returns a reference to it for the
	// call record (a path or an id).
	Record(ctx context.Context, o RecordOptions) (ref string, err error)

	// Hangup ends the contact from our side (voice: BYE; text: the conversation is closed by
	// the bot). It is called at most once, and not after ErrHungUp.
	Hangup(ctx context.Context) error
}

// Prompt is one thing said to the contact.
type Prompt struct {
	// Name is the prompt's name under the language's prompt folder ("welcome"), or a path.
	Name string
	// Language is the contact's current language ("en", "fr"): the folder voice plays from.
	Language string
	// Text is what a text channel sends; "" when the flow only names a recorded prompt.
	Text string
	// BargeIn lets a voice caller interrupt the prompt with a digit (menus and gathers).
	BargeIn bool
}

// CollectOptions bound one wait for an answer.
type CollectOptions struct {
	// MaxDigits ends voice input after this many digits (0: only the terminator or the
	// timeout end it).
	MaxDigits int
	// Terminator ends voice input ("#"); "" for none.
	Terminator string
	// Timeout is how long to wait; the interpreter always sets it (see DefaultVoiceTimeout).
	Timeout time.Duration
}

// Default timeouts: DefaultVoiceTimeout when a menu or gather node sets none, and
// DefaultTextTimeout unless Options.TextTimeout says otherwise.
const (
	DefaultVoiceTimeout = 5 * time.Second
	DefaultTextTimeout  = 10 * time.Minute
	// DefaultMaxLength bounds a voicemail whose node sets no max_length.
	DefaultMaxLength = 2 * time.Minute
)

// QueueRequest is what a queue node (or the flow's escape) asks of the ACD: everything the
// flow learnt about the contact.
type QueueRequest struct {
	Queue string
	// Requirements are the skill conditions added by set nodes ("language == fr"), in the
	// order they were set, on top of the queue's own; parsed when the flows were compiled.
	Requirements Requirements
	// Priority is the contact's priority set by set nodes (0 unless set).
	Priority int
	// Vars are the flow's variables (a copy), for the agent's screen and the call record.
	Vars map[string]string
	// Language is the contact's current language, for announcements.
	Language string
	// MaxWait is the node's max_wait; 0 leaves the queue's own.
	MaxWait time.Duration
	// Announce asks for position and expected-wait announcements, every AnnounceEvery
	// (0: once, at entry).
	Announce      bool
	AnnounceEvery time.Duration
	// Callback, when set, offers a voice caller to hang up and be called back keeping their
	// place (QueueCallback); Voicemail to leave a message that becomes a task of the queue
	// (QueueVoicemail). Shared with the compiled flow: read only.
	Callback  *config.QueueCallback
	Voicemail *config.QueueVoicemail
}

// QueueResult is how a wait in a queue ended.
type QueueResult uint8

const (
	// QueueAnswered: an agent took the contact; the flow is over.
	QueueAnswered QueueResult = iota
	// QueueAbandoned: the contact left while waiting.
	QueueAbandoned
	// QueueTimedOut: the wait reached its max wait (or the ACD overflowed it out of the
	// queue's reach); the flow goes on at the node's overflow edge.
	QueueTimedOut
	// QueueCallback: the caller accepted a callback and was hung up; the task waits on in
	// the queue, at its place, to be called back.
	QueueCallback
	// QueueVoicemail: the caller left a message, which waits in the queue as a task.
	QueueVoicemail
)

func (r QueueResult) String() string {
	switch r {
	case QueueAnswered:
		return "answered"
	case QueueAbandoned:
		return "abandoned"
	case QueueTimedOut:
		return "timeout"
	case QueueCallback:
		return "callback"
	case QueueVoicemail:
		return "voicemail"
	}
	return "queue-result(?)"
}

// QueueOutcome is what Enqueue returns.
type QueueOutcome struct {
	Result QueueResult
	// Agent is the agent who answered (QueueAnswered).
	Agent string
	// Waited is how long the contact waited.
	Waited time.Duration
	// Number is who will be called back (QueueCallback); Recording the message's reference
	// (QueueVoicemail).
	Number, Recording string
}

// RecordOptions bound a voicemail.
type RecordOptions struct {
	MaxLength time.Duration
	Language  string
}

// Agents tells whether any agent is logged in to a queue (whatever their state), so that a
// caller is not queued where nobody can answer; a text contact waits for an agent to log in.
// The contact center (center.Center) implements it.
type Agents interface {
	LoggedIn(queue string) bool
}

// AgentsFunc adapts a function to Agents.
type AgentsFunc func(queue string) bool

// LoggedIn calls f(queue).
func (f AgentsFunc) LoggedIn(queue string) bool { return f(queue) }

// Requirements are skill conditions a flow adds to a contact's queue, parsed once when the
// flows are compiled (acd.ParseCondition), so that an enqueue hands them to the ACD as they
// are.
type Requirements []acd.Condition

// Strings returns each condition's canonical text (acd.Condition.String), which
// acd.ParseCondition reads back: the form a contact's requirements are stored in.
func (rs Requirements) Strings() []string {
	out := make([]string, len(rs))
	for i, c := range rs {
		out[i] = c.String()
	}
	return out
}

// String joins the conditions with "; ".
func (rs Requirements) String() string { return strings.Join(rs.Strings(), "; ") }

func (rs Requirements) has(c acd.Condition) bool {
	s := c.String()
	for _, x := range rs {
		if x.String() == s {
			return true
		}
	}
	return false
}
