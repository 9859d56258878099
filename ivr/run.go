package ivr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ccswitch/ccswitch/ivr/calendar"
)

// Contact is a new contact arriving on a number.
type Contact struct {
	// DID is the dialled number (with or without +), or a text entry point's key.
	DID string
	// Language is the contact's known language ("" for the number's default).
	Language string
	// Vars are initial variables (caller id, customer id), copied into the run.
	Vars map[string]string
}

// Run handles a new contact on its number: closed or on holiday, it plays the number's
// unavailability prompt and hangs up; open, it returns OutcomeRoute for a plain-target number
// or runs the number's flow until the contact is answered, transferred, hung up or gone. A
// flow with an hours node runs whatever the calendar says: it branches on it itself.
//
// Run returns a non-nil Result in every case. The error is nil when the contact left
// (OutcomeAbandoned); it is set for an unknown number, a looping flow (ErrLoop) or a channel
// failure.
func (f *Flows) Run(ctx context.Context, c Contact, in Interaction) (*Result, error) {
	e, ok := f.Entry(c.DID)
	if !ok {
		return &Result{DID: c.DID, Channel: in.Channel(), Outcome: OutcomeFailed, Reason: "unknown number"},
			fmt.Errorf("%w %q", ErrUnknownNumber, c.DID)
	}
	return e.Run(ctx, c, in)
}

// Run is Flows.Run for this entry (c.DID is only recorded).
func (e *Entry) Run(ctx context.Context, c Contact, in Interaction) (*Result, error) {
	r := &run{
		ctx: ctx, e: e, o: &e.flows.opts, in: in,
		text: in.Channel() != ChannelVoice,
		lang: c.Language,
		vars: maps.Clone(c.Vars),
	}
	if r.lang == "" {
		r.lang = e.Language
	}
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	r.res = Result{DID: e.DID, Channel: in.Channel()}
	if e.flow != nil {
		r.res.Flow = e.flow.Name
	}
	err := r.main()
	r.res.Language = r.lang
	r.res.Vars = r.vars
	r.res.Requirements = r.reqs
	r.res.Priority = r.prio
	if err != nil {
		r.res.Outcome = OutcomeFailed
		if r.res.Reason == "" {
			r.res.Reason = err.Error()
		}
	}
	e.flows.opts.Logger.Debug("ivr run", "did", e.DID, "flow", r.res.Flow, "channel", r.res.Channel,
		"outcome", r.res.Outcome.String(), "reason", r.res.Reason, "steps", len(r.res.Path))
	res := r.res
	return &res, err
}

// run is one contact going through an entry. It is used by one goroutine.
type run struct {
	ctx  context.Context
	e    *Entry
	o    *Options
	in   Interaction
	text bool
	res  Result

	lang    string
	vars    map[string]string
	reqs    Requirements
	prio    int
	pending string // a digit that barged in on a prompt, not yet consumed

	quiet, steps int
	last         []string // recent node ids, for the loop error
	hungUp       bool     // Hangup was called
}

// errEnd is returned by node handlers to stop the run with the outcome already set.
var errEnd = errors.New("end")

func (r *run) main() error {
	state, why := r.e.Calendar.State(r.o.Now())
	r.res.State = state
	if state != calendar.Open && (r.e.flow == nil || !r.e.flow.branches) {
		return r.fail(nil, r.unavailable(state.String()+": "+why.String()))
	}
	if r.e.flow == nil {
		r.res.Outcome, r.res.Target, r.res.Reason = OutcomeRoute, r.e.Target, "open"
		return nil
	}
	n := r.e.flow.start
	for n != nil {
		if err := r.ctx.Err(); err != nil {
			return r.fail(n, err)
		}
		r.steps++
		r.quiet++
		r.last = append(r.last, n.id)
		if len(r.last) > 8 {
			r.last = r.last[1:]
		}
		if r.quiet > r.o.MaxQuiet || r.steps > r.o.MaxSteps {
			what := fmt.Sprintf("%d nodes in a row without input from the contact", r.o.MaxQuiet)
			if r.steps > r.o.MaxSteps {
				what = fmt.Sprintf("%d nodes in all", r.o.MaxSteps)
			}
			err := fmt.Errorf("%w: flow %q: stopped after %s (last: %s)",
				ErrLoop, r.e.flow.Name, what, strings.Join(r.last[:len(r.last)-1], " → "))
			r.res.Reason = "loop"
			_ = r.hangup() // the loop is the error worth reporting
			return err
		}
		next, err := r.node(n)
		if err != nil {
			return r.fail(n, err)
		}
		n = next
	}
	// The path ended without a terminal node.
	r.res.Outcome = OutcomeHangup
	if r.res.Reason == "" {
		r.res.Reason = "end of flow"
	}
	return r.fail(nil, r.hangup())
}

