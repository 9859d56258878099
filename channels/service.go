package channels

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/store"
)

// Options configure a Service.
type Options struct {
	Store *store.Store
	// Center queues conversations (the same ACD client as calls), compiles the flows text runs
	// and owns agent presence; its configuration gives the queues.
	Center   *center.Center
	Channels Config
	// Registerer gets the message counters (ccswitch_messages_*); nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
	// SendTimeout bounds one delivery attempt (default 15s); Retry the attempts of an outbound
	// message (default DefaultRetry).
	SendTimeout time.Duration
	Retry       Retry
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
	// State and Reason are the agent's state (type state), with the whole Presence.
	State    string           `json:"state,omitempty"`
	Reason   string           `json:"reason,omitempty"`
	Presence *center.Presence `json:"presence,omitempty"`
	Call     *ScreenPop       `json:"call,omitempty"`
	CRM      *CRMCard         `json:"crm,omitempty"`
	Error    string           `json:"error,omitempty"`
}

// Service is the conversation service: it stores inbound messages (Receive, the inbox), runs
// the text flow, queues conversations through the center and shows their offers (offers.go),
// delivers outbound messages (the outbox), and serves agents (replies, transfer, close,
// customer timeline). Every change of a conversation goes through one state machine
// (transition) and one write (update). Its methods are safe for concurrent use.
type Service struct {
	st     *store.Store
	cc     *center.Center
	chans  atomic.Pointer[Config] // replaced by SetChannels
	crm    CRM                    // nil: no CRM lookups
	log    *slog.Logger
	now    func() time.Time
	meters *meters

	adMu     sync.RWMutex // guards adapters (a leaf)
	adapters map[string]Adapter

	ctx    context.Context // ends when Run returns; flows and sends run under it
	cancel context.CancelFunc
	ready  chan struct{} // closed once Run resumed

	convs  keyLocks   // per conversation, and per sender for a first message
	custMu sync.Mutex // customer records that change (new identities, merges)
	out    *outbox
	offers *offers
	flows  *flowRuns
	hub    hub
}

