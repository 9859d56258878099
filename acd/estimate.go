package acd

import "time"

// Expected-wait estimate (see "Expected wait" in the package documentation).
const (
	// HandleSamples is how many recent handle times of a queue the estimate averages.
	HandleSamples = 20
	// MinHandleSamples is how many it needs before it says anything.
	MinHandleSamples = 3
)

// HandleTimes keeps the last HandleSamples handle times of one queue (from acceptance to the
// end of the wrap-up). The zero value is empty. It is a plain value: its owner serialises
// access.
type HandleTimes struct {
	buf  [HandleSamples]time.Duration
	n    int // samples held (≤ HandleSamples)
	next int // where the next sample goes
	sum  time.Duration
}

// Add records one handle time; a negative one is ignored.
func (h *HandleTimes) Add(d time.Duration) {
	if d < 0 {
		return
	}
	if h.n == HandleSamples {
		h.sum -= h.buf[h.next]
	} else {
		h.n++
	}
	h.buf[h.next] = d
	h.sum += d
	h.next = (h.next + 1) % HandleSamples
}

// Mean is the average of the samples held, and false while there are fewer than
// MinHandleSamples.
func (h *HandleTimes) Mean() (time.Duration, bool) {
	if h.n < MinHandleSamples {
		return 0, false
	}
	return h.sum / time.Duration(h.n), true
}

// Working counts a queue's agents who take its contacts now or soon: available, busy or in
// wrap-up (not offline, not ready or in RONA).
func (q QueueStats) Working() int {
	return q.Agents[Available] + q.Agents[Busy] + q.Agents[WrapUp]
}

// ExpectedWait estimates how long the contact at position (1: the next to be offered) still
// waits in a queue whose recent mean handle time is aht and which has agents working agents:
// position × aht / agents. It reports false, and nothing should be said, when there is no
// working agent or no mean handle time (aht ≤ 0), or position < 1.
func ExpectedWait(position, agents int, aht time.Duration) (time.Duration, bool) {
	if position < 1 || agents < 1 || aht <= 0 {
		return 0, false
	}
	return time.Duration(int64(position) * int64(aht) / int64(agents)), true
}
