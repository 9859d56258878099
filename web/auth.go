package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// Session cookie names: the __Host- one when the browser reaches us over TLS (it must be
// Secure, host-only, Path=/, so a sibling domain or a plain-http page cannot plant it).
const (
	cookieName       = "ccswitch_session"
	secureCookieName = "__Host-ccswitch_session"
)

type session struct {
	agent    string
	hash     string // the agent's password hash at login: a change ends the session
	expires  time.Time
	lastSeen time.Time
	done     chan struct{} // closed when the session ends (its WebSockets close)
}

// Reasons a session ends (ccswitch_web_sessions_ended_total{reason}).
const (
	endLogout   = "logout"
	endExpired  = "expired"
	endIdle     = "idle"
	endRemoved  = "agent_removed"
	endPassword = "password_changed"
)

type ctxKey struct{}

// caller is who sent an authenticated request.
type caller struct {
	agent      string
	supervisor bool
	sess       *session
}

func (s *Server) cookieName(r *http.Request) string {
	if s.model.Load().edge.secure(r) {
		return secureCookieName
	}
	return cookieName
}

// newSession starts a session for agent and sets its cookie.
func (s *Server) newSession(w http.ResponseWriter, r *http.Request, a agentLogin) {
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	now := s.now()
	m := s.model.Load()
	exp := now.Add(m.http.SessionTTL.D())
	if s.opts.SessionTTL > 0 {
		exp = now.Add(s.opts.SessionTTL)
	}
	s.mu.Lock()
	s.sessions[tok] = &session{agent: a.id, hash: string(a.hash), expires: exp, lastSeen: now, done: make(chan struct{})}
	s.mu.Unlock()
	secure := m.edge.secure(r)
	name := cookieName
	if secure {
		name = secureCookieName
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: tok, Path: "/", Expires: exp, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: secure})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Cookie(s.cookieName(r))
	s.endSessions(endLogout, func(tok string, _ *session) bool { return tok == c.Value })
	name := s.cookieName(r)
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: name == secureCookieName})
	writeJSON(w, http.StatusOK, map[string]string{})
}

// endSessions ends every session for which match is true: each is forgotten, its sockets
// close, and an agent whose last session it was is signed out of text (a phone keeps them
// signed in for voice), so nobody is offered chats on a desktop that is gone.
func (s *Server) endSessions(reason string, match func(tok string, ss *session) bool) int {
	var gone []*session
	s.mu.Lock()
	for tok, ss := range s.sessions {
		if match(tok, ss) {
			delete(s.sessions, tok)
			gone = append(gone, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range gone {
		close(ss.done)
		s.sessionsEnded.WithLabelValues(reason).Inc()
		if reason != endLogout {
			s.log.Info("desktop session ended", "agent", ss.agent, "reason", reason)
		}
		s.opts.Center.SessionClosed(ss.agent)
	}
	return len(gone)
}

// ended says why ss is over at now, "" while it is live.
func (s *Server) ended(ss *session, now time.Time) string {
	switch {
	case now.After(ss.expires):
		return endExpired
	case now.Sub(ss.lastSeen) > s.model.Load().http.SessionIdle.D():
		return endIdle
	}
	return ""
}

// sweep ends the sessions that expired or sat idle.
func (s *Server) sweep() {
	now := s.now()
	for _, reason := range []string{endExpired, endIdle} {
		s.endSessions(reason, func(_ string, ss *session) bool { return s.ended(ss, now) == reason })
	}
}

// revalidate ends the sessions a new configuration voids: their agent was removed or their
// password changed.
func (s *Server) revalidate(m *model) {
	s.endSessions(endRemoved, func(_ string, ss *session) bool { _, ok := m.agents[ss.agent]; return !ok })
	s.endSessions(endPassword, func(_ string, ss *session) bool { return string(m.agents[ss.agent].hash) != ss.hash })
}

// touch marks ss in use now (an open desktop's socket calls it at each ping).
func (s *Server) touch(ss *session) {
	s.mu.Lock()
	ss.lastSeen = s.now()
	s.mu.Unlock()
}

// auth runs h for a request with a live session; state-changing requests must be JSON.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(s.cookieName(r))
		if err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
			return
		}
		now := s.now()
		s.mu.Lock()
		ss, ok := s.sessions[c.Value]
		why := ""
		if ok {
			if why = s.ended(ss, now); why == "" {
				ss.lastSeen = now
			}
		}
		s.mu.Unlock()
		if why != "" {
			s.endSessions(why, func(tok string, _ *session) bool { return tok == c.Value })
			ok = false
		}
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "session expired"})
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
			return
		}
		a := s.model.Load().agents[ss.agent]
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, caller{agent: ss.agent, supervisor: a.supervisor, sess: ss})))
	}
}

func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(ctxKey{}).(caller)
	return c
}

func agentOf(r *http.Request) string { return callerOf(r).agent }
