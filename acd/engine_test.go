package acd_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

func agentDef(id string, skills map[string]string, queues ...string) acd.AgentDef {
	return acd.AgentDef{ID: id, Skills: skills, Queues: queues, Capacity: voice1()}
}

// The whole lifecycle: queued, reserved, accepted, completed, wrap-up
// ended by its timer; statistics follow (doc.go 2, 4).
func TestLifecycle(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "sales", WrapUp: 5 * time.Second, ServiceLevel: 20 * time.Second}},
		Agents: []acd.AgentDef{agentDef("alice", nil, "sales")},
	})
	h.enqueue("c1", "sales", 0)
	if n := h.count(acd.EventReservationCreated, "c1"); n != 0 {
		t.Fatal("offered to an offline agent")
	}
	h.advance(3 * time.Second)
	h.login("alice")
	h.wantOffer("c1", "alice")
	if ev := h.offer("c1"); !ev.Timeout.Equal(t0.Add(3*time.Second + 20*time.Second)) {
		t.Errorf("timeout %v, want default RONA 20s after the offer", ev.Timeout)
	}
	h.accept("c1")
	h.do(h.e.Complete("c1"))
	s, _ := h.e.Snapshot().Agent("alice")
	if s.State != acd.WrapUp || s.Load[acd.Voice] != 1 {
		t.Fatalf("after complete: %+v, want wrap-up holding the voice slot", s)
	}
	h.enqueue("c2", "sales", 0)
	h.wantOffer("c2", "") // still in wrap-up
	h.advance(5 * time.Second)
	h.wantOffer("c2", "alice")
	if h.count(acd.EventWrapUpEnded, "c1") != 1 || h.count(acd.EventTaskCompleted, "c1") != 1 {
		t.Fatalf("events:\n%s", dump(h.rec.Events()))
	}
	q, _ := h.e.Snapshot().Queue("sales")
	if q.Answered != 1 || q.Completed != 1 || q.Reserved != 1 || q.AvgSpeedOfAnswer != 3*time.Second || q.ServiceLevel != 1 {
		t.Fatalf("stats %+v", q)
	}
}

// Reject and no answer send the task back to its original place for the
// next best agent; misses put the agent in RONA (doc.go 4, 8).
func TestRejectAndRONA(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "q", RONATimeout: 10 * time.Second, RONAMisses: 2}},
		Agents: []acd.AgentDef{agentDef("a1", nil, "q"), agentDef("a2", nil, "q")},
	})
	h.login("a1")
	h.enqueue("first", "q", 0)
	h.wantOffer("first", "a1")
	first := h.offer("first").Reservation
	h.advance(time.Second)
	h.enqueue("second", "q", 0)
	h.do(h.e.Reject(first))
	// a1 refused "first" (miss 1): it gets "second"; "first" keeps its place.
	h.wantOffer("first", "")
	h.wantOffer("second", "a1")
	h.advance(2 * time.Second)
	h.login("a2")
	h.wantOffer("first", "a2") // original place: before any later task
	h.advance(7 * time.Second) // t=10 s
	h.wantOffer("second", "a1")
	h.advance(time.Second) // t=11 s: a1 did not answer "second": miss 2 → RONA
	if s, _ := h.e.Snapshot().Agent("a1"); s.State != acd.RONA {
		t.Fatalf("a1 state %v after 2 misses, want rona", s.State)
	}
	h.wantOffer("second", "")
	h.wantOffer("first", "a2")
	h.advance(2 * time.Second) // t=13 s: a2 did not answer "first" (miss 1)
	h.wantOffer("first", "")   // a1 and a2 both refused it
	h.wantOffer("second", "a2")
	if s, _ := h.e.Snapshot().Agent("a2"); s.State != acd.Busy {
		t.Fatalf("a2 state %v after 1 miss of 2, want busy", s.State)
	}
	// A late accept loses the race and says so.
	if err := h.e.Accept(first); err != nil {
		t.Fatal(err)
	}
	h.sync()
	ev, ok := h.rec.Last(acd.EventCommandFailed, "")
	if !ok || !errors.Is(ev.Err, acd.ErrNoReservation) {
		t.Fatalf("late accept: %+v", ev)
	}
	h.do(h.e.SetState("a1", acd.Available, ""))
	h.wantOffer("first", "a1") // a1 came back: its exclusion ended, nobody else can take it (doc.go 8)
	q, _ := h.e.Snapshot().Queue("q")
	if q.Rejected != 1 || q.RONA != 2 || q.Waiting != 0 || q.Reserved != 2 {
		t.Fatalf("stats %+v", q)
	}
}

