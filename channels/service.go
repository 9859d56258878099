package channels

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// Options configure a Service.
type Options struct {
	Store  *store.Store
	Router Router
	// Config supplies the queues (read only).
	Config *config.Config
	// Flows are the compiled flows and calendars (ivr.Compile); a new conversation on an
	// adapter whose Route names an Entry goes through that number's flow first. nil: every
	// conversation goes straight to its queue (after the Greeting, if any).
	Flows    *ivr.Flows
	Channels Config
	Logger   *slog.Logger
	Now      func() time.Time
	// SendTimeout bounds one outbound delivery (default 15s).
	SendTimeout time.Duration
	// CRM, optional, looks the customer of each offer and screen pop up (center/crm.Client).
	CRM CRM
}

// Offer is a conversation offered to an agent, until Timeout.
type Offer struct {
	Conv        string    `json:"conv"`
	Agent       string    `json:"agent"`
	Reservation uint64    `json:"reservation"`
	Timeout     time.Time `json:"timeout"`
	// TTLMillis is how long was left when the offer was read: desktops count down from it,
	// so that their clock does not have to agree with the server's.
	TTLMillis int64  `json:"ttl_ms"`
	Adapter   string `json:"adapter"`
	Customer  string `json:"customer"`
	Name      string `json:"name,omitempty"`
	Preview   string `json:"preview,omitempty"`
	Queue     string `json:"queue,omitempty"`
	// CRM holds the operator's CRM fields once its lookup answered (they also come as a "crm"
	// event); the offer never waits for them.
	CRM []crm.Field `json:"crm,omitempty"`
}

// ScreenPop is an incoming call to an agent, with the caller's customer record if known.
type ScreenPop struct {
	CallID   string          `json:"call_id"`
	From     string          `json:"from"`
	Customer *store.Customer `json:"customer,omitempty"`
}

// AgentEvent is pushed to an agent's desktop.
type AgentEvent struct {
	// Type: offer, offer-ended, assigned, conversation (changed), message, state, screen-pop,
	// crm (the CRM's fields for an offer or a screen pop), error.
	Type    string              `json:"type"`
	Offer   *Offer              `json:"offer,omitempty"`
	Conv    *store.Conversation `json:"conv,omitempty"`
	Message *store.Message      `json:"message,omitempty"`
	State   string              `json:"state,omitempty"`
	Reason  string              `json:"reason,omitempty"`
	Call    *ScreenPop          `json:"call,omitempty"`
	CRM     *CRMCard            `json:"crm,omitempty"`
	Error   string              `json:"error,omitempty"`
}

// Presence is an agent's state as last reported by the router.
type Presence struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Service is the conversation service: it stores inbound messages (Receive), runs the text
// flow, queues conversations in the Router, and serves agents (offers, replies, transfer,
// close, customer timeline). Its methods are safe for concurrent use.
type Service struct {
	st       *store.Store
	router   Router
	cfg      atomic.Pointer[config.Config]
	chans    atomic.Pointer[Config] // replaced by SetChannels
	log      *slog.Logger
	now      func() time.Time
	sendTO   time.Duration
	flows    atomic.Pointer[ivr.Flows]
	adapters map[string]Adapter
	crm      CRM             // nil: no CRM lookups
	ctx      context.Context // ends when Run returns; flows run under it
	cancel   context.CancelFunc
	flowsWG  sync.WaitGroup

	mu       sync.Mutex // guards offers, presence and every read-modify-write of the store
	offers   map[string]Offer
	presence map[string]Presence
	runs     map[string]*textRun // conversations in their flow, by id

	statsMu sync.Mutex // guards stats (a leaf)
	stats   map[string]*AdapterStats

	sendMu  sync.Mutex // guards pending
	pending map[string][]pendingSend

	evMu   sync.Mutex // guards evq
	evq    []Event
	wake   chan struct{}
	hub    hub
	sends  sync.WaitGroup
	closed chan struct{}
}

