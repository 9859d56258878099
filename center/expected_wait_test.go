package center_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
)

// TestExpectedWaitFromHandledCalls (issue 15): the center says nothing until the queue has
// handled acd.MinHandleSamples calls; then position × mean handle time ÷ working agents, the
// handle time counted from the answer to the end of the wrap-up on the engine's clock, and
// nothing again when nobody is working.
func TestExpectedWaitFromHandledCalls(t *testing.T) {
	e := newEnv(t, testYAML, center.Options{})
	e.c.DeviceUp("a1", "sip:a1@phone")
	e.sync()
	in := center.NewInbox()
	for i, talk := range []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute} {
		if _, ok := e.c.ExpectedWait("q", acd.Voice, 1); ok {
			t.Fatalf("an estimate after %d handled calls", i)
		}
		task := fmt.Sprintf("call-%d", i)
		if err := e.c.Enqueue(e.ctx, acd.Task{ID: task, Queue: "q", Channel: acd.Voice}, in); err != nil {
			t.Fatal(err)
		}
		var res acd.ReservationID
		evs := e.events(in)
		for _, ev := range evs {
			if ev.Kind == acd.EventReservationCreated {
				res = ev.Reservation
			}
		}
		if res == 0 {
			t.Fatalf("%s not offered: %+v; a1 %+v", task, evs, agentOf(e, "a1"))
		}
		if err := e.c.Accept(e.ctx, res); err != nil {
			t.Fatal(err)
		}
		e.sync()
		e.advance(talk)
		if err := e.c.Complete(e.ctx, task); err != nil {
			t.Fatal(err)
		}
		e.sync()
		e.advance(5 * time.Second) // the queue's wrap-up
		e.events(in)
	}
	// Handle times 1m05s, 2m05s, 3m05s: mean 2m05s; one working agent (a1).
	for pos, want := range map[int]time.Duration{1: 125 * time.Second, 3: 375 * time.Second} {
		if got, ok := e.c.ExpectedWait("q", acd.Voice, pos); !ok || got != want {
			t.Errorf("position %d: %v %v, want %v", pos, got, ok, want)
		}
	}
	if _, ok := e.c.ExpectedWait("q", acd.Chat, 1); ok {
		t.Error("chat has an estimate from calls")
	}
	if err := e.c.SetReady("a1", false, "break"); err != nil {
		t.Fatal(err)
	}
	e.sync()
	if w, ok := e.c.ExpectedWait("q", acd.Voice, 1); ok {
		t.Errorf("estimate %v with nobody working", w)
	}
}

func agentOf(e *env, id string) acd.AgentStatus {
	a, _ := e.c.Snapshot().Agent(id)
	return a
}
