// Package ratelog logs refusals and misbehaving peers at most once per key per interval, so
// that a flood of the same refusal costs one log line a minute instead of one per packet. The
// next line for a key carries how many were held back since the last one ("suppressed").
//
// Keys are chosen by the caller: usually what was refused and who asked ("pike|203.0.113.7").
// The table of keys is bounded (MaxKeys); when it is full, old keys are swept, and if none is
// old enough the line is logged under one shared overflow key, so a spoofed-source flood
// cannot grow memory.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// MaxKeys bounds the number of keys remembered at once.
const MaxKeys = 4096

const overflowKey = "\x00overflow"

// Logger logs through an slog.Logger, once per key per interval. Safe for concurrent use.
type Logger struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*entry
}

type entry struct {
	last       time.Time
	suppressed int
}

// New returns a Logger writing to log at most once per key every interval (default 1 minute).
func New(log *slog.Logger, every time.Duration) *Logger {
	if log == nil {
		log = slog.Default()
	}
	if every <= 0 {
		every = time.Minute
	}
	return &Logger{log: log, every: every, now: time.Now, seen: map[string]*entry{}}
}

// SetNow replaces the clock (tests).
func (l *Logger) SetNow(now func() time.Time) {
	l.mu.Lock()
	l.now = now
	l.mu.Unlock()
}

// Warn logs at Warn level (see Log).
func (l *Logger) Warn(key, msg string, args ...any) bool {
	return l.Log(slog.LevelWarn, key, msg, args...)
}

// Info logs at Info level (see Log).
func (l *Logger) Info(key, msg string, args ...any) bool {
	return l.Log(slog.LevelInfo, key, msg, args...)
}

// Log writes msg with args unless key was logged less than the interval ago; then it only
// counts. It reports whether it wrote.
func (l *Logger) Log(level slog.Level, key, msg string, args ...any) bool {
	l.mu.Lock()
	now := l.now()
	e := l.seen[key]
	if e == nil {
		if len(l.seen) >= MaxKeys {
			l.sweepLocked(now)
		}
		if len(l.seen) >= MaxKeys {
			key = overflowKey
			e = l.seen[key]
		}
		if e == nil {
			e = &entry{}
			l.seen[key] = e
		}
	}
	if !e.last.IsZero() && now.Sub(e.last) < l.every {
		e.suppressed++
		l.mu.Unlock()
		return false
	}
	n := e.suppressed
	e.last, e.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Log(context.Background(), level, msg, args...)
	return true
}

// sweepLocked drops keys last logged more than one interval ago (their suppressed count is
// lost with them: nothing was held back that a later line would need).
func (l *Logger) sweepLocked(now time.Time) {
	for k, e := range l.seen {
		if now.Sub(e.last) >= l.every && e.suppressed == 0 {
			delete(l.seen, k)
		}
	}
}