// NewService builds the service; adapters are added with AddAdapter before Run.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || o.Router == nil {
		return nil, fmt.Errorf("channels: new service: %w: store and router are required", ErrBadInput)
	}
	if o.Config == nil {
		o.Config = &config.Config{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 15 * time.Second
	}
	s := &Service{st: o.Store, router: o.Router, crm: o.CRM,
		log: o.Logger.With("component", "channels"), now: o.Now, sendTO: o.SendTimeout,
		adapters: map[string]Adapter{}, offers: map[string]Offer{}, runs: map[string]*textRun{},
		presence: map[string]Presence{}, pending: map[string][]pendingSend{}, wake: make(chan struct{}, 1), closed: make(chan struct{})}
	s.hub.subs = map[string]map[*subscriber]struct{}{}
	s.stats = map[string]*AdapterStats{}
	s.cfg.Store(o.Config)
	s.chans.Store(&o.Channels)
	s.flows.Store(o.Flows)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, a := range []string{"webchat", "sms", "whatsapp", "messenger", "telegram", "email"} {
		r := s.route(a)
		if r.Entry == "" {
			continue
		}
		if o.Flows == nil {
			return nil, fmt.Errorf("channels: %s: entry %q but no compiled flows: %w", a, r.Entry, ErrBadInput)
		}
		if _, ok := o.Flows.Entry(r.Entry); !ok {
			return nil, fmt.Errorf("channels: %s: entry %q is not a configured number: %w", a, r.Entry, ErrBadInput)
		}
	}
	return s, nil
}

// Reload takes a new configuration (queues) and newly compiled flows for conversations that
// start from now on; conversations in a flow finish the one they started.
func (s *Service) Reload(cfg *config.Config, flows *ivr.Flows) {
	if cfg != nil {
		s.cfg.Store(cfg)
	}
	s.flows.Store(flows)
}

// AdapterStats count one adapter's messages since start.
type AdapterStats struct {
	In, Duplicates, Sent, Failed int64
}

func (s *Service) count(adapter string, f func(*AdapterStats)) {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	st := s.stats[adapter]
	if st == nil {
		st = &AdapterStats{}
		s.stats[adapter] = st
	}
	f(st)
}

// Stats returns the message counters by adapter.
func (s *Service) Stats() map[string]AdapterStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := make(map[string]AdapterStats, len(s.stats))
	for k, v := range s.stats {
		out[k] = *v
	}
	return out
}

// AddAdapter registers a for replies on its Name.
func (s *Service) AddAdapter(a Adapter) {
	s.mu.Lock()
	s.adapters[a.Name()] = a
	s.mu.Unlock()
}

// Store returns the service's store.
func (s *Service) Store() *store.Store { return s.st }

// Queues lists the configured queue names (transfer targets).
func (s *Service) Queues() []string {
	var out []string
	for _, q := range s.cfg.Load().Queues {
		out = append(out, q.Name)
	}
	return out
}

func (s *Service) route(adapter string) Route { return s.chans.Load().Route(adapter) }

// defaultQueue is the adapter's queue, or the first queue taking its ACD channel.
func (s *Service) defaultQueue(adapter string) string {
	if q := s.route(adapter).Queue; q != "" {
		return q
	}
	ch := ACDChannel(adapter)
	cfg := s.cfg.Load()
	for _, q := range cfg.Queues {
		if slices.Contains(q.Channels, ch) {
			return q.Name
		}
	}
	if len(cfg.Queues) > 0 {
		return cfg.Queues[0].Name
	}
	return ""
}

func newID(prefix string) string { return prefix + "-" + strings.ToLower(rand.Text()[:16]) }

// Run re-enqueues the conversations that were waiting when ccswitch stopped (invariant 3) and
// restarts the flows of those that were in one, then handles router events until ctx ends; it
// returns after the flows and the outbound sends in flight finish.
func (s *Service) Run(ctx context.Context) error {
	defer func() {
		s.cancel()
		s.flowsWG.Wait()
		close(s.closed)
		s.sends.Wait()
	}()
	if err := s.resume(); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		}
		s.evMu.Lock()
		batch := s.evq
		s.evq = nil
		s.evMu.Unlock()
		for _, ev := range batch {
			s.handle(ev)
		}
	}
}

