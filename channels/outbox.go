package channels

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// Retry bounds the delivery of an outbound message: Attempts tries, the first at once, the
// next after Base, then after twice as long each time up to Max, until the provider takes
// it. A message given up on is marked "failed: …".
type Retry struct {
	Attempts  int
	Base, Max time.Duration
}

// DefaultRetry tries 8 times over about 4 minutes.
var DefaultRetry = Retry{Attempts: 8, Base: time.Second, Max: 2 * time.Minute}

// backoff is the wait before attempt n+1 after n failed ones.
func (r Retry) backoff(n int) time.Duration {
	d := r.Base
	for i := 1; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// outbox delivers outbound messages: each is stored "sending" before it is handed to the
// outbox (listed under outbox/ in the store), tried until the provider takes it or the
// attempts run out, every attempt stored (the desktop shows "sending", the error, the
// attempts), and a message still "sending" when ccswitch stops is sent again at the next
// start. Messages of one conversation leave in order, one sender per conversation;
// conversations send at once.
type outbox struct {
	s       *Service
	timeout time.Duration
	retry   Retry

	mu      sync.Mutex // guards queues, queued and waiters (a leaf)
	queues  map[string][]store.Message
	queued  map[store.MessageRef]bool // queued or being delivered: not queued twice
	waiters map[store.MessageRef][]chan store.Message
	wg      sync.WaitGroup
}

func newOutbox(s *Service, timeout time.Duration, r Retry) *outbox {
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	if r.Attempts <= 0 {
		r = DefaultRetry
	}
	return &outbox{s: s, timeout: timeout, retry: r, queues: map[string][]store.Message{},
		queued: map[store.MessageRef]bool{}, waiters: map[store.MessageRef][]chan store.Message{}}
}

// send queues m (stored "sending") behind conversation c's earlier messages.
func (o *outbox) send(c store.Conversation, m store.Message) {
	if o.s.ctx.Err() != nil {
		return // stopping: the next start sends it
	}
	ref := store.MessageRef{Conv: m.Conv, Seq: m.Seq}
	o.mu.Lock()
	if o.queued[ref] { // a restart's resume and the live path may both hand it over
		o.mu.Unlock()
		return
	}
	o.queued[ref] = true
	q, running := o.queues[c.ID]
	o.queues[c.ID] = append(q, m)
	if running {
		o.mu.Unlock()
		return
	}
	o.wg.Add(1)
	o.mu.Unlock()
	go o.run(c.ID)
}

// run is a conversation's sender: it delivers its queued messages in order, then ends.
func (o *outbox) run(conv string) {
	defer o.wg.Done()
	for {
		o.mu.Lock()
		q := o.queues[conv]
		if len(q) == 0 || o.s.ctx.Err() != nil {
			delete(o.queues, conv)
			o.mu.Unlock()
			return
		}
		m := q[0]
		o.queues[conv] = q[1:]
		o.mu.Unlock()
		o.deliver(m)
		o.mu.Lock()
		delete(o.queued, store.MessageRef{Conv: m.Conv, Seq: m.Seq})
		o.mu.Unlock()
	}
}

// deliver tries m until the provider takes it, the attempts run out, or the service stops
// (then m stays "sending" for the next start).
func (o *outbox) deliver(m store.Message) {
	for {
		c, ok, err := o.s.st.Conversation(m.Conv)
		if err != nil || !ok {
			o.s.log.Error("outbound message of an unreadable conversation", "task", m.Conv, "seq", m.Seq, "error", err)
			return
		}
		ad := o.s.adapter(c.Adapter)
		var pid string
		if ad == nil {
			err = fmt.Errorf("channels: send %s: %w", c.Adapter, ErrNoAdapter)
		} else {
			ctx, cancel := context.WithTimeout(o.s.ctx, o.timeout)
			pid, err = ad.Send(ctx, c, m)
			cancel()
		}
		if o.s.ctx.Err() != nil && err != nil {
			return // stopping: not an attempt
		}
		m.Attempts++
		last := err == nil || ad == nil || errors.Is(err, ErrUndeliverable) || m.Attempts >= o.retry.Attempts
		switch {
		case err == nil:
			m.Status, m.ProviderID, m.Error = store.StatusSent, pid, ""
			o.s.meters.out.WithLabelValues(c.Adapter, "sent").Inc()
		case last:
			m.Status, m.Error = "failed: "+err.Error(), err.Error()
			o.s.meters.out.WithLabelValues(c.Adapter, "failed").Inc()
			o.s.log.Warn("send failed: given up", "task", c.ID, "adapter", c.Adapter, "attempts", m.Attempts, "error", err)
		default:
			m.Error = err.Error()
			o.s.meters.out.WithLabelValues(c.Adapter, "retried").Inc()
			o.s.log.Info("send failed: will retry", "task", c.ID, "adapter", c.Adapter, "attempts", m.Attempts, "error", err)
		}
		o.record(m)
		if last {
			return
		}
		t := time.NewTimer(o.retry.backoff(m.Attempts))
		select {
		case <-t.C:
		case <-o.s.ctx.Done():
			t.Stop()
			return
		}
	}
}

// record stores an attempt's outcome (with the email thread a sent message starts), shows it
// to the agent holding the conversation, and wakes Reply's waiter.
func (o *outbox) record(m store.Message) {
	unlock := o.s.convs.lock(m.Conv)
	c, ok, err := o.s.st.Conversation(m.Conv)
	if err == nil && ok {
		b := o.s.st.NewBatch()
		b.PutMessage(m)
		if c.Adapter == "email" && m.ProviderID != "" && m.Status == store.StatusSent {
			c.Thread = m.ProviderID
			b.PutThread(m.ProviderID, c.ID)
			write(b, c, nil)
		}
		err = b.Commit()
	}
	unlock()
	if err != nil {
		o.s.log.Error("outbound message status not stored", "task", m.Conv, "seq", m.Seq, "error", err)
	}
	if ok && c.Agent != "" {
		mm := m
		o.s.hub.send(c.Agent, AgentEvent{Type: "message", Message: &mm})
	}
	ref := store.MessageRef{Conv: m.Conv, Seq: m.Seq}
	o.mu.Lock()
	ws := o.waiters[ref]
	delete(o.waiters, ref)
	o.mu.Unlock()
	for _, w := range ws {
		w <- m
	}
}

// await returns m once its first delivery attempt is stored, or as it is (sending) when ctx
// ends or one attempt's time passed (earlier messages of the conversation may be retrying).
func (o *outbox) await(ctx context.Context, m store.Message) store.Message {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	ref := store.MessageRef{Conv: m.Conv, Seq: m.Seq}
	w := make(chan store.Message, 1)
	o.mu.Lock()
	o.waiters[ref] = append(o.waiters[ref], w)
	o.mu.Unlock()
	// An attempt stored before the waiter was there is in the store.
	if cur, ok, err := o.s.st.Message(m.Conv, m.Seq); err == nil && ok && cur.Attempts > 0 {
		return cur
	}
	select {
	case cur := <-w:
		return cur
	case <-ctx.Done():
		return m
	case <-o.s.ctx.Done():
		return m
	}
}

// resume hands the outbox every message a stop left "sending".
func (o *outbox) resume() error {
	refs, err := o.s.st.Outbox()
	if err != nil {
		return fmt.Errorf("channels: resume outbox: %w", err)
	}
	for _, r := range refs {
		m, ok, err := o.s.st.Message(r.Conv, r.Seq)
		if err != nil || !ok {
			continue
		}
		o.s.log.Info("sending again after restart", "task", r.Conv, "seq", r.Seq, "attempts", m.Attempts)
		o.send(store.Conversation{ID: r.Conv}, m)
	}
	return nil
}

// wait returns once every sender ended (after the service's context ended).
func (o *outbox) wait() { o.wg.Wait() }
