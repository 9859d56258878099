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
	// Signed in for text. An agent signed in from nothing starts not ready ("logged in"): a
	// login as available would take offers before the desktop shows them; one already signed
	// in for voice keeps the state they are in.
	if err := s.opts.Center.SessionOpened(a.id); err != nil {
		s.log.Warn("desktop session not signed in", "agent", a.id, "error", err)
	}
	s.log.Info("desktop login", "agent", a.id)
	writeJSON(w, http.StatusOK, map[string]string{"agent": a.id, "name": a.name})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	agent := agentOf(r)
	c, _ := r.Cookie(cookieName)
	s.mu.Lock()
	_, ok := s.sessions[c.Value]
	delete(s.sessions, c.Value)
	s.mu.Unlock()
	if ok {
		s.opts.Center.SessionClosed(agent) // signed out of text with the agent's last session
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{})
}

// expireLocked drops expired sessions and returns their agents, one per session.
func (s *Server) expireLocked() []string {
	now := time.Now()
	var gone []string
	for k, ss := range s.sessions {
		if now.After(ss.expires) {
			delete(s.sessions, k)
			gone = append(gone, ss.agent)
		}
	}
	return gone
}

// sweep ends the expired sessions: an agent whose every session expired is signed out of
// text, so that nobody is offered chats on a desktop that is no longer there (a phone keeps
// them signed in for voice).
func (s *Server) sweep() {
	s.mu.Lock()
	gone := s.expireLocked()
	s.mu.Unlock()
	for _, a := range gone {
		s.log.Info("desktop session expired", "agent", a)
		s.opts.Center.SessionClosed(a)
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
		expired := ok && time.Now().After(ss.expires)
		if expired {
			delete(s.sessions, c.Value)
			ok = false
		}
		s.mu.Unlock()
		if expired {
			s.opts.Center.SessionClosed(ss.agent)
		}
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
