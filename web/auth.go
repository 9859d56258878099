package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const cookieName = "ccswitch_session"

type session struct {
	agent   string
	expires time.Time
}

type ctxKey struct{}

// dummyHash is compared against when the agent is unknown, so a login takes as long either way.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.MinCost)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Agent    string `json:"agent"`
		Password string `json:"password"`
	}
	if !decode(w, r, &req) {
		return
	}
	a, ok := s.model.Load().agent(req.Agent)
	hash := a.hash
	if !ok || len(hash) == 0 {
		hash = dummyHash
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(req.Password)); err != nil || !ok || len(a.hash) == 0 {
		s.log.Info("desktop login refused", "agent", req.Agent)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unknown agent or wrong password"})
		return
	}
	b := make([]byte, 32)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	exp := time.Now().Add(s.opts.SessionTTL)
	s.mu.Lock()
	s.sessions[tok] = session{agent: a.id, expires: exp}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", Expires: exp, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	// Logged in as not ready (one command: a login as Available would take offers at once,
	// and an offer missed that way is not offered to the same agent again).
	if err := s.svc.SetReady(a.id, false, "logged in"); err != nil {
		s.log.Warn("acd not-ready", "agent", a.id, "err", err)
	}
	s.log.Info("desktop login", "agent", a.id)
	writeJSON(w, http.StatusOK, map[string]string{"agent": a.id, "name": a.name})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	agent := agentOf(r)
	c, _ := r.Cookie(cookieName)
	s.mu.Lock()
	delete(s.sessions, c.Value)
	others := false
	for _, ss := range s.sessions {
		others = others || ss.agent == agent
	}
	s.mu.Unlock()
	if !others {
		s.svc.Logout(agent)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{})
}

// sweepLocked drops expired sessions and returns the agents left without any session.
func (s *Server) sweepLocked() []string {
	now := time.Now()
	gone := map[string]bool{}
	for k, ss := range s.sessions {
		if now.After(ss.expires) {
			delete(s.sessions, k)
			gone[ss.agent] = true
		}
	}
	for _, ss := range s.sessions {
		delete(gone, ss.agent)
	}
	var out []string
	for a := range gone {
		out = append(out, a)
	}
	return out
}

// sweep logs out of the ACD the agents whose every session expired, so that nobody is
// offered contacts on a desktop that is no longer there.
func (s *Server) sweep() {
	s.mu.Lock()
	gone := s.sweepLocked()
	s.mu.Unlock()
	for _, a := range gone {
		s.log.Info("desktop session expired: agent logged out", "agent", a)
		s.svc.Logout(a)
	}
}

// auth runs h for a request with a live session; state-changing requests must be JSON.
func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
			return
		}
		s.mu.Lock()
		ss, ok := s.sessions[c.Value]
		if ok && time.Now().After(ss.expires) {
			delete(s.sessions, c.Value)
			ok = false
		}
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "session expired"})
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, ss.agent)))
	}
}

func agentOf(r *http.Request) string {
	a, _ := r.Context().Value(ctxKey{}).(string)
	return a
}
