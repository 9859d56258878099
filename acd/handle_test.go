package acd_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// Every event about a task carries its Task.Tag, every event about an agent its
// AgentDef.Tag; events that name neither carry zero (the integer handles a sink uses
// instead of looking IDs up).
func TestTags(t *testing.T) {
	alice := agentDef("alice", nil, "sales")
	alice.Tag = 7
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "sales", WrapUp: time.Second}},
		Agents: []acd.AgentDef{alice},
	})
	h.do(h.e.Enqueue(acd.Task{ID: "c1", Queue: "sales", Tag: 42}))
	h.do(h.e.Enqueue(acd.Task{ID: "c1", Queue: "sales", Tag: 43})) // duplicate: fails
	h.login("alice")
	h.accept("c1")
	h.do(h.e.Complete("c1"))
	h.advance(time.Second)
	for _, ev := range h.rec.Events() {
		wantTask, wantAgent := uint64(0), uint64(0)
		if ev.Task == "c1" {
			wantTask = 42
			if ev.Kind == acd.EventCommandFailed {
				wantTask = 43 // the failed Enqueue's own tag
			}
		}
		if ev.Agent == "alice" {
			wantAgent = 7
		}
		if ev.TaskTag != wantTask || ev.AgentTag != wantAgent {
			t.Errorf("%v task=%s agent=%s: tags %d/%d, want %d/%d", ev.Kind, ev.Task, ev.Agent, ev.TaskTag, ev.AgentTag, wantTask, wantAgent)
		}
	}
	if h.count(acd.EventWrapUpEnded, "c1") != 1 {
		t.Fatalf("events:\n%s", dump(h.rec.Events()))
	}
}

// CompleteReservation ends the task accepted under the reservation, exactly as Complete
// does; any other reservation (pending, already completed, rejected, unknown, reused slot)
// fails with ErrNoReservation and changes nothing.
func TestCompleteReservation(t *testing.T) {
	h := start(t, acd.Config{
		Skills: testSkills,
		Queues: []acd.QueueDef{{Name: "sales"}},
		Agents: []acd.AgentDef{agentDef("alice", nil, "sales"), agentDef("bob", nil, "sales")},
	})
	failed := func(r acd.ReservationID) {
		t.Helper()
		before := h.count(acd.EventTaskCompleted, "")
		h.rec.Take()
		h.do(h.e.CompleteReservation(r))
		evs := h.rec.Take()
		if len(evs) != 1 || evs[0].Kind != acd.EventCommandFailed || !errors.Is(evs[0].Err, acd.ErrNoReservation) || evs[0].Reservation != r {
			t.Fatalf("CompleteReservation(%d): events\n%s", r, dump(evs))
		}
		if h.count(acd.EventTaskCompleted, "") != before {
			t.Fatal("a failed CompleteReservation completed a task")
		}
	}
	h.login("alice")
	h.enqueue("c1", "sales", 0)
	r1 := h.offer("c1").Reservation
	failed(r1) // reserved, not accepted
	failed(0)
	failed(r1 + 1<<40) // same slot, another reservation
	failed(1<<24 - 1)  // a slot never used
	h.do(h.e.Accept(r1))
	h.rec.Take()
	h.do(h.e.CompleteReservation(r1))
	evs := h.rec.Take()
	if len(evs) < 2 || evs[0].Kind != acd.EventTaskCompleted || evs[0].Task != "c1" || evs[1].Kind != acd.EventWrapUpEnded {
		t.Fatalf("CompleteReservation: events\n%s", dump(evs))
	}
	failed(r1) // completed already; its slot is free
	h.enqueue("c2", "sales", 0)
	r2 := h.offer("c2").Reservation
	if r2 == r1 {
		t.Fatal("reservation reused")
	}
	failed(r1) // the slot now holds c2
	h.do(h.e.Reject(r2))
	failed(r2) // rejected
}