func (s *Service) resume() error {
	// The engine starts empty: a conversation an agent held before the stop goes back to its
	// queue (and is offered again), so no agent holds more than the engine counts.
	held, err := s.st.Conversations(store.ConvAssigned)
	if err != nil {
		return fmt.Errorf("channels: resume: %w", err)
	}
	for _, c := range held {
		s.mu.Lock()
		now := s.now()
		agent := c.Agent
		c.State, c.Agent, c.Updated = store.ConvQueued, "", now
		c.LastSeq++
		b := s.st.NewBatch()
		b.PutMessage(store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.System, Adapter: c.Adapter,
			Text: "back in queue " + c.Queue + " after a restart (was with " + agent + ")", Time: now})
		b.PutTask(store.QueuedTask{Conv: c.ID, Queue: c.Queue, Channel: ACDChannel(c.Adapter), Enqueued: now})
		b.PutConversation(c)
		err := b.Commit()
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("channels: resume: %w", err)
		}
	}
	tasks, err := s.st.Tasks()
	if err != nil {
		return fmt.Errorf("channels: resume: %w", err)
	}
	for _, t := range tasks {
		if err := s.router.Enqueue(Task{ID: t.Conv, Queue: t.Queue, Channel: t.Channel, Priority: t.Priority, Requirements: t.Requirements}); err != nil {
			s.log.Error("re-enqueue after restart failed", "task", t.Conv, "queue", t.Queue, "err", err)
			continue
		}
		s.log.Info("re-enqueued after restart", "task", t.Conv, "queue", t.Queue)
	}
	inFlow, err := s.st.Conversations(store.ConvFlow)
	if err != nil {
		return fmt.Errorf("channels: resume: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range inFlow {
		if entry := c.Vars["entry"]; entry != "" && s.flows.Load() != nil {
			// The flow starts again from its first node: its position was not kept.
			s.startFlowLocked(c, entry)
			continue
		}
		s.mu.Unlock()
		s.flowEnqueue(c.ID, ivr.QueueRequest{})
		s.mu.Lock()
	}
	return nil
}

