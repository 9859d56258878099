package limit

import (
	"sync"
	"time"
)

// UsageStore keeps the minutes each extension used per day (store.Store implements it). Day is
// "2006-01-02" in the limits' time zone.
type UsageStore interface {
	DailyUsage(day, user string) (time.Duration, error)
	PutDailyUsage(day, user string, used time.Duration) error
}

// PersistEvery is how often the minutes of calls in progress are stored (invariant 5).
const PersistEvery = 30 * time.Second

// meter counts the minutes of answered calls that extensions place through trunks, per day.
type meter struct {
	st  UsageStore // nil: memory only
	err func(error)

	mu      sync.Mutex
	day     string
	used    map[string]*usage // user → today's use
	live    map[*Hold]struct{}
	persist time.Time // last periodic persist
}

type usage struct {
	used  time.Duration
	dirty bool
}

func newMeter(st UsageStore, err func(error)) *meter {
	return &meter{st: st, err: err, used: map[string]*usage{}, live: map[*Hold]struct{}{}}
}

// usageLocked returns user's use of day, loading it from the store the first time.
func (m *meter) usageLocked(day, user string) *usage {
	if m.day != day {
		// Midnight: store what the old day still owes (once a day, under the lock).
		for user, u := range m.used {
			if u.dirty {
				m.store(m.day, user, u.used)
			}
		}
		m.day = day
		m.used = map[string]*usage{}
	}
	u := m.used[user]
	if u == nil {
		u = &usage{}
		if m.st != nil {
			d, err := m.st.DailyUsage(day, user)
			if err != nil {
				m.err(err)
			}
			u.used = d
		}
		m.used[user] = u
	}
	return u
}

// used returns how much of day user has used, calls in progress included up to the last tick.
func (m *meter) usedOn(day, user string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.usageLocked(day, user).used
}

// start meters h from now, unless it was released already.
func (m *meter) start(h *Hold, now time.Time) {
	m.mu.Lock()
	if h.released.Load() {
		m.mu.Unlock()
		return
	}
	h.counted = now
	m.live[h] = struct{}{}
	m.mu.Unlock()
}

// stop counts h's last stretch and stores its user's total.
func (m *meter) stop(h *Hold, day string, now time.Time) {
	m.mu.Lock()
	if _, ok := m.live[h]; !ok {
		m.mu.Unlock()
		return
	}
	delete(m.live, h)
	u := m.usageLocked(day, h.user)
	if d := now.Sub(h.counted); d > 0 {
		u.used += d
	}
	u.dirty = false
	used := u.used
	m.mu.Unlock()
	m.store(day, h.user, used)
}

// tick counts every live call up to now and returns the calls whose user reached the cap.
// Every PersistEvery it stores the totals that changed.
func (m *meter) tick(day string, now time.Time, capOf func(user string) time.Duration) []*Hold {
	type write struct {
		user string
		used time.Duration
	}
	var writes []write
	var cut []*Hold
	m.mu.Lock()
	over := map[string]bool{}
	for h := range m.live {
		u := m.usageLocked(day, h.user)
		if d := now.Sub(h.counted); d > 0 {
			u.used += d
			u.dirty = true
			h.counted = now
		}
		if c := capOf(h.user); c > 0 && u.used >= c {
			over[h.user] = true
		}
	}
	for h := range m.live {
		if over[h.user] {
			cut = append(cut, h)
		}
	}
	if now.Sub(m.persist) >= PersistEvery {
		m.persist = now
		for user, u := range m.used {
			if u.dirty {
				u.dirty = false
				writes = append(writes, write{user, u.used})
			}
		}
	}
	m.mu.Unlock()
	for _, w := range writes {
		m.store(day, w.user, w.used)
	}
	return cut
}

// flush stores every total that changed (at shutdown).
func (m *meter) flush(day string, now time.Time) {
	m.mu.Lock()
	m.persist = time.Time{}
	m.mu.Unlock()
	m.tick(day, now, func(string) time.Duration { return 0 })
}

func (m *meter) store(day, user string, used time.Duration) {
	if m.st == nil {
		return
	}
	if err := m.st.PutDailyUsage(day, user, used); err != nil {
		m.err(err)
	}
}
