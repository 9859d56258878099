package center

import (
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// TestWaitsHandleTimes: a handle time is from acceptance to the end of the wrap-up, per queue
// and channel; tasks that leave (transferred, abandoned) or end without acceptance add none,
// and no mean is given before acd.MinHandleSamples.
func TestWaitsHandleTimes(t *testing.T) {
	w := newWaits()
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	handle := func(task, queue string, ch acd.Channel, d time.Duration) {
		w.Event(acd.Event{Kind: acd.EventReservationAccepted, Task: task, Queue: queue, Channel: ch, Time: t0})
		w.Event(acd.Event{Kind: acd.EventTaskCompleted, Task: task, Queue: queue, Channel: ch, Time: t0.Add(d / 2)})
		w.Event(acd.Event{Kind: acd.EventWrapUpEnded, Task: task, Queue: queue, Channel: ch, Time: t0.Add(d)})
	}
	handle("a", "support", acd.Voice, 2*time.Minute)
	handle("b", "support", acd.Voice, 4*time.Minute)
	if _, ok := w.mean("support", acd.Voice); ok {
		t.Fatal("a mean from 2 samples")
	}
	// Not samples: a chat in support, a task transferred away, one abandoned.
	handle("c", "support", acd.Chat, time.Hour)
	w.Event(acd.Event{Kind: acd.EventReservationAccepted, Task: "d", Queue: "support", Time: t0})
	w.Event(acd.Event{Kind: acd.EventTaskTransferred, Task: "d", Queue: "support", Time: t0})
	w.Event(acd.Event{Kind: acd.EventWrapUpEnded, Task: "d", Queue: "sales", Time: t0.Add(time.Hour)})
	w.Event(acd.Event{Kind: acd.EventTaskAbandoned, Task: "e", Queue: "support", Time: t0})
	handle("f", "support", acd.Voice, 3*time.Minute)
	if m, ok := w.mean("support", acd.Voice); !ok || m != 3*time.Minute {
		t.Fatalf("support voice mean %v %v, want 3m", m, ok)
	}
	if _, ok := w.mean("sales", acd.Voice); ok {
		t.Fatal("sales has a mean from a transferred task")
	}
	if len(w.accepted) != 0 {
		t.Fatalf("accepted tasks left: %v", w.accepted)
	}
}