// RouterEvent queues one router event for Run; it never blocks.
func (s *Service) RouterEvent(ev Event) {
	s.evMu.Lock()
	s.evq = append(s.evq, ev)
	s.evMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Receive stores in durably (invariant 1), links its customer, and moves its conversation on:
// the flow answers, the conversation is queued, or its agent is notified.
func (s *Service) Receive(ctx context.Context, in Inbound) (Receipt, error) {
	if in.Adapter == "" || in.From == "" {
		return Receipt{}, fmt.Errorf("channels: receive: %w: adapter and from are required", ErrBadInput)
	}
	if in.Time.IsZero() {
		in.Time = s.now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.ProviderID != "" {
		ref, seen, err := s.st.Seen(in.Adapter, in.ProviderID)
		if err != nil {
			return Receipt{}, err
		}
		if seen {
			s.count(in.Adapter, func(st *AdapterStats) { st.Duplicates++ })
			c, _, _ := s.st.Conversation(ref.Conv)
			return Receipt{Conv: ref.Conv, Seq: ref.Seq, Customer: c.Customer, Duplicate: true}, nil
		}
	}
	b := s.st.NewBatch()
	defer b.Close()
	ids := append([]store.Identity{{Kind: in.Adapter, Value: in.From}}, in.Identities...)
	cust, err := s.resolve(b, ids, in.Name)
	if err != nil {
		return Receipt{}, err
	}
	conv, isNew, err := s.conversationFor(in, cust.ID)
	if err != nil {
		return Receipt{}, err
	}
	conv.LastSeq++
	conv.Updated = in.Time
	if in.MessageID != "" {
		conv.Thread = in.MessageID
		b.PutThread(in.MessageID, conv.ID)
	}
	m := store.Message{Conv: conv.ID, Seq: conv.LastSeq, Dir: store.In, Adapter: in.Adapter,
		ProviderID: in.ProviderID, Text: in.Text, Attachments: in.Attachments, MessageID: in.MessageID,
		InReplyTo: in.InReplyTo, Time: in.Time}
	if in.Adapter == "webchat" {
		m.ProviderID, m.ClientID = "", in.ProviderID
		if in.ProviderID != "" {
			b.PutDedupe(in.Adapter, in.ProviderID, store.MessageRef{Conv: conv.ID, Seq: m.Seq})
		}
	}
	b.PutMessage(m)

	// A new conversation goes through its entry's flow (a goroutine, started after the commit),
	// or straight to its queue: that decision is in the same batch, so a crash cannot leave a
	// conversation meant for a queue without its task/ record.
	var outs []store.Message
	var task *store.QueuedTask
	entry := ""
	if isNew {
		r := s.route(conv.Adapter)
		if r.Greeting != "" {
			conv.LastSeq++
			o := store.Message{Conv: conv.ID, Seq: conv.LastSeq, Dir: store.Out, Adapter: conv.Adapter,
				Text: r.Greeting, Time: in.Time, Status: "sending"}
			b.PutMessage(o)
			outs = append(outs, o)
		}
		if entry = s.entryFor(in); entry != "" {
			conv.Vars["entry"] = entry
		} else {
			q := s.defaultQueue(conv.Adapter)
			conv.State, conv.Queue = store.ConvQueued, q
			task = &store.QueuedTask{Conv: conv.ID, Queue: q, Channel: ACDChannel(conv.Adapter),
				Priority: r.Priority, Enqueued: in.Time}
			b.PutTask(*task)
		}
	}
	b.PutConversation(conv)
	if err := b.Commit(); err != nil {
		return Receipt{}, fmt.Errorf("channels: receive %s %s: %w", in.Adapter, in.ProviderID, err)
	}

	s.count(in.Adapter, func(st *AdapterStats) { st.In++ })
	if task != nil {
		if err := s.router.Enqueue(Task{ID: task.Conv, Queue: task.Queue, Channel: task.Channel, Priority: task.Priority, Requirements: task.Requirements}); err != nil {
			// The task/ record stays: the next start re-enqueues it.
			s.log.Error("enqueue failed", "task", conv.ID, "queue", task.Queue, "err", err)
		}
	}
	for _, o := range outs {
		s.sendAsync(conv, o)
	}
	if conv.State == store.ConvFlow {
		if r := s.runs[conv.ID]; r != nil && !isNew {
			select {
			case r.inbox <- in.Text:
			default:
				s.log.Warn("flow input dropped: customer writes faster than the flow reads", "conv", conv.ID)
			}
		} else if entry != "" {
			s.startFlowLocked(conv, entry)
		}
	}
	if conv.State == store.ConvAssigned && conv.Agent != "" {
		mm := m
		s.hub.send(conv.Agent, AgentEvent{Type: "message", Message: &mm})
	}
	return Receipt{Conv: conv.ID, Seq: m.Seq, Customer: cust.ID}, nil
}

// conversationFor finds the conversation in belongs to: the email thread it answers, or the
// open conversation with its sender on its adapter; else a new one.
func (s *Service) conversationFor(in Inbound, cust string) (store.Conversation, bool, error) {
	var id string
	var ok bool
	var err error
	if in.Adapter == "email" {
		for _, ref := range append([]string{in.InReplyTo}, in.References...) {
			if ref == "" {
				continue
			}
			if id, ok, err = s.st.Thread(ref); err != nil {
				return store.Conversation{}, false, err
			}
			if ok {
				break
			}
		}
	} else {
		if id, ok, err = s.st.OpenConversation(in.Adapter, in.From); err != nil {
			return store.Conversation{}, false, err
		}
	}
	if ok {
		c, found, err := s.st.Conversation(id)
		if err != nil {
			return store.Conversation{}, false, err
		}
		if found && c.State != store.ConvClosed {
			if in.Route != "" {
				c.Route = in.Route
			}
			return c, false, nil
		}
	}
	c := store.Conversation{ID: newID("conv"), Customer: cust, Adapter: in.Adapter, Address: in.From,
		Route: in.Route, State: store.ConvFlow, Subject: in.Subject, Created: in.Time, Updated: in.Time,
		Vars: map[string]string{}}
	return c, true, nil
}

// resolve finds the customer owning any of ids, merging customers that share one (automatic
// linking by phone number or email), or creates one. It adds ids to the customer.
func (s *Service) resolve(b *store.Batch, ids []store.Identity, name string) (store.Customer, error) {
	var found []store.Customer
	for _, id := range ids {
		cid, ok, err := s.st.CustomerByIdentity(id)
		if err != nil {
			return store.Customer{}, err
		}
		if !ok {
			continue
		}
		c, ok, err := s.st.Customer(cid)
		if err != nil {
			return store.Customer{}, err
		}
		if ok && !slices.ContainsFunc(found, func(f store.Customer) bool { return f.ID == c.ID }) {
			found = append(found, c)
		}
	}
	var c store.Customer
	if len(found) == 0 {
		c = store.Customer{ID: newID("cust"), Name: name, Created: s.now()}
	} else {
		var err error
		if c, err = s.merge(b, found); err != nil {
			return store.Customer{}, err
		}
	}
	for _, id := range ids {
		if !slices.Contains(c.Identities, id) {
			c.Identities = append(c.Identities, id)
		}
	}
	if c.Name == "" {
		c.Name = name
	}
	b.PutCustomer(c)
	return c, nil
}

// merge folds customers into the oldest of them and returns it (not yet written; merged
// records are written to b).
func (s *Service) merge(b *store.Batch, cs []store.Customer) (store.Customer, error) {
	slices.SortFunc(cs, func(x, y store.Customer) int {
		return cmp.Or(x.Created.Compare(y.Created), strings.Compare(x.ID, y.ID))
	})
	surv := cs[0]
	for _, c := range cs[1:] {
		for _, id := range c.Identities {
			if !slices.Contains(surv.Identities, id) {
				surv.Identities = append(surv.Identities, id)
			}
		}
		if surv.Name == "" {
			surv.Name = c.Name
		}
		for _, old := range c.Merged {
			var oc store.Customer
			oc, ok, err := s.rawCustomer(old)
			if err != nil {
				return store.Customer{}, err
			}
			if ok {
				oc.MergedInto = surv.ID
				b.PutCustomer(oc)
			}
		}
		surv.Merged = append(surv.Merged, c.ID)
		surv.Merged = append(surv.Merged, c.Merged...)
		c.MergedInto, c.Merged = surv.ID, nil
		b.PutCustomer(c)
		s.log.Info("customers linked", "into", surv.ID, "from", c.ID)
	}
	return surv, nil
}

// rawCustomer reads a customer record without following merges.
func (s *Service) rawCustomer(id string) (store.Customer, bool, error) {
	c, ok, err := s.st.Customer(id)
	if err != nil || !ok {
		return c, ok, err
	}
	if c.ID == id {
		return c, true, nil
	}
	// Customer followed a merge: rebuild the merged record from what the survivor knows.
	return store.Customer{ID: id, MergedInto: c.ID}, true, nil
}

// Link merges customer b into customer a (an agent's decision); both keep their history.
func (s *Service) Link(agent, a, b string) (store.Customer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ca, ok, err := s.st.Customer(a)
	if err != nil {
		return store.Customer{}, err
	}
	if !ok {
		return store.Customer{}, fmt.Errorf("channels: link: customer %s: %w", a, ErrNotFound)
	}
	cb, ok, err := s.st.Customer(b)
	if err != nil {
		return store.Customer{}, err
	}
	if !ok {
		return store.Customer{}, fmt.Errorf("channels: link: customer %s: %w", b, ErrNotFound)
	}
	if ca.ID == cb.ID {
		return ca, nil
	}
	batch := s.st.NewBatch()
	defer batch.Close()
	surv, err := s.merge(batch, []store.Customer{ca, cb})
	if err != nil {
		return store.Customer{}, err
	}
	batch.PutCustomer(surv)
	if err := batch.Commit(); err != nil {
		return store.Customer{}, err
	}
	s.log.Info("customers linked by agent", "agent", agent, "into", surv.ID)
	return surv, nil
}

// sendAsync delivers an outbound message the flow produced, in the background, after the
// ones queued before it for the same conversation (one sender goroutine per conversation).
func (s *Service) sendAsync(conv store.Conversation, m store.Message) {
	select {
	case <-s.closed:
		return
	default:
	}
	s.sendMu.Lock()
	q, running := s.pending[conv.ID]
	s.pending[conv.ID] = append(q, pendingSend{conv: conv, msg: m})
	if running {
		s.sendMu.Unlock()
		return
	}
	s.sends.Add(1)
	s.sendMu.Unlock()
	go func() {
		defer s.sends.Done()
		for {
			s.sendMu.Lock()
			q := s.pending[conv.ID]
			if len(q) == 0 {
				delete(s.pending, conv.ID)
				s.sendMu.Unlock()
				return
			}
			p := q[0]
			s.pending[conv.ID] = q[1:]
			s.sendMu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), s.sendTO)
			s.deliver(ctx, p.conv, p.msg)
			cancel()
		}
	}()
}

