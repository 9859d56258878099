// Package acdtest provides a manual clock and a recording sink for
// testing code that drives an acd.Engine, without sleeping.
package acdtest

import (
	"slices"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// Clock is a manual acd.Clock: time moves only with Advance, which runs
// the timers that became due, in deadline order, on the caller's
// goroutine, once the clock shows the new time.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d.
func (c *Clock) AfterFunc(d time.Duration, f func()) acd.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, f: f, at: c.now.Add(d), active: true}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward by d, then runs the timers due by
// then, earliest first; they all see the new time. (Running each at its
// own deadline would race with an engine that reads Now on its own
// goroutine after the callback returns: its events were stamped with
// whichever time it happened to read. An engine that fires late catches
// up in deadline order, so this is the deterministic case.)
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.now = end
	for {
		var due *timer
		for _, t := range c.timers {
			if t.active && !t.at.After(end) && (due == nil || t.at.Before(due.at)) {
				due = t
			}
		}
		if due == nil {
			break
		}
		due.active = false
		c.mu.Unlock()
		due.f()
		c.mu.Lock()
	}
	c.now = end
	c.timers = slices.DeleteFunc(c.timers, func(t *timer) bool { return !t.active })
	c.mu.Unlock()
}

type timer struct {
	c      *Clock
	f      func()
	at     time.Time
	active bool
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *timer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.at = t.c.now.Add(d)
	if !t.active {
		t.active = true
		if !slices.Contains(t.c.timers, t) {
			t.c.timers = append(t.c.timers, t)
		}
	}
	return was
}

// Recorder is an acd.Sink that keeps every event.
type Recorder struct {
	mu     sync.Mutex
	events []acd.Event
}

// Event records ev.
func (r *Recorder) Event(ev acd.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []acd.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Take returns the events recorded since the last Take and forgets them.
func (r *Recorder) Take() []acd.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	r.events = nil
	return ev
}

// Last returns the last recorded event of kind k for task (any task if
// empty), and whether there was one.
func (r *Recorder) Last(k acd.EventKind, task string) (acd.Event, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.events) - 1; i >= 0; i-- {
		if ev := r.events[i]; ev.Kind == k && (task == "" || ev.Task == task) {
			return ev, true
		}
	}
	return acd.Event{}, false
}
