package acd_test

import (
	"context"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/acd/acdtest"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

type harness struct {
	t      *testing.T
	e      *acd.Engine
	clk    *acdtest.Clock
	rec    *acdtest.Recorder
	verify func() error
}

// start builds an engine with a manual clock and a recorder, checks
// every invariant after each batch and decision, and runs it until the
// test ends.
func start(t *testing.T, cfg acd.Config) *harness {
	t.Helper()
	h := &harness{t: t, clk: acdtest.NewClock(t0), rec: &acdtest.Recorder{}}
	cfg.Clock, cfg.Sink = h.clk, h.rec
	e, err := acd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	h.verify = acd.Verify(e)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		h.sync()
		if err := h.verify(); err != nil {
			t.Errorf("invariant: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return h
}

func (h *harness) sync() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.e.Sync(ctx); err != nil {
		h.t.Fatalf("Sync: %v", err)
	}
	if err := h.verify(); err != nil {
		h.t.Fatalf("invariant: %v", err)
	}
}

func (h *harness) do(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
	h.sync()
}

func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.Advance(d)
	h.sync()
}

func (h *harness) login(ids ...string) {
	h.t.Helper()
	for _, id := range ids {
		if err := h.e.AgentLogin(id); err != nil {
			h.t.Fatal(err)
		}
	}
	h.sync()
}

func (h *harness) enqueue(id, queue string, prio int, reqs ...string) {
	h.t.Helper()
	h.do(h.e.Enqueue(acd.Task{ID: id, Queue: queue, Channel: acd.Voice, Priority: prio, Requirements: acd.MustParseConditions(reqs...)}))
}

// offer returns the last reservation of task, failing if none.
func (h *harness) offer(task string) acd.Event {
	h.t.Helper()
	ev, ok := h.rec.Last(acd.EventReservationCreated, task)
	if !ok {
		h.t.Fatalf("task %s was never offered; events:\n%s", task, dump(h.rec.Events()))
	}
	return ev
}

// offered returns the agent task is currently reserved to, or "".
func (h *harness) offered(task string) string {
	agent := ""
	for _, ev := range h.rec.Events() {
		if ev.Task != task {
			continue
		}
		switch ev.Kind {
		case acd.EventReservationCreated:
			agent = ev.Agent
		case acd.EventReservationRejected, acd.EventReservationTimedOut, acd.EventReservationCanceled, acd.EventReservationAccepted:
			agent = ""
		}
	}
	return agent
}

func (h *harness) accept(task string) {
	h.t.Helper()
	h.do(h.e.Accept(h.offer(task).Reservation))
}

func (h *harness) count(k acd.EventKind, task string) int {
	n := 0
	for _, ev := range h.rec.Events() {
		if ev.Kind == k && (task == "" || ev.Task == task) {
			n++
		}
	}
	return n
}

func (h *harness) wantOffer(task, agent string) {
	h.t.Helper()
	if got := h.offered(task); got != agent {
		h.t.Fatalf("task %s offered to %q, want %q; events:\n%s", task, got, agent, dump(h.rec.Events()))
	}
}

func dump(evs []acd.Event) string {
	s := ""
	for _, ev := range evs {
		s += "  " + ev.Kind.String() + " task=" + ev.Task + " agent=" + ev.Agent + " queue=" + ev.Queue + " target=" + ev.Target + " state=" + ev.State.String()
		if ev.Err != nil {
			s += " err=" + ev.Err.Error()
		}
		s += "\n"
	}
	return s
}

var testSkills = []acd.SkillDef{
	{Name: "sales", Type: acd.Proficiency},
	{Name: "language", Type: acd.Enum, Values: []string{"en", "fr", "de"}},
	{Name: "vip", Type: acd.Boolean},
	{Name: "team", Type: acd.Text},
}

func voice1() map[acd.Channel]int { return map[acd.Channel]int{acd.Voice: 1} }