type pendingSend struct {
	conv store.Conversation
	msg  store.Message
}

// deliver sends m through its adapter and records the outcome.
func (s *Service) deliver(ctx context.Context, conv store.Conversation, m store.Message) (store.Message, error) {
	s.mu.Lock()
	ad := s.adapters[conv.Adapter]
	s.mu.Unlock()
	var err error
	var pid string
	if ad == nil {
		err = fmt.Errorf("channels: send %s: %w", conv.Adapter, ErrNoAdapter)
	} else {
		ctx, cancel := context.WithTimeout(ctx, s.sendTO)
		pid, err = ad.Send(ctx, conv, m)
		cancel()
	}
	m.ProviderID = pid
	m.Status = "sent"
	if err != nil {
		s.count(conv.Adapter, func(st *AdapterStats) { st.Failed++ })
	} else {
		s.count(conv.Adapter, func(st *AdapterStats) { st.Sent++ })
	}
	if err != nil {
		m.Status = "failed: " + err.Error()
		s.log.Warn("send failed", "conv", conv.ID, "adapter", conv.Adapter, "err", err)
	}
	s.mu.Lock()
	b := s.st.NewBatch()
	b.PutMessage(m)
	if conv.Adapter == "email" && pid != "" {
		b.PutThread(pid, conv.ID)
		if c, ok, _ := s.st.Conversation(conv.ID); ok {
			c.Thread = pid
			b.PutConversation(c)
		}
	}
	if cerr := b.Commit(); cerr != nil && err == nil {
		err = cerr
	}
	cur, _, _ := s.st.Conversation(conv.ID)
	s.mu.Unlock()
	if cur.Agent != "" {
		mm := m
		s.hub.send(cur.Agent, AgentEvent{Type: "message", Message: &mm})
	}
	return m, err
}

