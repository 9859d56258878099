// Package chantest (for tests only) boots the conversation service on a real contact center
// (center.Center: engine, presence, flows): a pebble store in a temporary folder, text queues
// and two agents, and a recording adapter standing in for a provider where a test does not
// need a wire format.
package chantest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/config"
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

// Env is a running service on a real center (engine, presence, flows).
type Env struct {
	Dir      string
	Config   *config.Config
	Channels channels.Config
	// Adapters are added before the service runs (at every Start); Retry bounds deliveries.
	Adapters []channels.Adapter
	Retry    channels.Retry
	Store    *store.Store
	Center   *center.Center
	// Registry has the service's metrics (a fresh one at every Start).
	Registry *prometheus.Registry
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

// Start opens the store, the center and the service (again, after Stop: a restart).
func (e *Env) Start(t testing.TB) {
	t.Helper()
	st, err := store.Open(e.Dir)
	if err != nil {
		t.Fatal(err)
	}
	e.Config.ApplyDefaults()
	cc, err := center.New(e.Config, center.Options{Store: st, SnapshotEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	svc, err := channels.NewService(channels.Options{Store: st, Center: cc, Channels: e.Channels, Retry: e.Retry, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range e.Adapters {
		svc.AddAdapter(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cctx, cancelCenter := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() { defer wg.Done(); svc.Run(ctx) }()
	go func() { cc.Run(cctx); close(done) }()
	e.Store, e.Center, e.Service, e.Registry = st, cc, svc, reg
	select { // what the previous run left is queued again before the test goes on
	case <-svc.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("service not resumed within 20 s")
	}
	e.stop = func() {
		cancel()
		wg.Wait() // the service first, then the center it talks to
		cancelCenter()
		<-done
		st.Close()
	}
}

// Stop stops the service and the center and closes the store; it may be called twice.
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

// Login opens a desktop session for agent and makes them ready, as an agent does from the
// desktop, and waits until the engine has it.
func (e *Env) Login(t testing.TB, agent string) {
	t.Helper()
	if err := e.Center.SessionOpened(agent); err != nil {
		t.Fatal(err)
	}
	e.Ready(t, agent, true, "")
}

// Agent returns the engine's view of agent, once everything submitted before is in it.
func (e *Env) Agent(t testing.TB, agent string) acd.AgentStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Center.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	a, _ := e.Center.Snapshot().Agent(agent)
	return a
}

// Ready sets agent ready or not ready, and waits until the engine has it.
func (e *Env) Ready(t testing.TB, agent string, ready bool, reason string) {
	t.Helper()
	if err := e.Center.SetReady(agent, ready, reason); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Center.Sync(ctx); err != nil {
		t.Fatal(err)
	}
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

// Refused is ccswitch_channels_refused_total{adapter, reason} so far.
func (e *Env) Refused(adapter, reason string) int {
	mfs, _ := e.Registry.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ccswitch_channels_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["adapter"] == adapter && labels["reason"] == reason {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}
