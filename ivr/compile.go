package ivr

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr/calendar"
)

// Options are the dependencies of compiled flows. The zero value works: real clock, every
// queue assumed staffed, default bounds.
type Options struct {
	// Now is the clock for calendars (default time.Now). Tests inject a fixed instant.
	Now func() time.Time
	// Agents says whether a queue has agents logged in; nil assumes it has.
	Agents Agents
	// Texts gives the text of a prompt in a language, for text channels ("" false when it has
	// none); it wins over a node's single-language text. nil: nodes' text only.
	Texts func(language, prompt string) (string, bool)
	// TextTimeout is how long a text contact has to answer a menu or gather (default
	// DefaultTextTimeout); a node's timeout applies to voice only.
	TextTimeout time.Duration
	// MaxQuiet bounds how many nodes a contact may go through without giving any input
	// (default 50); MaxSteps bounds the nodes of one run in all (default 1000).
	MaxQuiet, MaxSteps int
	// Logger gets one Debug line per run (default: discard).
	Logger *slog.Logger
}

// PromptInvalid is the prompt played before a menu is offered again after an invalid
// answer; PromptInvalidText is its text when Options.Texts has none.
const (
	PromptInvalid     = "invalid-choice"
	PromptInvalidText = "Sorry, that is not one of the choices."
)

// Flows is the compiled form of a configuration's numbers and flows, built once at load or
// reload and then only read: safe for concurrent Runs.
type Flows struct {
	opts    Options
	numbers map[string]*Entry // by config.NormalizeDID
	flows   map[string]*Flow
}

// Entry is one number (or text entry point): its calendar, language, unavailability
// prompts, and its flow or plain target.
type Entry struct {
	DID string
	// Target is the extension a plain number rings ("" when it runs a flow).
	Target string
	// Language is the number's default language.
	Language string
	// Calendar is the number's schedule; never nil.
	Calendar *calendar.Calendar
	// Unavailable maps a language to the prompt played when closed or unstaffed.
	Unavailable map[string]string

	flow  *Flow
	flows *Flows
}

// Flow is one compiled flow.
type Flow struct {
	Name string
	// branches: the flow has an hours node, so it handles closed and holiday itself.
	branches bool
	start    *node
	escape   *escape
	nodes    []node
}

type kind uint8

const (
	kindPlay kind = iota
	kindMenu
	kindGather
	kindSet
	kindHours
	kindQueue
	kindTransfer
	kindVoicemail
	kindHangup
)

var kinds = map[string]kind{
	"play": kindPlay, "menu": kindMenu, "gather": kindGather, "set": kindSet, "hours": kindHours,
	"queue": kindQueue, "transfer": kindTransfer, "voicemail": kindVoicemail, "hangup": kindHangup,
}

type node struct {
	id     string
	typ    string
	kind   kind
	prompt string
	text   string
	next   *node

	// menu and gather
	choices    []choice
	timeout    time.Duration
	retries    int
	invalid    *node
	noInput    *node
	maxDigits  int // menu: longest choice; gather: the node's max_digits
	terminator string
	varName    string

	// set
	vars         [][2]string // sorted by name
	language     string
	priority     *int
	requirements Requirements

	// hours
	open, closed, holiday *node

	// queue
	queue    string
	maxWait  time.Duration
	overflow *node
	announce bool
	every    time.Duration          // announce_every
	callback *config.QueueCallback  // nil: no callback offered
	vmail    *config.QueueVoicemail // nil: no message to the queue

	target    string        // transfer
	maxLength time.Duration // voicemail
}

type choice struct {
	digits   string
	keywords [][]string // each keyword as lower-case words
	next     *node
}

type escape struct {
	digit   string
	keyword []string
	queue   *node // a synthetic queue node, id "escape"
}

// Compile builds the runnable form of cfg's numbers and flows. cfg is expected to have
// passed config validation; Compile still reports (all) inconsistencies it meets instead of
// panicking, and never keeps a reference to cfg.
func Compile(cfg *config.Config, opts Options) (*Flows, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TextTimeout <= 0 {
		opts.TextTimeout = DefaultTextTimeout
	}
	if opts.MaxQuiet <= 0 {
		opts.MaxQuiet = 50
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = 1000
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Flows{opts: opts, numbers: map[string]*Entry{}, flows: map[string]*Flow{}}
	var errs []error
	for i, fc := range cfg.Flows {
		fl, err := compileFlow(fc)
		if err != nil {
			errs = append(errs, prefix(fmt.Sprintf("flows[%d] (%s)", i, fc.Name), err)...)
			continue
		}
		f.flows[fc.Name] = fl
	}
	for i, n := range cfg.Numbers {
		p := fmt.Sprintf("numbers[%d] (%s)", i, n.DID)
		cal, err := calendar.New(n.Schedule)
		if err != nil {
			errs = append(errs, prefix(p, err)...)
			continue
		}
		e := &Entry{
			DID: n.DID, Target: n.Target, Language: n.Language, Calendar: cal,
			Unavailable: maps.Clone(n.Unavailable), flows: f,
		}
		if e.Language == "" {
			e.Language = "en"
		}
		if n.Target == "" {
			if e.flow = f.flows[n.Flow]; e.flow == nil {
				errs = append(errs, fmt.Errorf("%s: unknown flow %q", p, n.Flow))
				continue
			}
		}
		f.numbers[config.NormalizeDID(n.DID)] = e
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ivr: compile: %w", errors.Join(errs...))
	}
	return f, nil
}

// prefix puts p in front of each of the errors joined in err.
func prefix(p string, err error) []error {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, len(list))
	for i, e := range list {
		out[i] = fmt.Errorf("%s: %w", p, e)
	}
	return out
}