// A task that only one agent can take is never stranded by that agent's misses: it comes
// back to the agent once the agent comes back or is free again (doc.go 8). Found by the text
// channels, where a missed chat waited for ever for an agent who was ready.
func TestMissedTaskReturnsToItsOnlyAgent(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "q", RONATimeout: 10 * time.Second, RONAMisses: 3, WrapUp: 5 * time.Second}},
		Agents: []acd.AgentDef{agentDef("solo", nil, "q")},
	})
	h.login("solo")
	h.enqueue("chat1", "q", 0)
	h.do(h.e.Reject(h.offer("chat1").Reservation))
	h.wantOffer("chat1", "") // just refused: not offered straight back
	// The agent takes another contact and finishes it: free again, chat1 comes back.
	h.enqueue("call", "q", 0)
	h.wantOffer("call", "solo")
	h.accept("call")
	h.do(h.e.Complete("call"))
	h.wantOffer("chat1", "")
	h.advance(5 * time.Second) // wrap-up ends
	h.wantOffer("chat1", "solo")
	// No answer this time; the agent goes not-ready then ready: chat1 comes back again.
	h.advance(10 * time.Second)
	h.wantOffer("chat1", "")
	h.do(h.e.SetState("solo", acd.NotReady, "break"))
	h.do(h.e.SetState("solo", acd.Available, ""))
	h.wantOffer("chat1", "solo")
	// Going not-ready while an offer rings withdraws it without counting a miss.
	h.do(h.e.SetState("solo", acd.NotReady, "break"))
	h.wantOffer("chat1", "")
	if ev, ok := h.rec.Last(acd.EventReservationCanceled, "chat1"); !ok || ev.Agent != "solo" {
		t.Fatalf("no withdrawal event: %+v", ev)
	}
	q, _ := h.e.Snapshot().Queue("q")
	if q.Rejected != 1 || q.RONA != 1 {
		t.Fatalf("misses counted: rejected %d rona %d, want 1 and 1", q.Rejected, q.RONA)
	}
}

// Relaxation applies while the task waits, not before its time, and the
// task keeps its place (doc.go 7).
func TestRelaxation(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "sales", RONATimeout: 5 * time.Minute, Requirements: []string{"sales >= 6", "language == fr"},
			Relax: []acd.RelaxStep{{After: 30 * time.Second, Set: []string{"sales >= 3"}}, {After: 60 * time.Second, Drop: []string{"language"}}}}},
		Agents: []acd.AgentDef{
			agentDef("junior-en", map[string]string{"sales": "4", "language": "en"}, "sales"),
			agentDef("junior-fr", map[string]string{"sales": "4", "language": "fr"}, "sales"),
		},
	})
	h.login("junior-en")
	h.enqueue("old", "sales", 0)
	h.advance(10 * time.Second)
	h.enqueue("new", "sales", 0)
	h.advance(19 * time.Second) // old has waited 29 s
	h.wantOffer("old", "")
	h.advance(time.Second) // 30 s: sales >= 3, but still language == fr
	if h.count(acd.EventTaskRelaxed, "old") != 1 {
		t.Fatalf("no relax event:\n%s", dump(h.rec.Events()))
	}
	h.wantOffer("old", "")
	h.login("junior-fr")
	h.wantOffer("old", "junior-fr")
	h.wantOffer("new", "")      // new has waited only 20 s
	h.advance(10 * time.Second) // new: 30 s, sales >= 3
	h.advance(20 * time.Second) // old: 60 s
	h.wantOffer("new", "")
	h.advance(10 * time.Second) // new: 60 s, language dropped
	h.wantOffer("new", "junior-en")
	for _, ev := range h.rec.Events() {
		if ev.Kind == acd.EventTaskRelaxed {
			want := map[int]time.Duration{1: 30 * time.Second, 2: 60 * time.Second}[ev.Stage]
			if ev.Task == "new" {
				want += 10 * time.Second
			}
			if ev.Time.Sub(t0) != want {
				t.Errorf("%s stage %d at %v, want %v", ev.Task, ev.Stage, ev.Time.Sub(t0), want)
			}
		}
	}
}

