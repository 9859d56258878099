package center

import (
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// waits keeps each queue's recent handle times per channel, for the expected wait told to
// waiting callers (acd "Expected wait"). It is a Sink: fed on the engine goroutine, read by
// the calls.
type waits struct {
	mu       sync.Mutex           // a leaf
	accepted map[string]time.Time // task → when it was accepted
	handle   map[waitKey]*acd.HandleTimes
}

type waitKey struct {
	queue string
	ch    acd.Channel
}

func newWaits() *waits {
	return &waits{accepted: map[string]time.Time{}, handle: map[waitKey]*acd.HandleTimes{}}
}

// Event records acceptances and, at the end of the wrap-up, the handle time.
func (w *waits) Event(ev acd.Event) {
	switch ev.Kind {
	case acd.EventReservationAccepted, acd.EventWrapUpEnded, acd.EventTaskTransferred,
		acd.EventTaskAbandoned, acd.EventTaskTimedOut:
	default:
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev.Kind {
	case acd.EventReservationAccepted:
		w.accepted[ev.Task] = ev.Time
	case acd.EventWrapUpEnded:
		at, ok := w.accepted[ev.Task]
		delete(w.accepted, ev.Task)
		if !ok {
			return
		}
		k := waitKey{ev.Queue, ev.Channel}
		h := w.handle[k]
		if h == nil {
			h = &acd.HandleTimes{}
			w.handle[k] = h
		}
		h.Add(ev.Time.Sub(at))
	default: // the task left the queue or never was handled: no sample
		delete(w.accepted, ev.Task)
	}
}

func (w *waits) mean(queue string, ch acd.Channel) (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h := w.handle[waitKey{queue, ch}]; h != nil {
		return h.Mean()
	}
	return 0, false
}

// ExpectedWait estimates how long the contact at position (1: next) of queue's channel ch
// still waits: acd.ExpectedWait with the queue's recent mean handle time on that channel and
// its working agents in the last snapshot. false: no honest estimate (too few handled
// contacts yet, or nobody working), and nothing should be said.
func (c *Center) ExpectedWait(queue string, ch acd.Channel, position int) (time.Duration, bool) {
	aht, ok := c.waits.mean(queue, ch)
	if !ok {
		return 0, false
	}
	q, ok := c.Snapshot().Queue(queue)
	if !ok {
		return 0, false
	}
	return acd.ExpectedWait(position, q.Working(), aht)
}