// NewService builds the service; adapters are added with AddAdapter before Run.
func NewService(o Options) (*Service, error) {
	if o.Store == nil || o.Center == nil {
		return nil, fmt.Errorf("channels: new service: %w: store and center are required", ErrBadInput)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Service{st: o.Store, cc: o.Center, crm: o.CRM, log: o.Logger.With("component", "channels"),
		now: o.Now, meters: newMeters(o.Registerer), adapters: map[string]Adapter{}}
	s.hub.subs = map[string]map[*subscriber]struct{}{}
	s.chans.Store(&o.Channels)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ready = make(chan struct{})
	s.out = newOutbox(s, o.SendTimeout, o.Retry)
	s.offers = newOffers(s)
	s.flows = &flowRuns{s: s, runs: map[string]*textRun{}}
	if err := s.checkEntries(&o.Channels); err != nil {
		return nil, err
	}
	return s, nil
}

// AddAdapter registers a for replies on its Name.
func (s *Service) AddAdapter(a Adapter) {
	s.adMu.Lock()
	s.adapters[a.Name()] = a
	s.adMu.Unlock()
}

func (s *Service) adapter(name string) Adapter {
	s.adMu.RLock()
	defer s.adMu.RUnlock()
	return s.adapters[name]
}

// Store returns the service's store.
func (s *Service) Store() *store.Store { return s.st }

// Queues lists the configured queue names (transfer targets).
func (s *Service) Queues() []string {
	var out []string
	for _, q := range s.cc.Config().Queues {
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
	cfg := s.cc.Config()
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

// Run resumes what a stop interrupted — conversations agents held and those waiting go back
// to their queue (invariant 3), flows start again, messages stored "sending" are delivered —
// then handles the engine's events for the conversations until ctx ends. It returns after
// the flows, the event lanes and the deliveries in flight finished.
func (s *Service) Run(ctx context.Context) error {
	defer func() {
		s.cancel()
		s.flows.wait()
		s.offers.wait()
		s.out.wait()
	}()
	stop := s.cc.WatchPresence(func(p center.Presence) {
		pr := p
		s.hub.send(p.Agent, AgentEvent{Type: "state", State: p.State.String(), Reason: p.Reason, Presence: &pr})
	})
	defer stop()
	if err := s.resume(); err != nil {
		return err
	}
	close(s.ready)
	s.offers.run(ctx)
	return nil
}

// Ready is closed once Run has put back what a stop interrupted: the conversations waiting
// are queued again (in the engine's order of arrival), before any new traffic of the tests
// that wait for it.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// resume puts back what a stop interrupted. The engine starts empty: a conversation an agent
// held goes back to its queue (and is offered again), so that no agent holds more than the
// engine counts.
func (s *Service) resume() error {
	held, err := s.st.Conversations(store.ConvAssigned)
	if err != nil {
		return fmt.Errorf("channels: resume: %w", err)
	}
	for _, c := range held {
		if _, _, err := s.update(c.ID, step{kind: stepResume}); err != nil && err != errNoChange {
			return fmt.Errorf("channels: resume: %w", err)
		}
	}
	tasks, err := s.st.Tasks()
	if err != nil {
		return fmt.Errorf("channels: resume: %w", err)
	}
	for _, t := range tasks {
		c, ok, err := s.st.Conversation(t.Conv)
		if err != nil || !ok {
			s.log.Error("queued conversation unreadable", "task", t.Conv, "error", err)
			continue
		}
		s.offers.enqueue(c, nil)
		s.log.Info("re-enqueued after restart", "task", t.Conv, "queue", t.Queue, "priority", t.Priority)
	}
	inFlow, err := s.st.Conversations(store.ConvFlow)
	if err != nil {
		return fmt.Errorf("channels: resume: %w", err)
	}
	for _, c := range inFlow {
		if entry := c.Vars["entry"]; entry != "" {
			s.flows.start(c, entry) // from its first node: its position was not kept
			continue
		}
		s.queueIt(c.ID, queueRequest{})
	}
	return s.out.resume()
}

// update applies steps to conversation id under its lock: read it, run the state machine,
// write the conversation, its task/ record and its new messages in one synced batch (with
// extra writes, if any). It returns the conversation and the messages added; then the
// effects every change has: new outbound messages go to the outbox, the agent sees the
// messages of a conversation they hold.
func (s *Service) update(id string, steps ...step) (store.Conversation, []store.Message, error) {
	unlock := s.convs.lock(id)
	defer unlock()
	c, ok, err := s.st.Conversation(id)
	if err != nil {
		return c, nil, err
	}
	if !ok {
		return c, nil, fmt.Errorf("channels: conversation %s: %w", id, ErrNotFound)
	}
	c, msgs, err := s.apply(c, steps...)
	if err != nil {
		return c, nil, err
	}
	if err := s.commit(c, msgs, nil); err != nil {
		return c, nil, err
	}
	s.after(c, msgs)
	return c, msgs, nil
}

// apply runs the state machine over steps; the steps' time is now.
func (s *Service) apply(c store.Conversation, steps ...step) (store.Conversation, []store.Message, error) {
	var all []store.Message
	for _, st := range steps {
		if st.at.IsZero() {
			st.at = s.now()
		}
		var msgs []store.Message
		var err error
		if c, msgs, err = transition(c, st); err != nil {
			return c, nil, err
		}
		all = append(all, msgs...)
	}
	return c, all, nil
}

// commit writes c, its task/ record and msgs (and extra) in one synced batch (invariant 1).
func (s *Service) commit(c store.Conversation, msgs []store.Message, extra func(*store.Batch)) error {
	b := s.st.NewBatch()
	defer b.Close()
	if extra != nil {
		extra(b)
	}
	write(b, c, msgs)
	if err := b.Commit(); err != nil {
		return fmt.Errorf("channels: conversation %s: %w", c.ID, err)
	}
	return nil
}

// after is what every stored change sets off: outbound messages leave, in order; the agent
// who holds the conversation sees its new messages.
func (s *Service) after(c store.Conversation, msgs []store.Message) {
	for _, m := range msgs {
		if m.Dir == store.Out && m.Status == store.StatusSending {
			s.out.send(c, m)
		}
		if c.State == store.ConvAssigned && c.Agent != "" {
			mm := m
			s.hub.send(c.Agent, AgentEvent{Type: "message", Message: &mm})
		}
	}
}

// Reply sends text from agent in conversation conv (invariant 4). The message is stored before
// it is sent; its Status says whether the provider took it (it stays "sending" while the
// outbox retries).
func (s *Service) Reply(ctx context.Context, agent, conv, text string) (store.Message, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return store.Message{}, fmt.Errorf("channels: reply: %w: empty text", ErrBadInput)
	}
	_, msgs, err := s.update(conv, step{kind: stepReply, agent: agent, text: text})
	if err != nil {
		return store.Message{}, err
	}
	// The desktop waits for the first attempt's outcome; the outbox goes on retrying.
	return s.out.await(ctx, msgs[0]), nil
}

// Transfer hands conv from agent to queue; it keeps its priority and requirements.
func (s *Service) Transfer(agent, conv, queue string) error {
	if !slices.Contains(s.Queues(), queue) {
		return fmt.Errorf("channels: transfer: queue %q: %w", queue, ErrBadInput)
	}
	c, _, err := s.update(conv, step{kind: stepTransfer, agent: agent, queue: queue})
	if err != nil {
		return err
	}
	if err := s.cc.Transfer(s.ctx, conv, queue); err != nil {
		s.log.Error("transfer not submitted; the next start queues it", "task", conv, "queue", queue, "error", err)
	}
	s.hub.send(agent, AgentEvent{Type: "conversation", Conv: &c})
	return nil
}

// Close ends conv with a wrap-up code and notes; the agent's slot frees once the engine
// processes the completion (the wrap-up was filled in with the close: it ends at once).
func (s *Service) Close(agent, conv, wrapup, notes string) error {
	c, _, err := s.update(conv, step{kind: stepClose, agent: agent, wrapup: wrapup, notes: notes})
	if err != nil {
		return err
	}
	if err := s.cc.Complete(s.ctx, conv); err != nil {
		s.log.Warn("complete failed", "task", conv, "agent", agent, "error", err)
	} else if err := s.cc.EndWrapUp(s.ctx, conv); err != nil {
		s.log.Warn("end wrap-up failed", "task", conv, "agent", agent, "error", err)
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
