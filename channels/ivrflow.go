package channels

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// textRun is one conversation going through its entry's flow: the ivr.Interaction of the text
// channels. Play sends the prompt's text through the adapter (stored first, in order); Collect
// takes the customer's next message; Enqueue queues the conversation and waits for an agent;
// Hangup closes the conversation.
type textRun struct {
	s       *Service
	conv    string
	adapter string
	inbox   chan string
	queued  chan ivr.QueueOutcome
	gone    chan struct{}
	goneMu  sync.Once
}

func (r *textRun) hangUp() { r.goneMu.Do(func() { close(r.gone) }) }

// Channel implements ivr.Interaction: the adapter's name (text mode).
func (r *textRun) Channel() string { return r.adapter }

// Play implements ivr.Interaction.
func (r *textRun) Play(ctx context.Context, p ivr.Prompt) (string, error) {
	text := cmp.Or(p.Text, p.Name)
	if text == "" {
		return "", nil
	}
	_, _, err := r.s.update(r.conv, step{kind: stepSay, text: text})
	return "", err
}

// Collect implements ivr.Interaction: the customer's next message, or "" after the timeout.
func (r *textRun) Collect(ctx context.Context, o ivr.CollectOptions) (string, error) {
	t := time.NewTimer(cmp.Or(o.Timeout, ivr.DefaultTextTimeout))
	defer t.Stop()
	select {
	case text := <-r.inbox:
		return text, nil
	case <-t.C:
		return "", nil
	case <-r.gone:
		return "", ivr.ErrHungUp
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Enqueue implements ivr.Interaction: the conversation waits in the queue (durably: a task/
// record) until an agent accepts it or it ends.
func (r *textRun) Enqueue(ctx context.Context, q ivr.QueueRequest) (ivr.QueueOutcome, error) {
	start := time.Now()
	if err := r.s.queueIt(r.conv, queueRequest{queue: q.Queue, prio: q.Priority, reqs: q.Requirements, vars: q.Vars, lang: q.Language}); err != nil {
		return ivr.QueueOutcome{}, err
	}
	select {
	case out := <-r.queued:
		out.Waited = time.Since(start)
		return out, nil
	case <-r.gone:
		return ivr.QueueOutcome{Result: ivr.QueueAbandoned}, nil
	case <-ctx.Done():
		return ivr.QueueOutcome{}, ctx.Err()
	}
}

// Transfer implements ivr.Interaction. A text conversation cannot ring an extension: it goes
// to the adapter's queue instead, and the flow ends.
func (r *textRun) Transfer(ctx context.Context, target string) error {
	return r.s.queueIt(r.conv, queueRequest{vars: map[string]string{"transfer_target": target}})
}

// Record implements ivr.Interaction: the customer's next message is the "voicemail".
func (r *textRun) Record(ctx context.Context, o ivr.RecordOptions) (string, error) {
	text, err := r.Collect(ctx, ivr.CollectOptions{Timeout: cmp.Or(o.MaxLength, ivr.DefaultMaxLength)})
	if err != nil || text == "" {
		return "", err
	}
	return r.conv + ":voicemail", nil
}

// Hangup implements ivr.Interaction: the bot closes the conversation.
func (r *textRun) Hangup(ctx context.Context) error {
	r.hangUp()
	_, _, err := r.s.update(r.conv, step{kind: stepFlowClose, reason: "closed by the flow"})
	if err == errNoChange {
		return nil
	}
	return err
}

// queueRequest is what a conversation is queued with.
type queueRequest struct {
	queue string // "" for the adapter's
	prio  int
	reqs  ivr.Requirements
	vars  map[string]string
	lang  string
}

// queueIt queues conversation id as the flow asks (the adapter's priority added to the
// flow's), then submits it. A conversation already queued, assigned or closed is left as it
// is.
func (s *Service) queueIt(id string, q queueRequest) error {
	c, ok, err := s.st.Conversation(id)
	if err != nil || !ok {
		return cmp.Or(err, ErrNotFound)
	}
	vars := maps.Clone(q.vars)
	if q.prio != 0 {
		if vars == nil {
			vars = map[string]string{}
		}
		vars["priority"] = strconv.Itoa(q.prio)
	}
	c, _, err = s.update(id, step{kind: stepQueue, queue: cmp.Or(q.queue, s.defaultQueue(c.Adapter)),
		prio: q.prio + s.route(c.Adapter).Priority, reqs: q.reqs.Strings(), vars: vars, lang: q.lang})
	if err == errNoChange {
		return nil
	}
	if err != nil {
		return err
	}
	s.offers.enqueue(c, q.reqs)
	return nil
}

// flowRuns are the conversations in their flow.
type flowRuns struct {
	s    *Service
	mu   sync.Mutex // guards runs (a leaf)
	runs map[string]*textRun
	wg   sync.WaitGroup
}

// entryFor is the ivr entry (a configured number) whose flow and calendar a new conversation
// on this adapter goes through: the adapter's Entry setting, or for SMS the number written to.
func (f *flowRuns) entryFor(in Inbound) string {
	if e := f.s.route(in.Adapter).Entry; e != "" {
		return e
	}
	if in.Adapter == "sms" && in.Route != "" {
		if _, ok := f.s.cc.Flows().Entry(in.Route); ok {
			return in.Route
		}
	}
	return ""
}

// start runs conversation c's flow on its own goroutine (until the conversation is answered,
// queued and ended, or closed).
func (f *flowRuns) start(c store.Conversation, entry string) {
	s := f.s
	if s.ctx.Err() != nil {
		return
	}
	f.mu.Lock()
	if _, running := f.runs[c.ID]; running {
		f.mu.Unlock()
		return
	}
	r := &textRun{s: s, conv: c.ID, adapter: c.Adapter, inbox: make(chan string, 32),
		queued: make(chan ivr.QueueOutcome, 1), gone: make(chan struct{})}
	f.runs[c.ID] = r
	f.wg.Add(1)
	f.mu.Unlock()
	vars := maps.Clone(c.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["channel"], vars["customer"] = c.Adapter, c.Customer
	flows := s.cc.Flows()
	go func() {
		defer f.wg.Done()
		res, err := flows.Run(s.ctx, ivr.Contact{DID: entry, Language: c.Vars["language"], Vars: vars}, r)
		f.mu.Lock()
		delete(f.runs, c.ID)
		f.mu.Unlock()
		if s.ctx.Err() != nil {
			return // stopping: the conversation resumes at the next start
		}
		if err != nil && !errors.Is(err, ivr.ErrHungUp) {
			s.log.Warn("flow failed", "task", c.ID, "entry", entry, "error", err)
		}
		// A flow that ended without queueing or closing (it fell off its end, or failed)
		// leaves the customer to a person rather than to silence.
		if cur, ok, _ := s.st.Conversation(c.ID); ok && cur.State == store.ConvFlow {
			var fvars map[string]string
			if res != nil {
				fvars = res.Vars
			}
			s.queueIt(c.ID, queueRequest{vars: fvars})
		}
	}()
}

// input gives the customer's message to the flow of conv; false when no flow runs for it.
func (f *flowRuns) input(conv, text string) bool {
	f.mu.Lock()
	r := f.runs[conv]
	f.mu.Unlock()
	if r == nil {
		return false
	}
	select {
	case r.inbox <- text:
	default:
		f.s.log.Warn("flow input dropped: customer writes faster than the flow reads", "task", conv)
	}
	return true
}

// answered and ended tell the flow waiting in a queue how the wait ended.
func (f *flowRuns) answered(conv, agent string) {
	f.outcome(conv, ivr.QueueOutcome{Result: ivr.QueueAnswered, Agent: agent})
}

func (f *flowRuns) ended(conv string, timedOut bool) {
	out := ivr.QueueOutcome{Result: ivr.QueueAbandoned}
	if timedOut {
		out.Result = ivr.QueueTimedOut
	}
	f.outcome(conv, out)
}

func (f *flowRuns) outcome(conv string, out ivr.QueueOutcome) {
	f.mu.Lock()
	r := f.runs[conv]
	f.mu.Unlock()
	if r == nil {
		return
	}
	select {
	case r.queued <- out:
	default:
	}
}

// wait returns once every flow ended (after the service's context ended).
func (f *flowRuns) wait() { f.wg.Wait() }
