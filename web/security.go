package web

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/internal/ratelog"
)

// webSecurity is the server's refusal state and counters.
type webSecurity struct {
	rlog          *ratelog.Logger
	refused       *prometheus.CounterVec // reason
	logins        *prometheus.CounterVec // result
	hashes        *prometheus.CounterVec // cost
	sessionsEnded *prometheus.CounterVec // reason
	agentFails    *failures
	srcFails      *failures
	hashing       atomic.Pointer[chan struct{}] // a slot per password check running; replaced when max_hashing changes
	webhookBad    *limiters
}

func (s *Server) initSecurity(cfg *config.Config) {
	s.rlog = ratelog.New(s.log, time.Minute)
	s.refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_web_refused_total",
		Help: "Web requests refused, by reason: host (not in http.hosts), login_source and login_agent (login back-off), " +
			"login_busy (every password check busy), webhook_signature (too many bad signatures from the source)."}, []string{"reason"})
	s.logins = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_web_logins_total",
		Help: "Desktop password checks, by result (ok, failed)."}, []string{"result"})
	s.hashes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_web_login_hashes_total",
		Help: "Password hashes compared at login, by bcrypt cost (an unknown agent id costs as much as a known one)."}, []string{"cost"})
	s.sessionsEnded = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_web_sessions_ended_total",
		Help: "Desktop sessions ended, by reason (logout, expired, idle, agent_removed, password_changed)."}, []string{"reason"})
	metrics.Register(s.opts.Registerer, s.refused)
	metrics.Register(s.opts.Registerer, s.logins)
	metrics.Register(s.opts.Registerer, s.hashes)
	metrics.Register(s.opts.Registerer, s.sessionsEnded)
	s.agentFails, s.srcFails = newFailures(), newFailures()
	s.resizeHashing(s.model.Load().http.Login.MaxHashing)
	s.webhookBad = &limiters{m: map[string]*rate.Limiter{}}
}

// resizeHashing makes the password-check slots n; checks running keep the slot they hold.
func (s *Server) resizeHashing(n int) {
	if cur := s.hashing.Load(); cur == nil || cap(*cur) != n {
		ch := make(chan struct{}, n)
		s.hashing.Store(&ch)
	}
}

func (s *Server) now() time.Time {
	if s.opts.Clock != nil {
		return s.opts.Clock()
	}
	return time.Now()
}

// sweepEvery is how often expired and idle sessions are ended.
func (s *Server) sweepEvery() time.Duration {
	h := s.model.Load().http
	ttl := h.SessionTTL.D()
	if s.opts.SessionTTL > 0 {
		ttl = s.opts.SessionTTL
	}
	return max(10*time.Millisecond, min(time.Minute, ttl/2, h.SessionIdle.D()/2))
}

// limiters are token buckets per source, bounded in number: a bucket back to full is
// forgotten when room is needed; when none is, the new source shares one overflow bucket.
type limiters struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

const maxLimiters = 10000

func (l *limiters) get(key string, r rate.Limit, burst int) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= maxLimiters {
			for k, v := range l.m {
				if v.Tokens() >= float64(v.Burst()) {
					delete(l.m, k)
				}
			}
			if len(l.m) >= maxLimiters {
				key = "\x00overflow"
				if lim = l.m[key]; lim != nil {
					return lim
				}
			}
		}
		lim = rate.NewLimiter(r, burst)
		l.m[key] = lim
	}
	if lim.Limit() != r || lim.Burst() != burst { // reloaded settings
		lim.SetLimit(r)
		lim.SetBurst(burst)
	}
	return lim
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// webhookGuard limits the requests with a bad signature (the adapter answers 401 or 403) one
// source may send: each takes a token from the source's bucket (http.webhook_failures), and
// a source whose bucket is empty gets 429 before its request is read. A correctly signed
// request never takes a token, so a provider's bursts pass at any rate.
func (s *Server) webhookGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := s.model.Load()
		c := m.http.WebhookFailures
		src := m.edge.sourceKey(r)
		lim := s.webhookBad.get(src, rate.Limit(c.Rate), c.Burst)
		if lim.Tokens() < 1 {
			s.refused.WithLabelValues("webhook_signature").Inc()
			s.rlog.Warn("webhook_signature|"+src, "webhook refused: too many bad signatures from this source",
				"source", src, "path", r.URL.Path)
			wait := time.Second
			if c.Rate > 0 {
				wait = time.Duration(float64(time.Second) * (1 - lim.Tokens()) / c.Rate)
			}
			retryAfter(w, wait)
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many bad signatures"})
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized || sw.status == http.StatusForbidden {
			lim.Allow()
		}
	})
}