// Reply sends text from agent in conversation conv (invariant 4). The message is stored before
// it is sent; its Status says whether the provider took it.
func (s *Service) Reply(ctx context.Context, agent, conv, text string) (store.Message, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return store.Message{}, fmt.Errorf("channels: reply: %w: empty text", ErrBadInput)
	}
	s.mu.Lock()
	c, err := s.mine(agent, conv)
	if err != nil {
		s.mu.Unlock()
		return store.Message{}, err
	}
	c.LastSeq++
	c.Updated = s.now()
	m := store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.Out, Adapter: c.Adapter, Agent: agent,
		Text: text, Time: c.Updated, Status: "sending"}
	b := s.st.NewBatch()
	b.PutMessage(m)
	b.PutConversation(c)
	err = b.Commit()
	s.mu.Unlock()
	if err != nil {
		return store.Message{}, err
	}
	return s.deliver(ctx, c, m)
}

// mine returns conv if it is assigned to agent. Called with s.mu held.
func (s *Service) mine(agent, conv string) (store.Conversation, error) {
	c, ok, err := s.st.Conversation(conv)
	if err != nil {
		return c, err
	}
	if !ok {
		return c, fmt.Errorf("channels: conversation %s: %w", conv, ErrNotFound)
	}
	if c.State != store.ConvAssigned || c.Agent != agent {
		return c, fmt.Errorf("channels: conversation %s: %w", conv, ErrNotYours)
	}
	return c, nil
}

// Login logs the agent in to the router (Available).
func (s *Service) Login(agent string) error { return s.router.Login(agent) }

// Logout logs the agent out of the router.
func (s *Service) Logout(agent string) error { return s.router.Logout(agent) }

// SetReady sets the agent ready, or not ready with reason.
func (s *Service) SetReady(agent string, ready bool, reason string) error {
	return s.router.SetReady(agent, ready, reason)
}

// Presence returns the agent's last known state.
func (s *Service) Presence(agent string) Presence {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.presence[agent]
	if !ok {
		p.State = "offline"
	}
	return p
}

// Offers returns the offers pending for agent.
func (s *Service) Offers(agent string) []Offer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Offer
	now := s.now()
	for _, o := range s.offers {
		if o.Agent == agent {
			o.TTLMillis = max(0, o.Timeout.Sub(now).Milliseconds())
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Offer) int { return a.Timeout.Compare(b.Timeout) })
	return out
}

// Accept accepts the offer of conv to agent; the assignment shows as an "assigned" event.
func (s *Service) Accept(agent, conv string) error {
	s.mu.Lock()
	o, ok := s.offers[conv]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("channels: accept %s: no offer: %w", conv, ErrNotFound)
	}
	if o.Agent != agent {
		return fmt.Errorf("channels: accept %s: %w", conv, ErrNotYours)
	}
	return s.router.Accept(o.Reservation)
}

// Reject refuses the offer of conv to agent; the router offers it to someone else.
func (s *Service) Reject(agent, conv string) error {
	s.mu.Lock()
	o, ok := s.offers[conv]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("channels: reject %s: no offer: %w", conv, ErrNotFound)
	}
	if o.Agent != agent {
		return fmt.Errorf("channels: reject %s: %w", conv, ErrNotYours)
	}
	return s.router.Reject(o.Reservation)
}

