package channels_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

func TestOfferAcceptReplyClose(t *testing.T) {
	env := chantest.New(t, channels.Config{SMS: channels.SMS{Route: channels.Route{Enabled: true, Greeting: "Thanks, an agent will answer shortly."}}})
	out := chantest.NewOutbox("sms")
	env.Service.AddAdapter(out)
	svc := env.Service
	ctx := context.Background()

	r, err := svc.Receive(ctx, channels.Inbound{Adapter: "sms", ProviderID: "SM1", From: "+33612345678",
		Identities: []store.Identity{{Kind: "phone", Value: "+33612345678"}}, Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	c := chantest.WaitState(t, env.Store, r.Conv, store.ConvQueued, "")
	if c.Queue != "support" {
		t.Fatalf("queue = %q, want support (first queue taking social)", c.Queue)
	}
	chantest.Eventually(t, "greeting sent", func() bool {
		s := out.Sent()
		return len(s) == 1 && s[0].Text == "Thanks, an agent will answer shortly."
	})

	env.Login(t, "alice")
	o := chantest.WaitOffer(t, svc, "alice", r.Conv)
	if o.Preview != "hello" || o.Timeout.IsZero() {
		t.Errorf("offer = %+v, want preview hello and a timeout", o)
	}
	if err := svc.Accept("bob", r.Conv); !errors.Is(err, channels.ErrNotYours) {
		t.Errorf("bob accepting alice's offer: err = %v, want ErrNotYours", err)
	}
	if err := svc.Accept("alice", r.Conv); err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, r.Conv, store.ConvAssigned, "alice")
	if tasks, _ := env.Store.Tasks(); len(tasks) != 0 {
		t.Errorf("task records after accept = %+v, want none", tasks)
	}
	if _, err := svc.Reply(ctx, "bob", r.Conv, "not mine"); !errors.Is(err, channels.ErrNotYours) {
		t.Errorf("bob replying: err = %v, want ErrNotYours", err)
	}
	m, err := svc.Reply(ctx, "alice", r.Conv, "Hi, how can I help?")
	if err != nil || m.Status != "sent" || m.ProviderID == "" {
		t.Fatalf("reply = %+v, %v", m, err)
	}
	if s := out.Sent(); len(s) != 2 || s[1].Text != "Hi, how can I help?" || s[1].Agent != "alice" {
		t.Fatalf("outbox = %+v", s)
	}
	if err := svc.Close("alice", r.Conv, "resolved", "said hello"); err != nil {
		t.Fatal(err)
	}
	c = chantest.WaitState(t, env.Store, r.Conv, store.ConvClosed, "")
	if c.WrapUp != "resolved" || c.Notes != "said hello" {
		t.Errorf("closed conv = %+v", c)
	}
	// A new message after the close opens a new conversation for the same customer.
	r2, err := svc.Receive(ctx, channels.Inbound{Adapter: "sms", ProviderID: "SM2", From: "+33612345678", Text: "again"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Conv == r.Conv || r2.Customer != r.Customer {
		t.Errorf("second receipt %+v, first %+v: want new conversation, same customer", r2, r)
	}
}

func TestDuplicateProviderIDChangesNothing(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	ctx := context.Background()
	in := channels.Inbound{Adapter: "whatsapp", ProviderID: "wamid.1", From: "33612345678", Text: "hi"}
	r1, err := env.Service.Receive(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := env.Service.Receive(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !r2.Duplicate || r2.Conv != r1.Conv || r2.Seq != r1.Seq {
		t.Fatalf("retry receipt = %+v, first = %+v", r2, r1)
	}
	_, ms, err := env.Service.Conversation(r1.Conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := countDir(ms, store.In); n != 1 {
		t.Errorf("%d inbound messages stored after a retry, want 1", n)
	}
}

// TestDigestDedupeHasAWindow (invariant 2): a content digest standing for a missing provider
// id deduplicates retries, but the same text written again after the window is a new message.
func TestDigestDedupeHasAWindow(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	ctx := context.Background()
	in := channels.Inbound{Adapter: "sms", ProviderID: "sha256:ab", DedupeFor: time.Hour, From: "+33612345678", Text: "yes",
		Time: time.Now().Add(-2 * time.Hour)}
	r1, err := env.Service.Receive(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Time = time.Time{}
	for i := range 3 { // the same "yes" two hours later, then two retries of it
		r, err := env.Service.Receive(ctx, in)
		if err != nil || r.Duplicate != (i > 0) {
			t.Fatalf("receive %d: %+v %v", i, r, err)
		}
	}
	_, ms, _ := env.Service.Conversation(r1.Conv, 0)
	if n := countDir(ms, store.In); n != 2 {
		t.Fatalf("%d inbound messages, want 2", n)
	}
}

func countDir(ms []store.Message, dir string) int {
	n := 0
	for _, m := range ms {
		if m.Dir == dir {
			n++
		}
	}
	return n
}

func TestIdentitiesLinkBySharedPhoneAndByHand(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	svc, ctx := env.Service, context.Background()
	wa, err := svc.Receive(ctx, channels.Inbound{Adapter: "whatsapp", ProviderID: "w1", From: "33612345678",
		Identities: []store.Identity{{Kind: "phone", Value: "+33612345678"}}, Text: "from whatsapp"})
	if err != nil {
		t.Fatal(err)
	}
	sms, err := svc.Receive(ctx, channels.Inbound{Adapter: "sms", ProviderID: "s1", From: "+33612345678",
		Identities: []store.Identity{{Kind: "phone", Value: "+33612345678"}}, Text: "from sms"})
	if err != nil {
		t.Fatal(err)
	}
	if sms.Customer != wa.Customer {
		t.Fatalf("sms customer %s != whatsapp customer %s: a shared phone must link them", sms.Customer, wa.Customer)
	}
	chat, err := svc.Receive(ctx, channels.Inbound{Adapter: "webchat", ProviderID: "c1", From: "visitor-1", Text: "from chat"})
	if err != nil {
		t.Fatal(err)
	}
	if chat.Customer == wa.Customer {
		t.Fatal("an anonymous visitor was linked without a shared identity")
	}
	// The visitor later gives an email that an email message also carries; then the agent
	// links the phone customer and the visitor by hand.
	mail, err := svc.Receive(ctx, channels.Inbound{Adapter: "email", ProviderID: "<m1@x>", MessageID: "<m1@x>", From: "Ann@Example.com",
		Identities: []store.Identity{{Kind: "email", Value: channels.EmailAddr("Ann@Example.com")}}, Text: "from email", Subject: "help"})
	if err != nil {
		t.Fatal(err)
	}
	chat2, err := svc.Receive(ctx, channels.Inbound{Adapter: "webchat", ProviderID: "c2", From: "visitor-1",
		Identities: []store.Identity{{Kind: "email", Value: "ann@example.com"}}, Text: "my email is ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if chat2.Customer != chat.Customer && chat2.Customer != mail.Customer {
		t.Fatalf("visitor with email: customer %s, want %s or %s", chat2.Customer, chat.Customer, mail.Customer)
	}
	if c, _, _ := env.Store.Customer(mail.Customer); c.ID != mustCustomer(t, env.Store, chat.Customer).ID {
		t.Fatalf("email customer and visitor not merged: %+v", c)
	}
	linked, err := svc.Link("alice", wa.Customer, chat.Customer)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := svc.Timeline(chat.Customer) // the merged id still resolves
	if err != nil {
		t.Fatal(err)
	}
	if tl.Customer.ID != linked.ID {
		t.Errorf("timeline customer = %s, want %s", tl.Customer.ID, linked.ID)
	}
	var texts []string
	for _, it := range tl.Items {
		if it.Message != nil && it.Message.Dir == store.In {
			texts = append(texts, it.Message.Text)
		}
	}
	want := []string{"from whatsapp", "from sms", "from chat", "from email", "my email is ann@example.com"}
	if len(texts) != len(want) {
		t.Fatalf("timeline inbound = %q, want %q", texts, want)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Fatalf("timeline inbound = %q, want %q", texts, want)
		}
	}
	for _, kind := range []string{"whatsapp", "sms", "webchat", "email", "phone"} {
		found := false
		for _, id := range tl.Customer.Identities {
			found = found || id.Kind == kind
		}
		if !found {
			t.Errorf("linked customer lacks a %s identity: %+v", kind, tl.Customer.Identities)
		}
	}
}

func mustCustomer(t *testing.T, st *store.Store, id string) store.Customer {
	t.Helper()
	c, ok, err := st.Customer(id)
	if err != nil || !ok {
		t.Fatalf("customer %s: %v %v", id, ok, err)
	}
	return c
}

func TestCallRecordsInTimeline(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	r, err := env.Service.Receive(context.Background(), channels.Inbound{Adapter: "whatsapp", ProviderID: "w1", From: "15550100",
		Identities: []store.Identity{{Kind: "phone", Value: "+15550100"}}, Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	msg, _, _ := env.Store.Message(r.Conv, r.Seq)
	for _, rec := range []store.CallRecord{
		{ID: "call-1", From: "+15550100", To: "+15550999", Start: msg.Time.Add(-1), Code: 200, Cause: "caller-bye"},
		{ID: "call-2", From: "+15550111", To: "+15550999", Start: msg.Time, Code: 200, Cause: "caller-bye"},
	} {
		if err := env.Store.PutCallRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	tl, err := env.Service.Timeline(r.Customer)
	if err != nil {
		t.Fatal(err)
	}
	if len(tl.Items) < 2 || tl.Items[0].Kind != "call" || tl.Items[0].Call.ID != "call-1" {
		t.Fatalf("timeline = %+v, want call-1 first", tl.Items)
	}
	for _, it := range tl.Items {
		if it.Call != nil && it.Call.ID == "call-2" {
			t.Error("another caller's record is in the timeline")
		}
	}
}

func TestRestartResumesWaitingConversation(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	held, err := env.Service.Receive(context.Background(), channels.Inbound{Adapter: "telegram", ProviderID: "u0", From: "41", Text: "first"})
	if err != nil {
		t.Fatal(err)
	}
	env.Login(t, "bob")
	chantest.WaitOffer(t, env.Service, "bob", held.Conv)
	env.Service.Accept("bob", held.Conv)
	chantest.WaitState(t, env.Store, held.Conv, store.ConvAssigned, "bob")
	env.Ready(t, "bob", false, "lunch")
	r, err := env.Service.Receive(context.Background(), channels.Inbound{Adapter: "telegram", ProviderID: "u1", From: "42", Text: "anyone?"})
	if err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, r.Conv, store.ConvQueued, "")
	env.Restart(t)
	env.Login(t, "bob")
	// Both come back: the waiting one, and the one bob held (the new engine knows nothing of it).
	chantest.WaitOffer(t, env.Service, "bob", r.Conv)
	chantest.WaitOffer(t, env.Service, "bob", held.Conv)
	_, ms, err := env.Service.Conversation(r.Conv, 0)
	if err != nil || len(ms) != 1 || ms[0].Text != "anyone?" {
		t.Fatalf("messages after restart = %+v, %v", ms, err)
	}
}

func TestFlowMenuThenQueue(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	prio := 5
	env.Config.Numbers = []config.Number{{DID: "+15550100", Flow: "triage"}}
	env.Config.Flows = []config.Flow{{Name: "triage", Escape: &config.Escape{Keyword: "agent", Queue: "support"}, Nodes: []config.Node{
		{ID: "menu", Type: "menu", Text: "Reply SALES or SUPPORT", Choices: []config.Choice{
			{Keywords: []string{"sales"}, Next: "vip"}, {Keywords: []string{"support"}, Next: "q-support"}}},
		{ID: "vip", Type: "set", Vars: map[string]string{"topic": "sales"}, Priority: &prio, Next: "say-sales"},
		{ID: "say-sales", Type: "play", Text: "Connecting you to sales.", Next: "q-sales"},
		{ID: "q-sales", Type: "queue", Queue: "sales"},
		{ID: "q-support", Type: "queue", Queue: "support"},
	}}}
	env.Channels.WhatsApp.Entry = "+15550100"
	env.Restart(t)
	out := chantest.NewOutbox("whatsapp")
	env.Service.AddAdapter(out)
	ctx := context.Background()
	r, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "whatsapp", ProviderID: "a", From: "111", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	chantest.Eventually(t, "menu prompt sent", func() bool { s := out.Sent(); return len(s) == 1 && s[0].Text == "Reply SALES or SUPPORT" })
	if c := chantest.WaitState(t, env.Store, r.Conv, store.ConvFlow, ""); c.Vars["entry"] != "+15550100" {
		t.Fatalf("conversation in flow: %+v", c)
	}
	if _, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "whatsapp", ProviderID: "b", From: "111", Text: "Sales please"}); err != nil {
		t.Fatal(err)
	}
	c := chantest.WaitState(t, env.Store, r.Conv, store.ConvQueued, "")
	if c.Queue != "sales" || c.Vars["topic"] != "sales" || c.Vars["priority"] != "5" {
		t.Errorf("after menu: %+v", c)
	}
	chantest.Eventually(t, "sales notice sent after the menu", func() bool {
		s := out.Sent()
		return len(s) == 2 && s[1].Text == "Connecting you to sales."
	})
	// The flow waits in the queue until an agent answers.
	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", r.Conv)
	env.Service.Accept("alice", r.Conv)
	chantest.WaitState(t, env.Store, r.Conv, store.ConvAssigned, "alice")

	// Escape from the menu.
	r2, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "whatsapp", ProviderID: "c", From: "222", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, r2.Conv, store.ConvFlow, "")
	chantest.Eventually(t, "second menu prompt", func() bool { return len(out.Sent()) == 3 })
	if _, err := env.Service.Receive(ctx, channels.Inbound{Adapter: "whatsapp", ProviderID: "d", From: "222", Text: "AGENT"}); err != nil {
		t.Fatal(err)
	}
	if c := chantest.WaitState(t, env.Store, r2.Conv, store.ConvQueued, ""); c.Queue != "support" {
		t.Errorf("escape queue = %q, want support", c.Queue)
	}
}

func TestFlowRestartsAfterRestart(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	env.Config.Numbers = []config.Number{{DID: "15550100", Flow: "ask"}}
	env.Config.Flows = []config.Flow{{Name: "ask", Nodes: []config.Node{
		{ID: "name", Type: "gather", Text: "Your order number?", Var: "order", Next: "q"},
		{ID: "q", Type: "queue", Queue: "support"},
	}}}
	env.Channels.Telegram.Entry = "15550100"
	env.Restart(t)
	out := chantest.NewOutbox("telegram")
	env.Service.AddAdapter(out)
	r, err := env.Service.Receive(context.Background(), channels.Inbound{Adapter: "telegram", ProviderID: "1", From: "42", Text: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	chantest.Eventually(t, "question sent", func() bool { return len(out.Sent()) == 1 })
	// The adapter is there when the service starts (the resumed flow's question may leave at
	// once: added after the start, it was sometimes missing, and the question failed).
	out = chantest.NewOutbox("telegram")
	env.Adapters = []channels.Adapter{out}
	env.Restart(t)
	// The conversation was in its flow: the flow asks again, and the answer queues it.
	chantest.Eventually(t, "question asked again after restart", func() bool { return len(out.Sent()) == 1 })
	if _, err := env.Service.Receive(context.Background(), channels.Inbound{Adapter: "telegram", ProviderID: "2", From: "42", Text: "A-1234"}); err != nil {
		t.Fatal(err)
	}
	if c := chantest.WaitState(t, env.Store, r.Conv, store.ConvQueued, ""); c.Vars["order"] != "A-1234" {
		t.Errorf("vars = %+v", c.Vars)
	}
}

func TestRejectGoesToNextAgentThenTransfer(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	svc, ctx := env.Service, context.Background()
	r, err := svc.Receive(ctx, channels.Inbound{Adapter: "webchat", ProviderID: "v:1", From: "v", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	env.Login(t, "alice")
	chantest.WaitOffer(t, svc, "alice", r.Conv)
	env.Login(t, "bob")
	if err := svc.Reject("alice", r.Conv); err != nil {
		t.Fatal(err)
	}
	chantest.WaitOffer(t, svc, "bob", r.Conv) // the next agent
	if err := svc.Accept("bob", r.Conv); err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, r.Conv, store.ConvAssigned, "bob")
	// The refusal counted as a miss (rona_misses 1): alice is in RONA until she is ready again.
	if a := env.Agent(t, "alice"); a.State != acd.RONA {
		t.Fatalf("alice after rejecting: %v, want rona", a.State)
	}
	env.Ready(t, "alice", true, "")
	if err := svc.Transfer("bob", r.Conv, "nowhere"); !errors.Is(err, channels.ErrBadInput) {
		t.Fatalf("transfer to an unknown queue: %v", err)
	}
	if err := svc.Transfer("alice", r.Conv, "sales"); !errors.Is(err, channels.ErrNotYours) {
		t.Fatalf("transfer by another agent: %v", err)
	}
	if err := svc.Transfer("bob", r.Conv, "sales"); err != nil {
		t.Fatal(err)
	}
	c := chantest.WaitState(t, env.Store, r.Conv, store.ConvQueued, "")
	if c.Queue != "sales" || c.Agent != "" {
		t.Fatalf("after transfer: %+v", c)
	}
	// alice serves sales (bob does not): the transferred chat is offered to her.
	chantest.WaitOffer(t, svc, "alice", r.Conv)
	if _, err := svc.Reply(ctx, "bob", r.Conv, "still mine?"); !errors.Is(err, channels.ErrNotYours) {
		t.Fatalf("bob replying after transfer: %v", err)
	}
}