// Priority first, then arrival, across every queue an agent serves
// (doc.go 6).
func TestPriorityAcrossQueues(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "a"}, {Name: "b"}, {Name: "c", Priority: 5}},
		Agents: []acd.AgentDef{agentDef("x", nil, "a", "b", "c")},
	})
	h.enqueue("a1", "a", 0)
	h.advance(time.Second)
	h.enqueue("b1", "b", 0)
	h.advance(time.Second)
	h.enqueue("b2-urgent", "b", 3)
	h.advance(time.Second)
	h.enqueue("c1", "c", 0) // queue priority 5
	h.advance(time.Second)
	h.enqueue("a2", "a", 0)
	var order []string
	h.login("x")
	for range 5 {
		var cur string
		for _, id := range []string{"a1", "b1", "b2-urgent", "c1", "a2"} {
			if h.offered(id) == "x" {
				cur = id
			}
		}
		order = append(order, cur)
		h.accept(cur)
		h.do(h.e.Complete(cur))
	}
	want := []string{"c1", "b2-urgent", "a1", "b1", "a2"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

// Capacity per channel and the no-chat-during-call rule (doc.go 3).
func TestCapacityAndCrossChannel(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "q"}},
		Agents: []acd.AgentDef{{ID: "x", Queues: []string{"q"}, NoChatDuringCall: true,
			Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Chat: 2, acd.Email: 1}}},
	})
	h.login("x")
	for _, id := range []string{"chat1", "chat2", "chat3"} {
		h.do(h.e.Enqueue(acd.Task{ID: id, Queue: "q", Channel: acd.Chat}))
	}
	h.wantOffer("chat1", "x")
	h.wantOffer("chat2", "x")
	h.wantOffer("chat3", "") // chat capacity 2
	h.do(h.e.Enqueue(acd.Task{ID: "mail", Queue: "q", Channel: acd.Email}))
	h.wantOffer("mail", "x")
	h.do(h.e.Enqueue(acd.Task{ID: "call", Queue: "q", Channel: acd.Voice}))
	h.wantOffer("call", "x") // voice is not blocked by chats
	h.accept("chat1")
	h.do(h.e.Complete("chat1"))
	h.wantOffer("chat3", "") // a call is held: no chat
	h.do(h.e.Reject(h.offer("call").Reservation))
	h.wantOffer("chat3", "x")
	s, _ := h.e.Snapshot().Agent("x")
	if s.Load != [acd.NumChannels]int{0, 2, 1, 0} {
		t.Fatalf("load %v", s.Load)
	}
}

