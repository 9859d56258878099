// Package script is a scripted ivr.Interaction for tests: a list of the contact's actions
// ("digits 1", "text agent please", "timeout", "queue answered 1001") answers the
// interpreter's calls in order, and every call is written to a transcript.
//
// It is a test driver of ivr's own interface, not a fake of another service. It never
// blocks: when the script runs out, the contact hangs up.
package script

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
)

// Kind is the kind of a scripted action.
type Kind string

// The actions a script can hold.
const (
	Digits  Kind = "digits"  // digits 12#     Collect returns "12#"
	Text    Kind = "text"    // text I want X  Collect returns "I want X"
	Timeout Kind = "timeout" // timeout        Collect returns ""
	BargeIn Kind = "bargein" // bargein 1      a barge-in Play returns "1"
	Queue   Kind = "queue"   // queue answered 1001 | queue abandoned | queue timeout | queue callback N | queue voicemail REF
	Record  Kind = "record"  // record msg-1   Record returns "msg-1"
	Hangup  Kind = "hangup"  // hangup         the next call returns ivr.ErrHungUp
)

// Event is one scripted action.
type Event struct {
	Kind Kind
	Arg  string
}

// Parse reads one action a line; blank lines and lines starting with # are skipped.
func Parse(s string) ([]Event, error) {
	var evs []Event
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ev, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// ParseLenient is Parse that skips the lines it cannot read (for fuzzing).
func ParseLenient(s string) []Event {
	var evs []Event
	for _, line := range strings.Split(s, "\n") {
		if ev, err := parseLine(strings.TrimSpace(line)); err == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

func parseLine(line string) (Event, error) {
	k, arg, _ := strings.Cut(line, " ")
	ev := Event{Kind: Kind(k), Arg: strings.TrimSpace(arg)}
	switch ev.Kind {
	case Digits, BargeIn, Record:
		if ev.Arg == "" {
			return ev, fmt.Errorf("%s needs an argument", k)
		}
	case Text:
	case Timeout, Hangup:
		if ev.Arg != "" {
			return ev, fmt.Errorf("%s takes no argument", k)
		}
	case Queue:
		res, _, _ := strings.Cut(ev.Arg, " ")
		if !slices.Contains([]string{"answered", "abandoned", "timeout", "callback", "voicemail"}, res) {
			return ev, fmt.Errorf("want queue answered AGENT, queue abandoned, queue timeout, queue callback NUMBER or queue voicemail REF")
		}
	default:
		return ev, fmt.Errorf("unknown action %q", k)
	}
	return ev, nil
}

// Interaction plays a script. Log is the transcript, one line per call.
type Interaction struct {
	channel string
	events  []Event
	Log     []string
}

// New returns an Interaction on channel ("voice", "chat", ...) that plays events.
func New(channel string, events []Event) *Interaction {
	return &Interaction{channel: channel, events: events}
}

// Left returns the actions the run did not consume.
func (s *Interaction) Left() []Event { return s.events }

func (s *Interaction) logf(format string, args ...any) {
	s.Log = append(s.Log, fmt.Sprintf(format, args...))
}

// take consumes the next action if it is one of kinds, or a hangup. A missing or unexpected
// action hangs the contact up, and says so in the transcript.
func (s *Interaction) take(call string, kinds ...Kind) (Event, error) {
	if len(s.events) == 0 {
		s.logf("  (script ends: contact hangs up)")
		return Event{}, ivr.ErrHungUp
	}
	ev := s.events[0]
	if ev.Kind == Hangup {
		s.events = s.events[1:]
		return ev, ivr.ErrHungUp
	}
	if !slices.Contains(kinds, ev.Kind) {
		s.logf("  (script has %q where %s expects %v: contact hangs up)", ev.Kind, call, kinds)
		s.events = nil
		return Event{}, ivr.ErrHungUp
	}
	s.events = s.events[1:]
	return ev, nil
}

func (s *Interaction) Channel() string { return s.channel }

func (s *Interaction) Play(ctx context.Context, p ivr.Prompt) (string, error) {
	line := "play " + p.Name + " [" + p.Language + "]"
	if p.Text != "" {
		line += fmt.Sprintf(" %q", p.Text)
	}
	if p.BargeIn {
		line += " barge-in"
	}
	if len(s.events) > 0 && s.events[0].Kind == Hangup {
		s.events = s.events[1:]
		s.logf("%s -> hangup", line)
		return "", ivr.ErrHungUp
	}
	if p.BargeIn && len(s.events) > 0 && s.events[0].Kind == BargeIn {
		d := s.events[0].Arg
		s.events = s.events[1:]
		s.logf("%s -> interrupted by %s", line, d)
		return d, nil
	}
	s.logf("%s", line)
	return "", nil
}

func (s *Interaction) Collect(ctx context.Context, o ivr.CollectOptions) (string, error) {
	line := fmt.Sprintf("collect max=%d term=%q timeout=%s", o.MaxDigits, o.Terminator, o.Timeout)
	if s.channel != ivr.ChannelVoice {
		line = fmt.Sprintf("collect timeout=%s", o.Timeout)
	}
	ev, err := s.take("collect", Digits, Text, Timeout)
	switch {
	case err != nil:
		s.logf("%s -> hangup", line)
		return "", err
	case ev.Kind == Timeout:
		s.logf("%s -> timeout", line)
		return "", nil
	}
	s.logf("%s -> %q", line, ev.Arg)
	return ev.Arg, nil
}

func (s *Interaction) Enqueue(ctx context.Context, q ivr.QueueRequest) (ivr.QueueOutcome, error) {
	line := "enqueue " + q.Queue + " lang=" + q.Language
	if q.Priority != 0 {
		line += fmt.Sprintf(" prio=%d", q.Priority)
	}
	if len(q.Requirements) > 0 {
		line += " req=[" + q.Requirements.String() + "]"
	}
	if q.MaxWait != 0 {
		line += " max_wait=" + q.MaxWait.String()
	}
	if q.Announce {
		line += " announce"
		if q.AnnounceEvery != config.DefaultAnnounceEvery {
			line += " every=" + q.AnnounceEvery.String()
		}
	}
	if cb := q.Callback; cb != nil {
		line += fmt.Sprintf(" callback=%s/%s", cb.Digit, cb.After.D())
	}
	if vm := q.Voicemail; vm != nil {
		line += fmt.Sprintf(" voicemail=%s/%s", vm.Digit, vm.After.D())
	}
	if len(q.Vars) > 0 {
		line += " vars=" + FormatVars(q.Vars)
	}
	ev, err := s.take("enqueue", Queue)
	if err != nil {
		s.logf("%s -> hangup", line)
		return ivr.QueueOutcome{}, err
	}
	s.logf("%s -> %s", line, ev.Arg)
	res, agent, _ := strings.Cut(ev.Arg, " ")
	switch res {
	case "answered":
		return ivr.QueueOutcome{Result: ivr.QueueAnswered, Agent: agent}, nil
	case "abandoned":
		return ivr.QueueOutcome{Result: ivr.QueueAbandoned}, nil
	case "callback":
		return ivr.QueueOutcome{Result: ivr.QueueCallback, Number: agent}, nil
	case "voicemail":
		return ivr.QueueOutcome{Result: ivr.QueueVoicemail, Recording: agent}, nil
	}
	return ivr.QueueOutcome{Result: ivr.QueueTimedOut}, nil
}

func (s *Interaction) Transfer(ctx context.Context, target string) error {
	s.logf("transfer %s", target)
	return nil
}

func (s *Interaction) Record(ctx context.Context, o ivr.RecordOptions) (string, error) {
	line := fmt.Sprintf("record max=%s lang=%s", o.MaxLength, o.Language)
	ev, err := s.take("record", Record)
	if err != nil {
		s.logf("%s -> hangup", line)
		return "", err
	}
	s.logf("%s -> %s", line, ev.Arg)
	return ev.Arg, nil
}

func (s *Interaction) Hangup(ctx context.Context) error {
	s.logf("hangup")
	return nil
}

// FormatVars writes a map as {a=1 b=2}, sorted.
func FormatVars(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(keys, " ") + "}"
}
