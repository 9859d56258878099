package media

import "time"

// Clock is the time source of the engine: packet arrival times (jitter, RTP timeout), player
// pacing and the timeout watchdog. Tests inject a fake (media/internal/fakeclock).
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once after d, like time.NewTimer.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that the engine uses.
type Timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer to fire after d; the caller has drained C or seen it fire.
	Reset(d time.Duration)
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (s sysTimer) C() <-chan time.Time   { return s.t.C }
func (s sysTimer) Reset(d time.Duration) { s.t.Reset(d) }
func (s sysTimer) Stop() bool            { return s.t.Stop() }
