package center_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/acd/acdtest"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const testYAML = `
users:
  - {extension: "1001", secret: s1}
  - {extension: "1002", secret: s2}
queues:
  - {name: q, channels: [voice, chat], wrapup: 5s, rona_timeout: 10s, rona_misses: 1}
  - {name: other, channels: [voice]}
agents:
  - {id: a1, extension: "1001", queues: [q], auto_login: true, capacity: {voice: 1, chat: 2}}
  - {id: a2, extension: "1002", queues: [q], capacity: {voice: 1, chat: 2}}
`

type env struct {
	t   *testing.T
	c   *center.Center
	clk *acdtest.Clock
	ctx context.Context
}

func newEnv(t *testing.T, yaml string, o center.Options) *env {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, clk: acdtest.NewClock(t0), ctx: context.Background()}
	o.Clock = e.clk
	if e.c, err = center.New(cfg, o); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return e
}

func (e *env) sync() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.c.Sync(ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) advance(d time.Duration) {
	e.clk.Advance(d)
	e.sync()
}

// events takes what waits in in, after a Sync.
func (e *env) events(in *center.Inbox) []acd.Event {
	e.t.Helper()
	e.sync()
	return in.Take()
}

func kinds(evs []acd.Event) string {
	s := ""
	for _, ev := range evs {
		if s != "" {
			s += " "
		}
		s += ev.Kind.String()
	}
	return s
}

// Invariant 2: a task's events reach its inbox, and only them, from its queueing to the end of
// its wrap-up; then its ID is free again. A failed Accept reaches the inbox of the task whose
// reservation it named.
func TestTaskEventsReachTheirInbox(t *testing.T) {
	e := newEnv(t, testYAML, center.Options{})
	call, chat := center.NewInbox(), center.NewInbox()
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "call-1", Queue: "q", Channel: acd.Voice}, call); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "conv-1", Queue: "q", Channel: acd.Chat}, chat); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "call-1", Queue: "q", Channel: acd.Voice}, call); !errors.Is(err, center.ErrDuplicateTask) {
		t.Fatalf("second enqueue of a live task: %v", err)
	}
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "x", Queue: "nowhere"}, call); !errors.Is(err, acd.ErrUnknownQueue) {
		t.Fatalf("unknown queue: %v", err)
	}
	e.c.DeviceUp("a1", "sip:a1@phone")
	e.c.SessionOpened("a1")
	evs := e.events(call)
	if got := kinds(evs); got != "task-queued reservation-created" {
		t.Fatalf("call inbox: %s", got)
	}
	offer := evs[1]
	if got := kinds(e.events(chat)); got != "task-queued reservation-created" {
		t.Fatalf("chat inbox: %s", got)
	}
	// The call rings out (RONA): a late Accept fails, and says so to the call's inbox.
	e.advance(11 * time.Second)
	if err := e.c.Accept(e.ctx, offer.Reservation); err != nil {
		t.Fatal(err)
	}
	evs = e.events(call)
	if got := kinds(evs); got != "reservation-timed-out command-failed" || evs[1].Task != "call-1" || !errors.Is(evs[1].Err, acd.ErrNoReservation) {
		t.Fatalf("call inbox after RONA and a late accept: %s %+v", got, evs)
	}
	if err := e.c.Cancel(e.ctx, "call-1"); err != nil {
		t.Fatal(err)
	}
	if got := kinds(e.events(call)); got != "task-abandoned" {
		t.Fatalf("after cancel: %s", got)
	}
	// The ID is free once the task ended.
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "call-1", Queue: "other", Channel: acd.Voice}, call); err != nil {
		t.Fatalf("enqueue again after the end: %v", err)
	}
	for _, ev := range e.events(chat) {
		if ev.Task != "conv-1" {
			t.Fatalf("the chat's inbox got another task's event: %+v", ev)
		}
	}
}

// Invariant 1: with a full ring, commands wait for room and are each submitted once: every
// task of many concurrent producers is queued, none refused, none twice.
func TestBackpressure(t *testing.T) {
	e := newEnv(t, testYAML, center.Options{RingSize: 4})
	in := center.NewInbox()
	const producers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := e.c.Enqueue(e.ctx, acd.Task{ID: fmt.Sprintf("t%d-%d", p, i), Queue: "other", Channel: acd.Voice}, in); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	queued := map[string]int{}
	for _, ev := range e.events(in) {
		if ev.Kind == acd.EventTaskQueued {
			queued[ev.Task]++
		}
	}
	if len(queued) != producers*each {
		t.Fatalf("%d tasks queued, want %d", len(queued), producers*each)
	}
	for id, n := range queued {
		if n != 1 {
			t.Fatalf("task %s queued %d times", id, n)
		}
	}
	if q, _ := e.c.Snapshot().Queue("other"); q.Waiting != producers*each {
		t.Fatalf("waiting %d", q.Waiting)
	}
}