// Transfer hands conv from agent to queue.
func (s *Service) Transfer(agent, conv, queue string) error {
	if !slices.Contains(s.Queues(), queue) {
		return fmt.Errorf("channels: transfer: queue %q: %w", queue, ErrBadInput)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.mine(agent, conv)
	if err != nil {
		return err
	}
	if err := s.router.Transfer(conv, queue); err != nil {
		return err
	}
	now := s.now()
	c.State, c.Agent, c.Queue, c.Updated = store.ConvQueued, "", queue, now
	c.LastSeq++
	b := s.st.NewBatch()
	defer b.Close()
	b.PutMessage(store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.System, Adapter: c.Adapter, Agent: agent,
		Text: "transferred to queue " + queue, Time: now})
	b.PutTask(store.QueuedTask{Conv: c.ID, Queue: queue, Channel: ACDChannel(c.Adapter), Enqueued: now})
	b.PutConversation(c)
	if err := b.Commit(); err != nil {
		return err
	}
	s.hub.send(agent, AgentEvent{Type: "conversation", Conv: &c})
	return nil
}

// Close ends conv with a wrap-up code and notes; the agent's slot frees once the router
// processes the completion.
func (s *Service) Close(agent, conv, wrapup, notes string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.mine(agent, conv)
	if err != nil {
		return err
	}
	now := s.now()
	c.State, c.WrapUp, c.Notes, c.Closed, c.Updated = store.ConvClosed, wrapup, notes, now, now
	c.LastSeq++
	b := s.st.NewBatch()
	defer b.Close()
	b.PutMessage(store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.System, Adapter: c.Adapter, Agent: agent,
		Text: "closed: " + cmp.Or(wrapup, "no wrap-up code"), Time: now})
	b.DeleteTask(c.ID)
	b.PutConversation(c)
	if err := b.Commit(); err != nil {
		return err
	}
	// The wrap-up was filled in with the close: end it right after the completion.
	if err := s.router.Complete(conv); err != nil {
		s.log.Warn("complete failed", "task", conv, "err", err)
	} else if err := s.router.EndWrapUp(conv); err != nil {
		s.log.Warn("end wrap-up failed", "task", conv, "err", err)
	}
	s.hub.send(agent, AgentEvent{Type: "conversation", Conv: &c})
	return nil
}

// AgentConversations lists the conversations assigned to agent.
func (s *Service) AgentConversations(agent string) ([]store.Conversation, error) {
	all, err := s.st.Conversations(store.ConvAssigned)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, c := range all {
		if c.Agent == agent {
			out = append(out, c)
		}
	}
	return out, nil
}

// Conversation returns a conversation and its messages after seq after.
func (s *Service) Conversation(id string, after uint64) (store.Conversation, []store.Message, error) {
	c, ok, err := s.st.Conversation(id)
	if err != nil {
		return c, nil, err
	}
	if !ok {
		return c, nil, fmt.Errorf("channels: conversation %s: %w", id, ErrNotFound)
	}
	ms, err := s.st.Messages(id, after)
	return c, ms, err
}

// ScreenPop tells agent's desktop about an incoming call from number (the voice path calls it
// when it rings the agent), with the caller's customer record when a phone identity matches.
func (s *Service) ScreenPop(agent, callID, from string) {
	pop := &ScreenPop{CallID: callID, From: from}
	if p := Phone(from); p != "" {
		if cid, ok, err := s.st.CustomerByIdentity(store.Identity{Kind: "phone", Value: p}); err == nil && ok {
			if c, ok, err := s.st.Customer(cid); err == nil && ok {
				pop.Customer = &c
			}
		}
	}
	s.hub.send(agent, AgentEvent{Type: "screen-pop", Call: pop})
	s.lookupCall(agent, pop)
}

// Subscribe returns the agent's event stream; cancel ends it. A subscriber that falls behind
// is dropped (its channel closes) and should reconnect and reload its state.
func (s *Service) Subscribe(agent string) (<-chan AgentEvent, func()) {
	return s.hub.subscribe(agent)
}