// fail turns an error of the interaction into the run's end: the contact leaving is an
// outcome, not an error.
func (r *run) fail(n *node, err error) error {
	if err == nil || errors.Is(err, errEnd) {
		return nil
	}
	if errors.Is(err, ErrHungUp) || r.ctx.Err() != nil {
		r.res.Outcome, r.res.Reason = OutcomeAbandoned, "contact left"
		return nil
	}
	_ = r.hangup() // err is the one worth reporting
	if n != nil && r.e.flow != nil {
		return fmt.Errorf("ivr: flow %q node %q: %w", r.e.flow.Name, n.id, err)
	}
	return fmt.Errorf("ivr: %w", err)
}

// hangup ends the contact from our side, once whatever happens (invariant 3).
func (r *run) hangup() error {
	if r.hungUp {
		return nil
	}
	r.hungUp = true
	return r.in.Hangup(r.ctx)
}

func (r *run) step(n *node, input, event string) {
	r.res.Path = append(r.res.Path, Step{At: r.o.Now(), Node: n.id, Type: n.typ, Input: input, Event: event})
}

// prompt builds the Prompt for a node's prompt name and single-language text.
func (r *run) prompt(name, text string, bargeIn bool) Prompt {
	if r.o.Texts != nil && name != "" {
		if t, ok := r.o.Texts(r.lang, name); ok {
			text = t
		}
	}
	return Prompt{Name: name, Language: r.lang, Text: text, BargeIn: bargeIn && !r.text}
}

// play plays a prompt unless it is empty.
func (r *run) play(p Prompt) error {
	if p.Name == "" && p.Text == "" {
		return nil
	}
	b, err := r.in.Play(r.ctx, p)
	if p.BargeIn && b != "" {
		r.pending = b
	}
	return err
}

// unavailable plays the number's unavailability prompt in the contact's language (falling
// back to the number's, then English) and hangs up.
func (r *run) unavailable(reason string) error {
	r.res.Outcome, r.res.Reason = OutcomeUnavailable, reason
	for _, lang := range []string{r.lang, r.e.Language, "en"} {
		if name, ok := r.e.Unavailable[lang]; ok {
			p := Prompt{Name: name, Language: lang}
			if r.o.Texts != nil {
				p.Text, _ = r.o.Texts(lang, name)
			}
			if _, err := r.in.Play(r.ctx, p); err != nil {
				return err
			}
			break
		}
	}
	return r.hangup()
}

// ask plays a prompt (barge-in allowed) and collects an answer, using a digit that barged in
// on this prompt or an earlier one as its start.
func (r *run) ask(p Prompt, o CollectOptions) (answer, error) {
	if r.text {
		o.Timeout = r.o.TextTimeout // a node's timeout is for DTMF
		if err := r.play(p); err != nil {
			return answer{}, err
		}
		s, err := r.in.Collect(r.ctx, o)
		s = strings.TrimSpace(s)
		if len(s) > 1024 {
			s = s[:1024]
		}
		return answer{raw: s, words: words(s)}, err
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultVoiceTimeout
	}
	if r.pending == "" {
		if err := r.play(p); err != nil {
			return answer{}, err
		}
	}
	d := r.pending
	r.pending = ""
	complete := d != "" && ((o.Terminator != "" && strings.HasSuffix(d, o.Terminator)) || (o.MaxDigits > 0 && len(d) >= o.MaxDigits))
	if !complete {
		more := o
		if o.MaxDigits > 0 {
			more.MaxDigits = o.MaxDigits - len(d)
		}
		s, err := r.in.Collect(r.ctx, more)
		if err != nil {
			return answer{}, err
		}
		d += s
	}
	if o.Terminator != "" {
		if i := strings.Index(d, o.Terminator); i >= 0 {
			d = d[:i]
		}
	}
	if o.MaxDigits > 0 && len(d) > o.MaxDigits {
		d = d[:o.MaxDigits]
	}
	return answer{raw: d}, nil
}

