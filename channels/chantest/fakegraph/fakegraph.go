// Package fakegraph is a loopback stand-in for Meta's Graph API as the WhatsApp Cloud API and
// Messenger use it: POST /{version}/{phone-number-id}/messages, POST /{version}/me/messages and
// GET /{version}/{media-id}, with bearer-token checks and the documented answers.
package fakegraph

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Sent is one message the server accepted.
type Sent struct {
	Path string
	Body map[string]any
}

// Text returns the text body of a WhatsApp or Messenger send.
func (s Sent) Text() string {
	if t, ok := s.Body["text"].(map[string]any); ok {
		b, _ := t["body"].(string)
		return b
	}
	if m, ok := s.Body["message"].(map[string]any); ok {
		b, _ := m["text"].(string)
		return b
	}
	return ""
}

// To returns the recipient of a send.
func (s Sent) To() string {
	if to, ok := s.Body["to"].(string); ok {
		return to
	}
	if r, ok := s.Body["recipient"].(map[string]any); ok {
		id, _ := r["id"].(string)
		return id
	}
	return ""
}

// Server is a running fake Graph API.
type Server struct {
	*httptest.Server
	Token string
	// Media maps a media id to its size and type for GET /{version}/{media-id}.
	Media map[string]Media

	mu   sync.Mutex
	sent []Sent
	n    int
	wake chan struct{}
}

// Media is what GET /{media-id} answers.
type Media struct {
	Type string
	Size int64
}

// New starts a fake accepting token.
func New(token string) *Server {
	s := &Server{Token: token, Media: map[string]Media{}, wake: make(chan struct{}, 1)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && len(parts) == 2:
		m, ok := s.Media[parts[1]]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":{"message":"Unsupported get request","code":100}}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp", "id": parts[1],
			"url": s.URL + "/media/" + parts[1], "mime_type": m.Type, "file_size": m.Size, "sha256": "00"})
	case r.Method == http.MethodPost && len(parts) == 3 && parts[2] == "messages":
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.n++
		id := fmt.Sprintf("wamid.out%d", s.n)
		s.sent = append(s.sent, Sent{Path: r.URL.Path, Body: body})
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		if parts[1] == "me" {
			json.NewEncoder(w).Encode(map[string]any{"recipient_id": (Sent{Body: body}).To(), "message_id": "m_" + id})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"messaging_product": "whatsapp",
			"contacts": []any{map[string]any{"input": body["to"], "wa_id": body["to"]}},
			"messages": []any{map[string]any{"id": id}}})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// Sent returns a copy of the accepted sends.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sent(nil), s.sent...)
}
