package web

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// hashWait is how long a login waits for a free password check before 503.
const hashWait = time.Second

// maxFailureKeys bounds each failure table (agent ids, sources): a flood of distinct keys
// cannot grow memory; when full of live entries, new keys are refused (429).
const maxFailureKeys = 10000

// failures remembers recent failed logins per key (agent id or source), to refuse further
// attempts once too many failed within the window.
type failures struct {
	mu    sync.Mutex
	byKey map[string][]time.Time // failure times within the window, oldest first, at most max
}

func newFailures() *failures { return &failures{byKey: map[string][]time.Time{}} }

// retryAfter is how long key must wait before it may try again (0: it may now); full
// reports that the table had no room for a new key.
func (f *failures) retryAfter(key string, max int, window time.Duration, now time.Time) (wait time.Duration, full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := f.live(key, window, now)
	if len(ts) >= max {
		return ts[len(ts)-max].Add(window).Sub(now), false
	}
	if ts == nil && len(f.byKey) >= maxFailureKeys {
		f.prune(window, now)
		if len(f.byKey) >= maxFailureKeys {
			return window, true
		}
	}
	return 0, false
}

// live drops key's failures older than window and returns the rest. Called with f.mu.
func (f *failures) live(key string, window time.Duration, now time.Time) []time.Time {
	ts := f.byKey[key]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= window {
		i++
	}
	if i == len(ts) {
		delete(f.byKey, key)
		return nil
	}
	ts = ts[i:]
	f.byKey[key] = ts
	return ts
}

func (f *failures) prune(window time.Duration, now time.Time) {
	for k := range f.byKey {
		f.live(k, window, now)
	}
}

func (f *failures) fail(key string, max int, window time.Duration, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ts := append(f.live(key, window, now), now)
	if len(ts) > max {
		ts = ts[len(ts)-max:]
	}
	f.byKey[key] = ts
}

func (f *failures) reset(key string) {
	f.mu.Lock()
	delete(f.byKey, key)
	f.mu.Unlock()
}

// dummyHash is a hash to compare against when the agent id is unknown (or has no password),
// at the cost of the configured agents' hashes (the most common one), so that a login
// takes as long either way: no timing tells which agent ids exist.
func dummyHash(hashes [][]byte, old []byte) []byte {
	count := map[int]int{}
	best := bcrypt.DefaultCost
	for _, h := range hashes {
		if c, err := bcrypt.Cost(h); err == nil {
			count[c]++
			if count[c] > count[best] || (count[c] == count[best] && c > best) {
				best = c
			}
		}
	}
	if c, err := bcrypt.Cost(old); err == nil && c == best {
		return old
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), best)
	return h
}

func retryAfter(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.Seconds())))))
}

// login checks an agent's password. Refused before any hashing: a source or an agent id
// with too many recent failures (429 + Retry-After), and a login that finds every password
// check busy for a second (503 + Retry-After). Unknown ids and wrong passwords cost the
// same and get the same 401.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Agent    string `json:"agent"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	if len(req.Agent) > 64 { // agent ids are at most 64 characters: a longer one is no agent
		req.Agent = req.Agent[:64]
	}
	m := s.model.Load()
	lim := m.http.Login
	src := m.edge.sourceKey(r)
	now := s.now()
	for _, k := range []struct {
		reason string
		f      *failures
		key    string
		max    int
	}{{"login_source", s.srcFails, src, lim.SourceFailures}, {"login_agent", s.agentFails, req.Agent, lim.AgentFailures}} {
		wait, full := k.f.retryAfter(k.key, k.max, lim.Window.D(), now)
		if wait <= 0 {
			continue
		}
		reason := k.reason
		if full {
			reason += "_table_full"
		}
		s.refused.WithLabelValues(reason).Inc()
		s.rlog.Warn(reason+"|"+src, "desktop login refused: too many failures", "source", src, "agent", req.Agent,
			"reason", reason, "retry_after", wait.Round(time.Second).String())
		retryAfter(w, wait)
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many failed logins; try again later"})
		return
	}

	a, ok := m.agent(req.Agent)
	hash := a.hash
	if !ok || len(hash) == 0 {
		hash = m.dummy
	}
	slot := *s.hashing.Load()
	t := time.NewTimer(hashWait)
	select {
	case slot <- struct{}{}:
		t.Stop()
	case <-t.C:
		s.refused.WithLabelValues("login_busy").Inc()
		s.rlog.Warn("login_busy", "desktop login refused: every password check busy", "source", src)
		retryAfter(w, time.Second)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "busy; try again"})
		return
	case <-r.Context().Done():
		t.Stop()
		return
	}
	if c, err := bcrypt.Cost(hash); err == nil {
		s.hashes.WithLabelValues(strconv.Itoa(c)).Inc()
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(req.Password))
	<-slot
	if err != nil || !ok || len(a.hash) == 0 {
		s.agentFails.fail(req.Agent, lim.AgentFailures, lim.Window.D(), now)
		s.srcFails.fail(src, lim.SourceFailures, lim.Window.D(), now)
		s.logins.WithLabelValues("failed").Inc()
		s.rlog.Info("login_failed|"+src, "desktop login refused", "agent", req.Agent, "source", src)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unknown agent or wrong password"})
		return
	}
	s.agentFails.reset(req.Agent)
	s.logins.WithLabelValues("ok").Inc()
	s.newSession(w, r, a)
	// Signed in for text. An agent signed in from nothing starts not ready ("logged in"): a
	// login as available would take offers before the desktop shows them; one already signed
	// in for voice keeps the state they are in.
	if err := s.opts.Center.SessionOpened(a.id); err != nil {
		s.log.Warn("desktop session not signed in", "agent", a.id, "error", err)
	}
	s.log.Info("desktop login", "agent", a.id, "source", src)
	writeJSON(w, http.StatusOK, map[string]any{"agent": a.id, "name": a.name, "role": a.role()})
}