// node runs one node and returns the next one (nil: the flow is over; the outcome is set
// when the node ended the contact itself).
func (r *run) node(n *node) (*node, error) {
	switch n.kind {
	case kindPlay:
		r.step(n, "", "")
		return n.next, r.play(r.prompt(n.prompt, n.text, false))
	case kindMenu:
		return r.menu(n)
	case kindGather:
		return r.gather(n)
	case kindSet:
		r.set(n)
		return n.next, nil
	case kindHours:
		state, why := r.e.Calendar.State(r.o.Now())
		next := n.closed
		switch state {
		case calendar.Open:
			next = n.open
		case calendar.Holiday:
			if n.holiday != nil {
				next = n.holiday
			}
		}
		event := state.String()
		if why.Name != "" {
			event += " " + why.Name
		}
		r.step(n, "", event)
		return next, nil
	case kindQueue:
		return r.queue(n)
	case kindTransfer:
		r.step(n, "", "transfer "+n.target)
		if err := r.in.Transfer(r.ctx, n.target); err != nil {
			return nil, err
		}
		r.res.Outcome, r.res.Target, r.res.Reason = OutcomeTransferred, n.target, "transfer"
		return nil, errEnd
	case kindVoicemail:
		if err := r.play(r.prompt(n.prompt, n.text, false)); err != nil {
			return nil, err
		}
		ml := n.maxLength
		if ml <= 0 {
			ml = DefaultMaxLength
		}
		ref, err := r.in.Record(r.ctx, RecordOptions{MaxLength: ml, Language: r.lang})
		if err != nil {
			return nil, err
		}
		r.quiet = 0
		if ref != "" {
			r.res.Recordings = append(r.res.Recordings, ref)
		}
		r.step(n, "", "recorded "+ref)
		return n.next, nil
	case kindHangup:
		r.step(n, "", "")
		if err := r.play(r.prompt(n.prompt, n.text, false)); err != nil {
			return nil, err
		}
		if err := r.hangup(); err != nil {
			return nil, err
		}
		r.res.Outcome, r.res.Reason = OutcomeHangup, "hangup node"
		return nil, errEnd
	}
	return nil, fmt.Errorf("node type %q not runnable", n.typ)
}

func (r *run) menu(n *node) (*node, error) {
	for attempt := 0; ; attempt++ {
		a, err := r.ask(r.prompt(n.prompt, n.text, true),
			CollectOptions{MaxDigits: n.maxDigits, Terminator: n.terminator, Timeout: n.timeout})
		if err != nil {
			return nil, err
		}
		if a.raw != "" {
			r.quiet = 0
		}
		if c := matchChoice(n.choices, a, r.text); c != nil {
			r.step(n, a.raw, "choice "+choiceName(c))
			return c.next, nil
		}
		if esc := r.e.flow.escape; a.raw != "" && esc.match(a, r.text) {
			r.step(n, a.raw, "escape")
			return r.escape()
		}
		event, edge := "no input", n.noInput
		if a.raw != "" {
			event, edge = "invalid", n.invalid
		}
		r.step(n, a.raw, event)
		if attempt >= n.retries {
			if edge == nil {
				r.res.Reason = "menu " + n.id + ": " + event
			}
			return edge, nil
		}
		if a.raw != "" {
			if err := r.play(r.prompt(PromptInvalid, PromptInvalidText, true)); err != nil {
				return nil, err
			}
		}
	}
}

