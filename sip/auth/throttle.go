package auth

import (
	"hash/maphash"
	"sync"
	"time"
)

// Throttle limits failed authentication attempts per source (an IP address): after Max
// failures within Window the source is refused until Window has passed since its last
// failure. It is the first line against password guessing and toll fraud.
type Throttle struct {
	Max    int
	Window time.Duration
	now    func() time.Time
	seed   maphash.Seed
	shards [32]throttleShard
}

type throttleShard struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	count int
	last  time.Time
}

// NewThrottle allows max failures per window and source.
func NewThrottle(max int, window time.Duration) *Throttle {
	t := &Throttle{Max: max, Window: window, now: time.Now, seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*failures)
	}
	return t
}

// SetNow replaces the clock (tests).
func (t *Throttle) SetNow(now func() time.Time) { t.now = now }

func (t *Throttle) shard(src string) *throttleShard {
	return &t.shards[maphash.String(t.seed, src)%uint64(len(t.shards))]
}

// Blocked reports whether src has used up its failures.
func (t *Throttle) Blocked(src string) bool {
	sh := t.shard(src)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	f := sh.m[src]
	if f == nil {
		return false
	}
	if t.now().Sub(f.last) > t.Window {
		delete(sh.m, src)
		return false
	}
	return f.count >= t.Max
}

// Fail counts one failure for src.
func (t *Throttle) Fail(src string) {
	sh := t.shard(src)
	now := t.now()
	sh.mu.Lock()
	f := sh.m[src]
	if f == nil || now.Sub(f.last) > t.Window {
		f = &failures{}
		sh.m[src] = f
	}
	f.count++
	f.last = now
	sh.mu.Unlock()
}

// Sweep drops sources whose window has passed.
func (t *Throttle) Sweep() {
	now := t.now()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, f := range sh.m {
			if now.Sub(f.last) > t.Window {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}