// Entry returns the number's entry, matching with or without a leading +.
func (f *Flows) Entry(did string) (*Entry, bool) {
	e, ok := f.numbers[config.NormalizeDID(did)]
	return e, ok
}

// Flow returns the named flow.
func (f *Flows) Flow(name string) (*Flow, bool) {
	fl, ok := f.flows[name]
	return fl, ok
}

func compileFlow(fc config.Flow) (*Flow, error) {
	if len(fc.Nodes) == 0 {
		return nil, fmt.Errorf("no nodes")
	}
	fl := &Flow{Name: fc.Name, nodes: make([]node, len(fc.Nodes))}
	byID := make(map[string]*node, len(fc.Nodes))
	for i, nc := range fc.Nodes {
		byID[nc.ID] = &fl.nodes[i]
	}
	var errs []error
	ref := func(i int, field, id string) *node {
		if id == "" {
			return nil
		}
		n, ok := byID[id]
		if !ok {
			if i >= 0 {
				field = fmt.Sprintf("nodes[%d].%s", i, field)
			}
			errs = append(errs, fmt.Errorf("%s: unknown node %q", field, id))
		}
		return n
	}
	for i, nc := range fc.Nodes {
		n := &fl.nodes[i]
		k, ok := kinds[nc.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("nodes[%d].type: unknown node type %q", i, nc.Type))
			continue
		}
		*n = node{
			id: nc.ID, typ: nc.Type, kind: k, prompt: nc.Prompt, text: nc.Text,
			next: ref(i, "next", nc.Next), timeout: nc.Timeout.D(), retries: max(nc.Retries, 0),
			invalid: ref(i, "invalid", nc.Invalid), noInput: ref(i, "no_input", nc.NoInput),
			maxDigits: max(nc.MaxDigits, 0), terminator: nc.Terminator, varName: nc.Var,
			language: nc.Language, open: ref(i, "open", nc.Open), closed: ref(i, "closed", nc.Closed), holiday: ref(i, "holiday", nc.Holiday),
			queue: nc.Queue, maxWait: nc.MaxWait.D(), overflow: ref(i, "overflow", nc.Overflow), announce: nc.Announce,
			every: nc.AnnounceEvery.D(), callback: clonePtr(nc.Callback), vmail: clonePtr(nc.Voicemail),
			target: nc.Target, maxLength: nc.MaxLength.D(),
		}
		if nc.Priority != nil {
			p := *nc.Priority
			n.priority = &p
		}
		// Parsed once here, so that an enqueue never parses (config checked the syntax).
		for j, r := range nc.Requirements {
			c, err := acd.ParseCondition(r)
			if err != nil {
				errs = append(errs, fmt.Errorf("nodes[%d].requirements[%d]: %w", i, j, err))
				continue
			}
			n.requirements = append(n.requirements, c)
		}
		for k, v := range nc.Vars {
			n.vars = append(n.vars, [2]string{k, v})
		}
		slices.SortFunc(n.vars, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		switch k {
		case kindHours:
			fl.branches = true
		case kindMenu:
			n.terminator = "#"
			for j, c := range nc.Choices {
				ch := choice{digits: c.Digits, next: ref(i, fmt.Sprintf("choices[%d].next", j), c.Next)}
				for _, kw := range c.Keywords {
					if w := words(kw); len(w) > 0 {
						ch.keywords = append(ch.keywords, w)
					}
				}
				n.maxDigits = max(n.maxDigits, len(c.Digits))
				if strings.Contains(c.Digits, "#") {
					n.terminator = ""
				}
				n.choices = append(n.choices, ch)
			}
			n.maxDigits = max(n.maxDigits, 1)
		case kindGather:
			if n.terminator == "" {
				n.terminator = "#"
			}
		}
	}
	fl.start = &fl.nodes[0]
	if fc.Start != "" {
		fl.start = ref(-1, "start", fc.Start)
	}
	if e := fc.Escape; e != nil {
		fl.escape = &escape{
			digit: e.Digit, keyword: words(e.Keyword),
			queue: &node{id: "escape", typ: "queue", kind: kindQueue, queue: e.Queue},
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return fl, nil
}

// clonePtr copies *p, so that a compiled flow shares nothing with the config it came from.
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