func choiceName(c *choice) string {
	if c.digits != "" {
		return c.digits
	}
	if len(c.keywords) > 0 {
		return strings.Join(c.keywords[0], " ")
	}
	return "?"
}

func (r *run) gather(n *node) (*node, error) {
	for attempt := 0; ; attempt++ {
		a, err := r.ask(r.prompt(n.prompt, n.text, true),
			CollectOptions{MaxDigits: n.maxDigits, Terminator: n.terminator, Timeout: n.timeout})
		if err != nil {
			return nil, err
		}
		if esc := r.e.flow.escape; a.raw != "" && esc.match(a, r.text) {
			r.step(n, a.raw, "escape")
			return r.escape()
		}
		if a.raw != "" || attempt >= n.retries {
			if a.raw != "" {
				r.quiet = 0
			}
			r.vars[n.varName] = a.raw
			r.step(n, a.raw, n.varName+"="+a.raw)
			return n.next, nil
		}
		r.step(n, "", "no input")
	}
}

func (r *run) set(n *node) {
	var ev []string
	for _, kv := range n.vars {
		r.vars[kv[0]] = kv[1]
		ev = append(ev, kv[0]+"="+kv[1])
	}
	if n.language != "" {
		r.lang = n.language
		ev = append(ev, "language "+n.language)
	}
	if n.priority != nil {
		r.prio = *n.priority
		ev = append(ev, fmt.Sprintf("priority %d", r.prio))
	}
	for _, q := range n.requirements {
		if !r.reqs.has(q) {
			r.reqs = append(r.reqs, q)
		}
		ev = append(ev, "require "+q.String())
	}
	r.step(n, "", strings.Join(ev, ", "))
}

func (r *run) escape() (*node, error) {
	return r.queue(r.e.flow.escape.queue)
}

func (r *run) queue(n *node) (*node, error) {
	r.res.Queue = n.queue
	if a := r.o.Agents; a != nil && !r.text && !a.LoggedIn(n.queue) {
		if n.overflow != nil {
			r.step(n, "", "no agent logged in")
			return n.overflow, nil
		}
		r.step(n, "", "no agent logged in")
		if err := r.unavailable("no agent logged in to " + n.queue); err != nil {
			return nil, err
		}
		return nil, errEnd
	}
	out, err := r.in.Enqueue(r.ctx, QueueRequest{
		Queue: n.queue, Requirements: slices.Clone(r.reqs), Priority: r.prio, Vars: maps.Clone(r.vars),
		Language: r.lang, MaxWait: n.maxWait, Announce: n.announce, AnnounceEvery: n.every,
		Callback: n.callback, Voicemail: n.vmail,
	})
	if err != nil {
		return nil, err
	}
	r.quiet = 0
	switch out.Result {
	case QueueAnswered:
		r.step(n, "", "answered "+out.Agent)
		r.res.Outcome, r.res.Agent, r.res.Reason = OutcomeAnswered, out.Agent, "answered in "+n.queue
		return nil, errEnd
	case QueueAbandoned:
		r.step(n, "", "abandoned")
		r.res.Outcome, r.res.Reason = OutcomeAbandoned, "abandoned in "+n.queue
		return nil, errEnd
	case QueueCallback:
		r.step(n, "", "callback "+out.Number)
		r.res.Outcome, r.res.Target, r.res.Reason = OutcomeCallback, out.Number, "callback in "+n.queue
		return nil, errEnd
	case QueueVoicemail:
		r.step(n, "", "voicemail "+out.Recording)
		if out.Recording != "" {
			r.res.Recordings = append(r.res.Recordings, out.Recording)
		}
		r.res.Outcome, r.res.Reason = OutcomeVoicemail, "voicemail in "+n.queue
		return nil, errEnd
	}
	r.step(n, "", "timeout")
	next := n.overflow
	if next == nil {
		next = n.next
	}
	if next == nil {
		r.res.Reason = "max wait in " + n.queue
	}
	return next, nil
}
