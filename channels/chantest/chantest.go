// Package chantest (for tests only) boots the conversation service on the real queue engine for tests: a pebble
// store in a temporary folder, an acd.Engine with one text queue and two agents, and a
// recording adapter standing in for a provider where a test does not need a wire format.
package chantest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// Config is the model the environment runs: queue "support" (chat, email, social) and
// "sales", agents alice and bob with capacity 2 per text channel.
func Config() *config.Config {
	c := &config.Config{
		Queues: []config.Queue{
			{Name: "support", Channels: []string{"chat", "email", "social"}},
			{Name: "sales", Channels: []string{"chat", "email", "social"}},
		},
		Agents: []config.Agent{
			{ID: "alice", Name: "Alice Agent", Queues: []string{"support", "sales"}, Password: "alice-pw"},
			{ID: "bob", Name: "Bob Agent", Queues: []string{"support"}, Password: "bob-pw"},
		},
	}
	c.ApplyDefaults()
	for i := range c.Agents {
		// Hashed at the lowest cost so logins stay cheap under -race.
		h, _ := bcrypt.GenerateFromPassword([]byte(c.Agents[i].Password), bcrypt.MinCost)
		c.Agents[i].PasswordHash = string(h)
		c.Agents[i].Capacity = map[string]int{"voice": 1, "chat": 2, "email": 2, "social": 2}
	}
	return c
}

// ACDConfig turns the operator's queues and agents into the engine's definitions (the
// subset the text tests need).
func ACDConfig(c *config.Config) acd.Config {
	var ac acd.Config
	for _, q := range c.Queues {
		qd := acd.QueueDef{Name: q.Name, RONATimeout: q.RONATimeout.D(), RONAMisses: 0}
		for _, ch := range q.Channels {
			if x, err := acd.ParseChannel(ch); err == nil {
				qd.Channels = append(qd.Channels, x)
			}
		}
		ac.Queues = append(ac.Queues, qd)
	}
	for _, a := range c.Agents {
		ad := acd.AgentDef{ID: a.ID, Name: a.Name, Queues: a.Queues, Capacity: map[acd.Channel]int{}}
		for ch, n := range a.Capacity {
			if x, err := acd.ParseChannel(ch); err == nil {
				ad.Capacity[x] = n
			}
		}
		ac.Agents = append(ac.Agents, ad)
	}
	return ac
}

// Env is a running service on a real engine.
type Env struct {
	Dir      string
	Config   *config.Config
	Channels channels.Config
	Store    *store.Store
	Engine   *acd.Engine
	Service  *channels.Service
	stop     func()
}

// New starts an environment in a fresh folder; it stops when the test ends.
func New(t testing.TB, chans channels.Config) *Env {
	t.Helper()
	return NewAt(t, t.TempDir(), chans)
}

// NewAt starts an environment on the store in dir (which may hold a previous run's data).
func NewAt(t testing.TB, dir string, chans channels.Config) *Env {
	t.Helper()
	e := &Env{Dir: dir, Config: Config(), Channels: chans}
	e.Start(t)
	t.Cleanup(e.Stop)
	return e
}

// Start opens the store, the engine and the service (again, after Stop: a restart).
func (e *Env) Start(t testing.TB) {
	t.Helper()
	st, err := store.Open(e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var svcp atomic.Pointer[channels.Service]
	ac := ACDConfig(e.Config)
	ac.Sink = acd.SinkFunc(func(ev acd.Event) {
		if s := svcp.Load(); s != nil {
			s.ACDEvent(ev)
		}
	})
	eng, err := acd.New(ac)
	if err != nil {
		t.Fatal(err)
	}
	var flows *ivr.Flows
	if len(e.Config.Numbers) > 0 {
		e.Config.ApplyDefaults()
		if flows, err = ivr.Compile(e.Config, ivr.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := channels.NewService(channels.Options{Store: st, Router: channels.NewACDRouter(eng),
		Config: e.Config, Channels: e.Channels, Flows: flows})
	if err != nil {
		t.Fatal(err)
	}
	svcp.Store(svc)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() { defer wg.Done(); svc.Run(ctx) }()
	e.Store, e.Engine, e.Service = st, eng, svc
	e.stop = func() {
		cancel()
		wg.Wait()
		st.Close()
	}
}

// Stop stops the service and engine and closes the store; it may be called twice.
func (e *Env) Stop() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// Restart stops everything and starts again on the same folder.
func (e *Env) Restart(t testing.TB) {
	e.Stop()
	e.Start(t)
}

// Eventually polls cond every few milliseconds until it holds, failing the test after a
// generous bound (a correctness bound, not a timing threshold).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Outbox is an Adapter that records what it is asked to send.
type Outbox struct {
	name string
	mu   sync.Mutex
	sent []store.Message
}

// NewOutbox returns a recording adapter named name.
func NewOutbox(name string) *Outbox { return &Outbox{name: name} }

// Name implements channels.Adapter.
func (o *Outbox) Name() string { return o.name }

// Send implements channels.Adapter.
func (o *Outbox) Send(_ context.Context, _ store.Conversation, m store.Message) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return o.name + "-out-" + m.Conv + "-" + time.Now().Format("150405.000000000"), nil
}

// Sent returns a copy of what was sent.
func (o *Outbox) Sent() []store.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]store.Message(nil), o.sent...)
}

// WaitOffer waits for an offer of conv to agent and returns it.
func WaitOffer(t testing.TB, s *channels.Service, agent, conv string) channels.Offer {
	t.Helper()
	var got channels.Offer
	Eventually(t, agent+" offered "+conv, func() bool {
		for _, o := range s.Offers(agent) {
			if o.Conv == conv {
				got = o
				return true
			}
		}
		return false
	})
	return got
}

// WaitState waits until conv is in state (and, for assigned, with agent).
func WaitState(t testing.TB, st *store.Store, conv, state, agent string) store.Conversation {
	t.Helper()
	var c store.Conversation
	Eventually(t, conv+" "+state+" "+agent, func() bool {
		var ok bool
		c, ok, _ = st.Conversation(conv)
		return ok && c.State == state && (agent == "" || c.Agent == agent)
	})
	return c
}
