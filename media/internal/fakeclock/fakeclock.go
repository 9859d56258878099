// Package fakeclock is a manual clock for media tests: time moves only when the test calls
// Advance, and Wait lets a test block until the code under test has armed its next timer.
package fakeclock

import (
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/media"
)

// Clock is a media.Clock whose time only moves on Advance.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	armed   chan struct{} // receives one value each time a timer is armed
	history []time.Time   // deadlines of every arm, in order
}

// New returns a clock set at start.
func New(start time.Time) *Clock {
	return &Clock{now: start, armed: make(chan struct{}, 1024)}
}

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer arms a timer firing when the fake time reaches Now()+d.
func (c *Clock) NewTimer(d time.Duration) media.Timer {
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves time forward by d and fires the timers that are due, in deadline order.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	var due []*timer
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.when.After(now) {
			due = append(due, t)
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	for _, t := range due {
		select {
		case t.ch <- now:
		default:
		}
	}
}

// WaitArmed blocks until n more timers have been armed (NewTimer or Reset) since the last call.
func (c *Clock) WaitArmed(n int) {
	for i := 0; i < n; i++ {
		<-c.armed
	}
}

// Deadlines returns the absolute deadline of every arm so far, in order.
func (c *Clock) Deadlines() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.history...)
}

type timer struct {
	c    *Clock
	ch   chan time.Time
	when time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Reset(d time.Duration) {
	c := t.c
	c.mu.Lock()
	t.remove()
	t.when = c.now.Add(d)
	c.timers = append(c.timers, t)
	c.history = append(c.history, t.when)
	c.mu.Unlock()
	c.armed <- struct{}{}
}

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.remove()
}

// remove drops t from the pending list; c.mu held.
func (t *timer) remove() bool {
	for i, x := range t.c.timers {
		if x == t {
			t.c.timers = append(t.c.timers[:i], t.c.timers[i+1:]...)
			return true
		}
	}
	return false
}