// handle applies one router event. Run calls it.
func (s *Service) handle(ev Event) {
	if ev.Kind == AgentChanged {
		s.mu.Lock()
		s.presence[ev.Agent] = Presence{State: ev.State, Reason: ev.Reason}
		s.mu.Unlock()
		s.hub.send(ev.Agent, AgentEvent{Type: "state", State: ev.State, Reason: ev.Reason})
		return
	}
	if ev.Kind == Failed {
		s.log.Warn("router command failed", "command", ev.Reason, "task", ev.Task, "agent", ev.Agent, "err", ev.Err)
		if ev.Agent != "" && ev.Err != nil {
			s.hub.send(ev.Agent, AgentEvent{Type: "error", Error: ev.Err.Error()})
		}
		return
	}
	if !strings.HasPrefix(ev.Task, "conv-") {
		return // a call: the voice path handles it
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok, err := s.st.Conversation(ev.Task)
	if err != nil || !ok {
		s.log.Warn("event for unknown conversation", "task", ev.Task, "err", err)
		return
	}
	switch ev.Kind {
	case Offered:
		o := Offer{Conv: c.ID, Agent: ev.Agent, Reservation: ev.Reservation, Timeout: ev.Timeout,
			Adapter: c.Adapter, Customer: c.Customer, Queue: c.Queue}
		if cu, ok, _ := s.st.Customer(c.Customer); ok {
			o.Name, o.Customer = cu.Name, cu.ID
		}
		if ms, _ := s.st.Messages(c.ID, 0); len(ms) > 0 {
			for i := len(ms) - 1; i >= 0; i-- {
				if ms[i].Dir == store.In {
					o.Preview = ms[i].Text
					break
				}
			}
		}
		s.offers[c.ID] = o
		o.TTLMillis = max(0, o.Timeout.Sub(s.now()).Milliseconds())
		s.hub.send(ev.Agent, AgentEvent{Type: "offer", Offer: &o})
		s.lookupOffer(ev.Agent, c, o.Reservation)
	case OfferEnded:
		if o, ok := s.offers[c.ID]; ok && o.Reservation == ev.Reservation {
			delete(s.offers, c.ID)
		}
		s.hub.send(ev.Agent, AgentEvent{Type: "offer-ended", Conv: &c, Reason: ev.Reason})
	case Accepted:
		delete(s.offers, c.ID)
		if r := s.runs[c.ID]; r != nil {
			select {
			case r.queued <- ivr.QueueOutcome{Result: ivr.QueueAnswered, Agent: ev.Agent}:
			default:
			}
		}
		if c.State == store.ConvClosed {
			return
		}
		c.State, c.Agent, c.Updated = store.ConvAssigned, ev.Agent, s.now()
		b := s.st.NewBatch()
		defer b.Close()
		b.DeleteTask(c.ID)
		b.PutConversation(c)
		if err := b.Commit(); err != nil {
			s.log.Error("store assignment", "task", c.ID, "agent", ev.Agent, "err", err)
			return
		}
		s.hub.send(ev.Agent, AgentEvent{Type: "assigned", Conv: &c})
	case Requeued:
		if ev.Queue != "" && c.State == store.ConvQueued && c.Queue != ev.Queue {
			c.Queue = ev.Queue
			b := s.st.NewBatch()
			defer b.Close()
			b.PutTask(store.QueuedTask{Conv: c.ID, Queue: ev.Queue, Channel: ACDChannel(c.Adapter), Enqueued: s.now()})
			b.PutConversation(c)
			if err := b.Commit(); err != nil {
				s.log.Error("store requeue", "task", c.ID, "err", err)
			}
		}
	case Ended:
		delete(s.offers, c.ID)
		if r := s.runs[c.ID]; r != nil {
			out := ivr.QueueOutcome{Result: ivr.QueueAbandoned}
			if ev.Reason == "task-timed-out" {
				out.Result = ivr.QueueTimedOut
			}
			select {
			case r.queued <- out:
			default:
			}
		}
		if c.State == store.ConvQueued {
			c.State, c.Closed = store.ConvClosed, s.now()
			c.LastSeq++
			b := s.st.NewBatch()
			defer b.Close()
			b.PutMessage(store.Message{Conv: c.ID, Seq: c.LastSeq, Dir: store.System, Adapter: c.Adapter,
				Text: "ended: " + ev.Reason, Time: c.Closed})
			b.DeleteTask(c.ID)
			b.PutConversation(c)
			if err := b.Commit(); err != nil {
				s.log.Error("store end", "task", c.ID, "err", err)
			}
		}
	}
}