// Max wait overflows to another queue keeping the place, or times out;
// Cancel abandons; Transfer moves (doc.go 2).
func TestMaxWaitCancelTransfer(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{
			{Name: "front", MaxWait: time.Minute, Overflow: "back"},
			{Name: "back", MaxWait: time.Minute},
			{Name: "other"},
		},
		Agents: []acd.AgentDef{agentDef("b", nil, "back"), agentDef("o", nil, "other")},
	})
	h.enqueue("t1", "front", 0)
	h.advance(30 * time.Second)
	h.enqueue("t2", "back", 0)
	h.advance(30 * time.Second)
	if h.count(acd.EventTaskOverflowed, "t1") != 1 {
		t.Fatalf("no overflow:\n%s", dump(h.rec.Events()))
	}
	h.login("b")
	h.wantOffer("t1", "b") // overflowed t1 arrived first: it keeps its place
	h.do(h.e.Cancel("t1"))
	h.wantOffer("t2", "b")
	h.enqueue("t3", "back", 0)
	h.do(h.e.Transfer("t3", "other"))
	h.login("o")
	h.wantOffer("t3", "o")
	h.do(h.e.Cancel("t2"))
	h.enqueue("t4", "back", 0)
	h.do(h.e.SetState("b", acd.NotReady, "lunch"))
	h.wantOffer("t4", "") // not-ready withdraws the pending offer: t4 is back at its place (doc.go 8)
	h.do(h.e.AgentLogout("b"))
	h.wantOffer("t4", "")
	h.advance(time.Minute)
	if h.count(acd.EventTaskTimedOut, "t4") != 1 {
		t.Fatalf("no time out:\n%s", dump(h.rec.Events()))
	}
	for _, id := range []string{"t1", "t2"} {
		if h.count(acd.EventTaskAbandoned, id) != 1 {
			t.Errorf("%s not abandoned once", id)
		}
	}
	q, _ := h.e.Snapshot().Queue("back")
	if q.Abandoned != 2 || q.TimedOut != 1 || q.Transferred != 1 || q.ServiceLevel != 0 {
		t.Fatalf("stats %+v", q)
	}
	if err := h.e.Cancel("nope"); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if ev, _ := h.rec.Last(acd.EventCommandFailed, "nope"); !errors.Is(ev.Err, acd.ErrUnknownTask) {
		t.Fatalf("cancel unknown: %+v", ev)
	}
}

// The built-in strategies order agents as documented.
func TestStrategies(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		want     string
	}{
		{"longest-idle", "b"}, // a and c hold a chat now
		{"most-skilled", "c"},
		{"round-robin", "b"},
		{"least-occupied", "b"},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			chat := map[acd.Channel]int{acd.Chat: 2}
			h := start(t, acd.Config{
				Skills: testSkills,
				Queues: []acd.QueueDef{{Name: "q", Strategy: tc.strategy, Requirements: []string{"sales >= 1"}}},
				Agents: []acd.AgentDef{
					{ID: "a", Skills: map[string]string{"sales": "2"}, Queues: []string{"q"}, Capacity: chat},
					{ID: "b", Skills: map[string]string{"sales": "5"}, Queues: []string{"q"}, Capacity: chat},
					{ID: "c", Skills: map[string]string{"sales": "9"}, Queues: []string{"q"}, Capacity: chat},
				},
			})
			h.login("a")
			h.advance(time.Second)
			h.login("b", "c")
			// Warm up: one chat to a and one to c, so b was offered least
			// recently and has the lowest load.
			h.do(h.e.Enqueue(acd.Task{ID: "w1", Queue: "q", Channel: acd.Chat, Requirements: acd.MustParseConditions("sales <= 2")}))
			h.do(h.e.Enqueue(acd.Task{ID: "w2", Queue: "q", Channel: acd.Chat, Requirements: acd.MustParseConditions("sales >= 9")}))
			h.wantOffer("w1", "a")
			h.wantOffer("w2", "c")
			h.do(h.e.Enqueue(acd.Task{ID: "t", Queue: "q", Channel: acd.Chat}))
			h.wantOffer("t", tc.want)
		})
	}
}

// A reload applies to tasks already waiting (doc.go 7).
func TestApplyReroutesWaiting(t *testing.T) {
	cfg := acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "q", Requirements: []string{"language == de"}}},
		Agents: []acd.AgentDef{agentDef("fr", map[string]string{"language": "fr"}, "q")},
	}
	h := start(t, cfg)
	h.login("fr")
	h.enqueue("t", "q", 0)
	h.wantOffer("t", "")
	cfg.Queues[0].Relax = []acd.RelaxStep{{After: time.Second, Drop: []string{"language"}}}
	h.advance(2 * time.Second)
	if err := h.e.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	h.sync()
	h.wantOffer("t", "fr")
	cfg.Queues = nil
	cfg.Agents[0].Queues = nil
	h.enqueue("u", "q", 0)
	if err := h.e.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	h.sync()
	if h.count(acd.EventTaskTimedOut, "u") != 1 || h.count(acd.EventReservationCanceled, "t") != 1 || h.count(acd.EventTaskTimedOut, "t") != 1 {
		t.Fatalf("removed queue:\n%s", dump(h.rec.Events()))
	}
}

