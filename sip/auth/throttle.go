package auth

import (
	"hash/maphash"
	"sort"
	"sync"
	"time"
)

// Throttle limits failed authentication attempts (invariant 5). Failures are counted per
// source address and username: after MaxFailures failures of one username from one source
// within Window, that username is refused from that source, so one phone with a wrong
// password does not lock out the other phones behind the same NAT; after MaxUsers different
// usernames failed from one source within Window, the whole source is refused, so a scanner
// trying many usernames is stopped. A lockout lasts until Window has passed since the last
// failure that counted; refused attempts do not count. It is the first line against password
// guessing and toll fraud.
type Throttle struct {
	MaxFailures int
	MaxUsers    int
	Window      time.Duration
	now         func() time.Time
	seed        maphash.Seed
	shards      [32]throttleShard
}

// maxSourcesPerShard bounds memory under a flood of failures from many (spoofed) sources:
// a full shard first forgets sources whose window passed, then its least recent eighth.
const maxSourcesPerShard = 4096

type throttleShard struct {
	mu sync.Mutex
	m  map[string]*source
}

// source is the failures of one address: per username, at most MaxUsers of them.
type source struct {
	users map[string]*failures
	last  time.Time
}

type failures struct {
	count int
	last  time.Time
}

// NewThrottle allows maxFailures failures per source and username, and maxUsers failing
// usernames per source, within window.
func NewThrottle(maxFailures, maxUsers int, window time.Duration) *Throttle {
	t := &Throttle{MaxFailures: maxFailures, MaxUsers: maxUsers, Window: window, now: time.Now, seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].m = make(map[string]*source)
	}
	return t
}

// SetNow replaces the clock (tests).
func (t *Throttle) SetNow(now func() time.Time) { t.now = now }

// SetLimits changes the limits (a reload); counts already made are kept.
func (t *Throttle) SetLimits(maxFailures, maxUsers int, window time.Duration) {
	for i := range t.shards {
		t.shards[i].mu.Lock()
	}
	t.MaxFailures, t.MaxUsers, t.Window = maxFailures, maxUsers, window
	for i := range t.shards {
		t.shards[i].mu.Unlock()
	}
}

func (t *Throttle) shard(src string) *throttleShard {
	return &t.shards[maphash.String(t.seed, src)%uint64(len(t.shards))]
}

// live returns the usernames of s that failed within the window, dropping older ones.
func (t *Throttle) live(s *source, now time.Time) map[string]*failures {
	for u, f := range s.users {
		if now.Sub(f.last) > t.Window {
			delete(s.users, u)
		}
	}
	return s.users
}

// SourceBlocked reports whether src as a whole is refused: too many usernames failed from it.
func (t *Throttle) SourceBlocked(src string) bool {
	sh := t.shard(src)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.m[src]
	if s == nil {
		return false
	}
	now := t.now()
	if len(t.live(s, now)) == 0 {
		delete(sh.m, src)
		return false
	}
	return len(s.users) >= t.MaxUsers
}

// Blocked reports whether user is refused from src: the source is blocked, or this
// username used up its failures there.
func (t *Throttle) Blocked(src, user string) bool {
	sh := t.shard(src)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.m[src]
	if s == nil {
		return false
	}
	users := t.live(s, t.now())
	if len(users) >= t.MaxUsers {
		return true
	}
	f := users[user]
	return f != nil && f.count >= t.MaxFailures
}

// Fail counts one failure of user from src.
func (t *Throttle) Fail(src, user string) {
	if len(user) > 128 {
		user = user[:128] // the key is the caller's to choose: keep it bounded
	}
	sh := t.shard(src)
	now := t.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.m[src]
	if s == nil {
		if len(sh.m) >= maxSourcesPerShard {
			t.evict(sh, now)
		}
		s = &source{users: make(map[string]*failures)}
		sh.m[src] = s
	}
	users := t.live(s, now)
	f := users[user]
	if f == nil {
		if len(users) >= t.MaxUsers {
			return // already blocked as a whole: nothing more to count
		}
		f = &failures{}
		users[user] = f
	}
	f.count++
	f.last = now
	s.last = now
}

// evict makes room in a full shard: sources whose window passed, else the least recent
// eighth (a batch, so that a flood of new sources costs one sort per 512 of them).
func (t *Throttle) evict(sh *throttleShard, now time.Time) {
	type aged struct {
		key  string
		last time.Time
	}
	all := make([]aged, 0, len(sh.m))
	for k, s := range sh.m {
		if now.Sub(s.last) > t.Window {
			delete(sh.m, k)
			continue
		}
		all = append(all, aged{k, s.last})
	}
	if len(sh.m) < maxSourcesPerShard {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i].last.Before(all[j].last) })
	for _, a := range all[:len(all)/8] {
		delete(sh.m, a.key)
	}
}

// Sweep drops sources whose window has passed.
func (t *Throttle) Sweep() {
	now := t.now()
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for k, s := range sh.m {
			if now.Sub(s.last) > t.Window {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
}
