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
// takes the customer's next message; Enqueue queues the conversation in the ACD and waits for
// an agent; Hangup closes the conversation.
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
	return "", r.s.flowSay(r.conv, text)
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
	if err := r.s.flowEnqueue(r.conv, q); err != nil {
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
	return r.s.flowEnqueue(r.conv, ivr.QueueRequest{Queue: r.s.defaultQueue(r.adapter),
		Vars: map[string]string{"transfer_target": target}})
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
	return r.s.flowClose(r.conv, "closed by the flow")
}

// entryFor is the ivr entry (a configured number) whose flow and calendar a new conversation
// on this adapter goes through: the adapter's Entry setting, or for SMS the number written to.
func (s *Service) entryFor(in Inbound) string {
	flows := s.flows.Load()
	if flows == nil {
		return ""
	}
	if e := s.route(in.Adapter).Entry; e != "" {
		return e
	}
	if in.Adapter == "sms" && in.Route != "" {
		if _, ok := flows.Entry(in.Route); ok {
			return in.Route
		}
	}
	return ""
}

// startFlow runs conv's flow in its own goroutine (until the conversation is answered, queued
// and ended, or closed). Called with s.mu held.
func (s *Service) startFlowLocked(conv store.Conversation, entry string) {
	if _, running := s.runs[conv.ID]; running {
		return
	}
	select {
	case <-s.ctx.Done():
		return
	default:
	}
	r := &textRun{s: s, conv: conv.ID, adapter: conv.Adapter, inbox: make(chan string, 32),
		queued: make(chan ivr.QueueOutcome, 1), gone: make(chan struct{})}
	s.runs[conv.ID] = r
	vars := maps.Clone(conv.Vars)
	if vars == nil {
		vars = map[string]string{}
	}
	vars["channel"], vars["customer"] = conv.Adapter, conv.Customer
	flows := s.flows.Load()
	s.flowsWG.Add(1)
	go func() {
		defer s.flowsWG.Done()
		res, err := flows.Run(s.ctx, ivr.Contact{DID: entry, Language: conv.Vars["language"], Vars: vars}, r)
		s.mu.Lock()
		delete(s.runs, conv.ID)
		s.mu.Unlock()
		if s.ctx.Err() != nil {
			return // stopping: the conversation resumes at the next start
		}
		if err != nil && !errors.Is(err, ivr.ErrHungUp) {
			s.log.Warn("flow failed", "conv", conv.ID, "entry", entry, "err", err)
		}
		// A flow that ended without queueing or closing (it fell off its end, or failed)
		// leaves the customer to a person rather than to silence.
		c, ok, _ := s.st.Conversation(conv.ID)
		if ok && c.State == store.ConvFlow {
			s.flowEnqueue(conv.ID, ivr.QueueRequest{Queue: s.defaultQueue(conv.Adapter), Vars: res.Vars})
		}
	}()
}

// flowSay stores a message from the flow and sends it (after the conversation's earlier ones).
func (s *Service) flowSay(conv, text string) error {
	s.mu.Lock()
	c, ok, err := s.st.Conversation(conv)
	if err != nil || !ok {
		s.mu.Unlock()
		return cmp.Or(err, ErrNotFound)
	}
	c.LastSeq++
	c.Updated = s.now()
	m := store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.Out, Adapter: c.Adapter, Text: text, Time: c.Updated, Status: "sending"}
	b := s.st.NewBatch()
	b.PutMessage(m)
	b.PutConversation(c)
	err = b.Commit()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	s.sendAsync(c, m)
	return nil
}

// flowEnqueue queues conv as the flow asks: the task/ record, the flow's variables on the
// conversation, then the router.
func (s *Service) flowEnqueue(conv string, q ivr.QueueRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok, err := s.st.Conversation(conv)
	if err != nil || !ok {
		return cmp.Or(err, ErrNotFound)
	}
	if c.State == store.ConvClosed || c.State == store.ConvAssigned {
		return nil
	}
	if c.Vars == nil {
		c.Vars = map[string]string{}
	}
	for k, v := range q.Vars {
		if k != "customer" && k != "channel" { // given to the flow; the conversation has them
			c.Vars[k] = v
		}
	}
	if q.Language != "" {
		c.Vars["language"] = q.Language
	}
	if q.Priority != 0 {
		c.Vars["priority"] = strconv.Itoa(q.Priority)
	}
	queue := cmp.Or(q.Queue, s.defaultQueue(c.Adapter))
	t := store.QueuedTask{Conv: c.ID, Queue: queue, Channel: ACDChannel(c.Adapter),
		Priority: q.Priority + s.route(c.Adapter).Priority, Requirements: q.Requirements.Strings(), Enqueued: s.now()}
	c.State, c.Queue, c.Updated = store.ConvQueued, queue, t.Enqueued
	b := s.st.NewBatch()
	defer b.Close()
	b.PutTask(t)
	b.PutConversation(c)
	if err := b.Commit(); err != nil {
		return err
	}
	if err := s.router.Enqueue(Task{ID: t.Conv, Queue: t.Queue, Channel: t.Channel, Priority: t.Priority, Requirements: t.Requirements}); err != nil {
		s.log.Error("enqueue failed; the next start retries", "task", c.ID, "queue", queue, "err", err)
	}
	return nil
}

// flowClose closes conv from the bot's side.
func (s *Service) flowClose(conv, why string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok, err := s.st.Conversation(conv)
	if err != nil || !ok || c.State == store.ConvClosed {
		return err
	}
	now := s.now()
	c.State, c.Closed, c.Updated = store.ConvClosed, now, now
	c.LastSeq++
	b := s.st.NewBatch()
	defer b.Close()
	b.PutMessage(store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.System, Adapter: c.Adapter, Text: why, Time: now})
	b.DeleteTask(c.ID)
	b.PutConversation(c)
	return b.Commit()
}
