package web

import (
	"net/http"
	"os"
)

// Waiting is what the desktop needs of the voice path's waiting callers (sip/voice: the
// callbacks an agent previews, the messages to queues an agent holds). cmd/ccswitch sets it
// with SetWaiting; without it the endpoints answer 404.
type Waiting interface {
	// Desk is what the agent's desktop shows (JSON).
	Desk(agent string) any
	// VoicemailFile is the WAV of a message the agent holds; false if they do not hold it.
	VoicemailFile(agent, task string) (string, bool)
	// VoicemailDone completes a message the agent holds.
	VoicemailDone(agent, task string) error
}

// waitingBox holds a Waiting behind an atomic pointer.
type waitingBox struct{ w Waiting }

// SetWaiting plugs the voice path's waiting callers into the desktop.
func (s *Server) SetWaiting(w Waiting) { s.wait.Store(&waitingBox{w}) }

func (s *Server) waiting() Waiting {
	if b := s.wait.Load(); b != nil {
		return b.w
	}
	return nil
}

// waitingRoutes: GET /api/waiting (the agent's callback preview and messages), GET
// /api/waiting/voicemail/{task} (the message's WAV, only to the agent holding it), POST
// /api/waiting/voicemail/{task}/done.
func (s *Server) waitingRoutes() {
	s.mux.HandleFunc("GET /api/waiting", s.auth(func(w http.ResponseWriter, r *http.Request) {
		wt := s.waiting()
		if wt == nil {
			writeJSON(w, http.StatusOK, map[string]any{})
			return
		}
		writeJSON(w, http.StatusOK, wt.Desk(agentOf(r)))
	}))
	s.mux.HandleFunc("GET /api/waiting/voicemail/{task}", s.auth(func(w http.ResponseWriter, r *http.Request) {
		wt := s.waiting()
		if wt == nil {
			http.NotFound(w, r)
			return
		}
		path, ok := wt.VoicemailFile(agentOf(r), r.PathValue("task"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such message"})
			return
		}
		f, err := os.Open(path)
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "recording gone"})
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			s.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Cache-Control", "private, no-store")
		http.ServeContent(w, r, "", fi.ModTime(), f)
	}))
	s.mux.HandleFunc("POST /api/waiting/voicemail/{task}/done", s.auth(func(w http.ResponseWriter, r *http.Request) {
		wt := s.waiting()
		if wt == nil {
			http.NotFound(w, r)
			return
		}
		if err := wt.VoicemailDone(agentOf(r), r.PathValue("task")); err != nil {
			s.log.Info("message not completed", "agent", agentOf(r), "task", r.PathValue("task"), "error", err)
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such message"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"ok": "done"})
	}))
}
