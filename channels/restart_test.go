package channels_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

// A conversation the flow gave priority 5 and "language == fr" keeps both when an agent
// transfers it and ccswitch restarts on the same store (invariant 3): after the restart, the
// French agent is offered it before an older conversation of priority 0 in the same queue,
// and the English agent is never offered it.
func TestTransferredThenRestartedKeepsPriorityAndRequirements(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	env.Channels = channels.Config{Telegram: channels.Telegram{Route: channels.Route{Enabled: true, Queue: "sales"}},
		WhatsApp: channels.WhatsApp{Route: channels.Route{Enabled: true, Entry: "+15550100"}}}
	prio := 5
	cfg := env.Config
	cfg.Skills = []config.Skill{{Name: "language", Type: "enum", Values: []string{"en", "fr"}}}
	cfg.Agents[0].Skills = map[string]string{"language": "fr"} // alice: support, sales
	cfg.Agents[0].Capacity["social"] = 1
	cfg.Agents[1].Skills = map[string]string{"language": "en"} // bob
	cfg.Agents[1].Queues = []string{"support", "sales"}
	carol := cfg.Agents[0]
	carol.ID, carol.Name, carol.Queues = "carol", "Carol", []string{"support"}
	cfg.Agents = append(cfg.Agents, carol)
	cfg.Numbers = []config.Number{{DID: "+15550100", Flow: "vip"}}
	cfg.Flows = []config.Flow{{Name: "vip", Nodes: []config.Node{
		{ID: "set", Type: "set", Priority: &prio, Requirements: []string{"language == fr"}, Next: "q"},
		{ID: "q", Type: "queue", Queue: "support"},
	}}}
	env.Restart(t)
	ctx := context.Background()

	older, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "telegram", ProviderID: "t1", From: "42", Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, older.Conv, store.ConvQueued, "")
	vip, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "whatsapp", ProviderID: "w1", From: "33612345678", Text: "bonjour"})
	if err != nil {
		t.Fatal(err)
	}
	if c := chantest.WaitState(t, env.Store, vip.Conv, store.ConvQueued, ""); c.Priority != 5 || c.Queue != "support" {
		t.Fatalf("queued by the flow: %+v", c)
	}
	env.Login(t, "carol")
	chantest.WaitOffer(t, env.Service, "carol", vip.Conv)
	if err := env.Service.Accept("carol", vip.Conv); err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, vip.Conv, store.ConvAssigned, "carol")
	if err := env.Service.Transfer("carol", vip.Conv, "sales"); err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, vip.Conv, store.ConvQueued, "")

	env.Restart(t)
	tasks, err := env.Store.Tasks()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(tasks, func(q store.QueuedTask) bool { return q.Conv == vip.Conv })
	if i < 0 || tasks[i].Queue != "sales" || tasks[i].Priority != 5 || !slices.Equal(tasks[i].Requirements, []string{"language == fr"}) {
		t.Fatalf("task records after the restart: %+v", tasks)
	}
	env.Login(t, "alice")
	if o := chantest.WaitOffer(t, env.Service, "alice", vip.Conv); o.Queue != "sales" {
		t.Fatalf("offer %+v", o)
	}
	if n := len(env.Service.Offers("alice")); n != 1 {
		t.Fatalf("alice (capacity 1) has %d offers", n)
	}
	env.Login(t, "bob")
	chantest.WaitOffer(t, env.Service, "bob", older.Conv)
	for _, o := range env.Service.Offers("bob") {
		if o.Conv == vip.Conv {
			t.Fatal("the French conversation was offered to bob")
		}
	}
}

// flaky fails its first n sends of each message, then takes them; block makes it wait for the
// context instead.
type flaky struct {
	name  string
	mu    sync.Mutex
	fails int
	tries map[uint64]int
	sent  []store.Message
	block bool
}

func (f *flaky) Name() string { return f.name }

func (f *flaky) Send(ctx context.Context, _ store.Conversation, m store.Message) (string, error) {
	if f.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries[m.Seq]++
	if f.tries[m.Seq] <= f.fails {
		return "", errors.New("provider answered 503")
	}
	f.sent = append(f.sent, m)
	return "id-" + m.Text, nil
}

func (f *flaky) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		out = append(out, m.Text)
	}
	return out
}

