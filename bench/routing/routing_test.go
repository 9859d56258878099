package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/acd/acdtest"
)

// The baseline implements the same routing rules as the engine: driven
// through the same sequence of arrivals and agents freeing up, both make
// exactly the same decisions.
func TestBaselineMatchesEngine(t *testing.T) {
	w := newWorkload(scenario{agents: 30, skills: 4, waiting: 0}, 7)
	clk := acdtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	reservedTo := map[string]string{} // task -> agent
	nres := 0
	var e *acd.Engine
	cfg := w.config()
	cfg.Clock = clk
	cfg.Sink = acd.SinkFunc(func(ev acd.Event) {
		if ev.Kind == acd.EventReservationCreated {
			mu.Lock()
			reservedTo[ev.Task] = ev.Agent
			nres++
			mu.Unlock()
			_ = e.Accept(ev.Reservation)
		}
	})
	e, err := acd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	sync := func() {
		clk.Advance(time.Millisecond) // distinct idle times, as the baseline's counter
		if err := e.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for a := range w.sc.agents {
		_ = e.AgentLogin(fmt.Sprintf("agent-%d", a))
	}
	sync()
	b := &baseline{w: w, agents: make([]blAgent, w.sc.agents)}
	qnames := []string{"q0", "q1", "q2", "q3"}
	holding := map[int]string{} // agent -> engine task
	taskOfSeq := map[int64]string{}
	next := 0
	arrive := func() {
		id := fmt.Sprintf("task-%d", next)
		if err := e.Enqueue(w.task(next, id, next, qnames)); err != nil {
			t.Fatal(err)
		}
		sync()
		got := b.enqueue(next)
		taskOfSeq[b.seq] = id
		next++
		mu.Lock()
		agent, ok := reservedTo[id]
		mu.Unlock()
		want := ""
		if got >= 0 {
			want = fmt.Sprintf("agent-%d", got)
			holding[got] = id
		}
		if ok != (got >= 0) || ok && agent != want {
			t.Fatalf("arrival %s: engine gave it to %q, baseline to %q", id, agent, want)
		}
	}
	for range 80 { // more tasks than agents: some wait
		arrive()
	}
	for i := range 300 {
		a := (i * 7) % w.sc.agents
		mu.Lock()
		before := nres
		mu.Unlock()
		if id, ok := holding[a]; ok {
			if err := e.Complete(id); err != nil {
				t.Fatal(err)
			}
			delete(holding, a)
		}
		sync()
		bt, ok := b.free(a)
		mu.Lock()
		engineDecided := nres > before
		mu.Unlock()
		if ok != engineDecided {
			t.Fatalf("step %d: agent-%d freed: baseline decided %v, engine %v", i, a, ok, engineDecided)
		}
		if ok {
			holding[a] = taskOfSeq[bt.seq]
			mu.Lock()
			agent := reservedTo[taskOfSeq[bt.seq]]
			mu.Unlock()
			if agent != fmt.Sprintf("agent-%d", a) {
				t.Fatalf("step %d: baseline gave agent-%d task %s, engine gave that task to %q", i, a, taskOfSeq[bt.seq], agent)
			}
		}
		arrive()
	}
}

// The benchmark runs end to end on a small scenario.
func TestSmoke(t *testing.T) {
	for _, sc := range []scenario{{20, 3, 50}, {20, 3, 0}} {
		w := newWorkload(sc, 1)
		r, err := runEngine(w, 50*time.Millisecond, 1, 50)
		if err != nil {
			t.Fatal(err)
		}
		b := runBaseline(w, 50*time.Millisecond)
		if r.decisions == 0 || b.decisions == 0 || r.p99 == 0 || b.p99 == 0 {
			t.Fatalf("%v: engine %+v baseline %+v", sc, r, b)
		}
	}
}
