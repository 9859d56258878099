// Package messenger is the Facebook Messenger Platform adapter: the page webhook (subscription
// challenge, X-Hub-Signature-256, messages with text and attachments) and replies through the
// Send API (POST /{version}/me/messages with the page token as bearer).
package messenger

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/internal/meta"
	"github.com/ccswitch/ccswitch/store"
)

// Adapter is the Messenger webhook handler (mount it at /webhooks/messenger) and sender.
type Adapter struct {
	cfg    channels.Messenger
	recv   channels.Receiver
	client *http.Client
	log    *slog.Logger
}

// New returns the adapter.
func New(cfg channels.Messenger, recv channels.Receiver, log *slog.Logger) *Adapter {
	cfg.GraphURL = strings.TrimRight(cmp.Or(cfg.GraphURL, "https://graph.facebook.com"), "/")
	cfg.APIVersion = cmp.Or(cfg.APIVersion, "v21.0")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{cfg: cfg, recv: recv, client: &http.Client{Timeout: 15 * time.Second},
		log: log.With("component", "channels.messenger")}
}

// Name implements channels.Adapter.
func (a *Adapter) Name() string { return "messenger" }

type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID        string `json:"id"`
		Messaging []struct {
			Sender    struct{ ID string } `json:"sender"`
			Recipient struct{ ID string } `json:"recipient"`
			Timestamp int64               `json:"timestamp"`
			Message   *struct {
				Mid         string `json:"mid"`
				Text        string `json:"text"`
				IsEcho      bool   `json:"is_echo"`
				Attachments []struct {
					Type    string `json:"type"`
					Payload struct {
						URL string `json:"url"`
					} `json:"payload"`
				} `json:"attachments"`
			} `json:"message"`
		} `json:"messaging"`
	} `json:"entry"`
}

// mimeOf maps Messenger's attachment types to MIME families (the webhook gives no MIME type).
var mimeOf = map[string]string{"image": "image/*", "audio": "audio/*", "video": "video/*", "file": "application/octet-stream"}

// ServeHTTP answers the GET challenge and POSTed events; 200 only after every message is stored.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		meta.Verify(w, r, a.cfg.VerifyToken)
		return
	case http.MethodPost:
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, ok := meta.Body(w, r, a.cfg.AppSecret)
	if !ok {
		return
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	for _, e := range p.Entry {
		for _, ev := range e.Messaging {
			m := ev.Message
			if m == nil || m.IsEcho || ev.Sender.ID == "" {
				continue // deliveries, reads, postbacks and our own echoes
			}
			in := channels.Inbound{Adapter: "messenger", ProviderID: m.Mid, From: ev.Sender.ID, Route: ev.Recipient.ID, Text: m.Text}
			if ev.Timestamp > 0 {
				in.Time = time.UnixMilli(ev.Timestamp)
			}
			for _, at := range m.Attachments {
				att := store.Attachment{Type: cmp.Or(mimeOf[at.Type], at.Type), URL: at.Payload.URL}
				if why := a.cfg.Limits.Allow(att.Type, 0); why != "" {
					att.Rejected, att.URL = why, ""
				}
				in.Attachments = append(in.Attachments, att)
			}
			if _, err := a.recv.Receive(r.Context(), in); err != nil {
				a.log.Error("store inbound", "mid", m.Mid, "err", err)
				http.Error(w, "store failed", http.StatusInternalServerError)
				return
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

// Send posts a text reply to conv's page-scoped id.
func (a *Adapter) Send(ctx context.Context, conv store.Conversation, m store.Message) (string, error) {
	req := map[string]any{"recipient": map[string]any{"id": conv.Address}, "messaging_type": "RESPONSE",
		"message": map[string]any{"text": m.Text}}
	var resp struct {
		MessageID string `json:"message_id"`
	}
	if err := meta.Call(ctx, a.client, http.MethodPost, a.cfg.GraphURL+"/"+a.cfg.APIVersion+"/me/messages", a.cfg.Token, req, &resp); err != nil {
		return "", fmt.Errorf("messenger: send: %w", err)
	}
	return resp.MessageID, nil
}