func TestErrBusy(t *testing.T) {
	e, err := acd.New(acd.Config{Queues: []acd.QueueDef{{Name: "q"}}, Sink: acd.SinkFunc(func(acd.Event) {}), RingSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	var busy error
	for i := range 10 {
		if err := e.Cancel(string(rune('a' + i))); err != nil {
			busy = err
			break
		}
	}
	if !errors.Is(busy, acd.ErrBusy) {
		t.Fatalf("full ring: %v, want ErrBusy", busy)
	}
	acd.Drain(e)
	if err := e.Cancel("x"); err != nil {
		t.Fatalf("after drain: %v", err)
	}
	if err := e.Enqueue(acd.Task{ID: "x", Queue: "nope"}); !errors.Is(err, acd.ErrUnknownQueue) {
		t.Fatalf("unknown queue: %v", err)
	}
}

// WaitRoom is the backpressure of a full ring: a producer that got ErrBusy waits until Run has
// taken commands off the ring, then submits; a wait ends with its context, and with ErrClosed
// once Run has returned.
func TestWaitRoom(t *testing.T) {
	e, err := acd.New(acd.Config{Queues: []acd.QueueDef{{Name: "q"}}, Sink: acd.SinkFunc(func(acd.Event) {}), RingSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; e.Enqueue(acd.Task{ID: fmt.Sprint(n), Queue: "q"}) == nil; n++ {
	}
	if err := e.Enqueue(acd.Task{ID: "late", Queue: "q"}); !errors.Is(err, acd.ErrBusy) {
		t.Fatalf("full ring: %v, want ErrBusy", err)
	}
	short, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.WaitRoom(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitRoom with a cancelled context: %v", err)
	}
	// Producers wait for room, then submit; Run makes room.
	const producers = 8
	errs := make(chan error, producers)
	for i := range producers {
		go func() {
			for {
				err := e.Enqueue(acd.Task{ID: fmt.Sprintf("w%d", i), Queue: "q"})
				if !errors.Is(err, acd.ErrBusy) {
					errs <- err
					return
				}
				if err := e.WaitRoom(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	for range producers {
		if err := <-errs; err != nil {
			t.Fatalf("producer: %v", err)
		}
	}
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if q, _ := e.Snapshot().Queue("q"); q.Waiting != n+producers {
		t.Fatalf("waiting %d, want %d", q.Waiting, n+producers)
	}
	stop()
	<-done
	if err := e.WaitRoom(context.Background()); !errors.Is(err, acd.ErrClosed) {
		t.Fatalf("WaitRoom after Run: %v", err)
	}
}

// Skill profiles, the general cross-channel rule, and the live figures
// of a queue: waiting, longest wait, agents by state.
func TestProfilesBlocksAndStats(t *testing.T) {
	h := start(t, acd.Config{
		Skills:   testSkills,
		Profiles: []acd.ProfileDef{{Name: "french-sales", Skills: map[string]string{"language": "fr", "sales": "7"}}},
		Queues:   []acd.QueueDef{{Name: "fr", Requirements: []string{"language == fr", "sales >= 5"}}},
		Agents: []acd.AgentDef{
			{ID: "p", Profiles: []string{"french-sales"}, Skills: map[string]string{"sales": "4"}, Queues: []string{"fr"},
				Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Email: 2}},
			{ID: "q", Profiles: []string{"french-sales"}, Queues: []string{"fr"}, Capacity: map[acd.Channel]int{acd.Voice: 1, acd.Email: 2},
				Blocks: map[acd.Channel][]acd.Channel{acd.Email: {acd.Voice}}}, // no calls while on an email
			{ID: "r", Queues: []string{"fr"}, Capacity: voice1()},
		},
	})
	h.login("p", "q")
	h.do(h.e.SetState("q", acd.NotReady, "training"))
	h.enqueue("call", "fr", 0)
	h.wantOffer("call", "") // p's own sales 4 overrides the profile's 7; q not ready
	h.advance(7 * time.Second)
	s := h.e.Snapshot()
	qs, _ := s.Queue("fr")
	if qs.Waiting != 1 || qs.LongestWait != 7*time.Second || qs.Agents[acd.Available] != 1 || qs.Agents[acd.NotReady] != 1 || qs.Agents[acd.Offline] != 1 {
		t.Fatalf("stats %+v", qs)
	}
	if a, _ := s.Agent("q"); a.State != acd.NotReady || a.Reason != "training" {
		t.Fatalf("q: %+v", a)
	}
	h.do(h.e.SetState("q", acd.Available, ""))
	h.wantOffer("call", "q")
	h.accept("call")
	h.do(h.e.Enqueue(acd.Task{ID: "mail", Queue: "fr", Channel: acd.Email, Requirements: acd.MustParseConditions("sales >= 7")}))
	h.wantOffer("mail", "q")
	h.accept("mail")
	h.do(h.e.Complete("call"))
	h.enqueue("call2", "fr", 0)
	h.wantOffer("call2", "") // q holds an email: no calls
	h.do(h.e.Complete("mail"))
	h.wantOffer("call2", "q")
}

// Run owns the engine until its context ends; afterwards submissions fail
// with ErrClosed, and a second Run is refused.
func TestRunLifecycle(t *testing.T) {
	e, err := acd.New(acd.Config{Queues: []acd.QueueDef{{Name: "q"}}, Sink: acd.SinkFunc(func(acd.Event) {})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	if err := e.Enqueue(acd.Task{ID: "t", Queue: "q"}); err != nil {
		t.Fatal(err)
	}
	if err := e.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if q, _ := e.Snapshot().Queue("q"); q.Waiting != 1 {
		t.Fatalf("waiting %d", q.Waiting)
	}
	if err := e.Run(ctx); !errors.Is(err, acd.ErrRunning) {
		t.Fatalf("second Run: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := e.Cancel("t"); !errors.Is(err, acd.ErrClosed) {
		t.Fatalf("after Run: %v", err)
	}
	if err := e.Sync(context.Background()); !errors.Is(err, acd.ErrClosed) {
		t.Fatalf("Sync after Run: %v", err)
	}
}

// Classes built for one-off requirements are dropped once idle, and
// rebuilt when needed again.
func TestIdleClassesSwept(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "q"}},
		Agents: []acd.AgentDef{{ID: "a", Skills: map[string]string{"team": "t7"}, Queues: []string{"q"}, Capacity: voice1()}},
	})
	h.login("a")
	h.do(h.e.SetState("a", acd.NotReady, "x"))
	for i := range 50 {
		h.enqueue(fmt.Sprintf("c%d", i), "q", 0, fmt.Sprintf("team == t%d", i))
	}
	if n := acd.Classes(h.e); n != 50 {
		t.Fatalf("%d classes, want 50", n)
	}
	for i := range 50 {
		if i != 7 {
			h.do(h.e.Cancel(fmt.Sprintf("c%d", i)))
		}
	}
	for range 8 {
		h.advance(10 * time.Second)
	}
	if n := acd.Classes(h.e); n != 1 {
		t.Fatalf("%d classes after a minute idle, want 1 (c7's)", n)
	}
	h.enqueue("again", "q", 0, "team == t3")
	h.do(h.e.Cancel("c7"))
	h.do(h.e.SetState("a", acd.Available, ""))
	h.wantOffer("again", "")
	h.enqueue("match", "q", 0, "team == t7")
	h.wantOffer("match", "a")
}