// The outbox (invariant 5): a reply the provider refuses twice is sent at the third attempt,
// each attempt stored and shown on the desktop; one it always refuses is given up as
// "failed: …" after the attempts; messages of a conversation leave in order; and a message
// still "sending" when ccswitch stops is sent after the restart.
func TestOutboxRetriesGivesUpAndResumes(t *testing.T) {
	ad := &flaky{name: "telegram", fails: 2, tries: map[uint64]int{}}
	env := chantest.New(t, channels.Config{})
	env.Adapters = []channels.Adapter{ad}
	env.Retry = channels.Retry{Attempts: 3, Base: time.Millisecond, Max: 4 * time.Millisecond}
	env.Restart(t)
	ctx := context.Background()
	r, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "telegram", ProviderID: "1", From: "42", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", r.Conv)
	if err := env.Service.Accept("alice", r.Conv); err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, r.Conv, store.ConvAssigned, "alice")
	events, cancel := env.Service.Subscribe("alice")
	defer cancel()
	for _, text := range []string{"one", "two", "three"} {
		if _, err := env.Service.Reply(ctx, "alice", r.Conv, text); err != nil {
			t.Fatal(err)
		}
	}
	chantest.Eventually(t, "three replies sent, in order", func() bool { return strings.Join(ad.texts(), ",") == "one,two,three" })
	_, ms, _ := env.Service.Conversation(r.Conv, 0)
	for _, m := range ms {
		if m.Dir == store.Out && (m.Status != store.StatusSent || m.Attempts != 3 || m.ProviderID != "id-"+m.Text) {
			t.Fatalf("reply stored as %+v", m)
		}
	}
	retrying := false
	for len(events) > 0 {
		if ev := <-events; ev.Type == "message" && ev.Message.Status == store.StatusSending && ev.Message.Error != "" {
			retrying = true
		}
	}
	if !retrying {
		t.Fatal("the desktop never saw a reply retrying")
	}
	if refs, _ := env.Store.Outbox(); len(refs) != 0 {
		t.Fatalf("outbox after delivery: %+v", refs)
	}

	// Always refused: given up after 3 attempts.
	ad.mu.Lock()
	ad.fails = 100
	ad.mu.Unlock()
	m, err := env.Service.Reply(ctx, "alice", r.Conv, "lost")
	if err != nil {
		t.Fatal(err)
	}
	chantest.Eventually(t, "reply given up", func() bool {
		cur, _, _ := env.Store.Message(r.Conv, m.Seq)
		return strings.HasPrefix(cur.Status, "failed: ") && cur.Attempts == 3
	})

	// A provider that never answers: the reply is still "sending" when ccswitch stops, and
	// goes out after the restart.
	ad.mu.Lock()
	ad.fails, ad.block = 0, true
	ad.mu.Unlock()
	rctx, stop := context.WithTimeout(ctx, 50*time.Millisecond) // the desktop stops waiting
	m, err = env.Service.Reply(rctx, "alice", r.Conv, "after restart")
	stop()
	if err != nil || m.Status != store.StatusSending {
		t.Fatalf("reply to a silent provider: %+v %v", m, err)
	}
	env.Stop()
	ad.block = false
	env.Start(t)
	chantest.Eventually(t, "reply sent after the restart", func() bool {
		cur, _, _ := env.Store.Message(r.Conv, m.Seq)
		return cur.Status == store.StatusSent
	})
	if got := ad.texts(); got[len(got)-1] != "after restart" {
		t.Fatalf("sent %v", got)
	}
}

type undeliverable struct{}

func (undeliverable) Name() string { return "email" }

func (undeliverable) Send(context.Context, store.Conversation, store.Message) (string, error) {
	return "", fmt.Errorf("email: send: %w: recipient is not a plain address", channels.ErrUndeliverable)
}

// TestUndeliverableIsGivenUpAtOnce (invariant 5): a message an adapter can never send (an
// address unsafe in a header) is "failed" after one attempt, not retried.
func TestUndeliverableIsGivenUpAtOnce(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	env.Adapters = []channels.Adapter{undeliverable{}}
	env.Retry = channels.Retry{Attempts: 5, Base: time.Millisecond, Max: 4 * time.Millisecond}
	env.Restart(t)
	ctx := context.Background()
	r, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "email", ProviderID: "p", From: "a@b.example", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", r.Conv)
	env.Service.Accept("alice", r.Conv)
	chantest.WaitState(t, env.Store, r.Conv, store.ConvAssigned, "alice")
	m, err := env.Service.Reply(ctx, "alice", r.Conv, "hello")
	if err != nil {
		t.Fatal(err)
	}
	chantest.Eventually(t, "reply given up", func() bool {
		cur, _, _ := env.Store.Message(r.Conv, m.Seq)
		return strings.HasPrefix(cur.Status, "failed: ")
	})
	if cur, _, _ := env.Store.Message(r.Conv, m.Seq); cur.Attempts != 1 {
		t.Fatalf("attempts = %d, want 1", cur.Attempts)
	}
}
