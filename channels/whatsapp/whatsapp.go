// Package whatsapp is the WhatsApp Cloud API adapter: the webhook (subscription challenge,
// X-Hub-Signature-256, inbound messages) and replies through the Graph API
// (POST /{version}/{phone-number-id}/messages with a bearer token).
package whatsapp

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/internal/meta"
	"github.com/ccswitch/ccswitch/store"
)

// Adapter is the WhatsApp webhook handler (mount it at /webhooks/whatsapp) and sender.
type Adapter struct {
	cfg    channels.WhatsApp
	recv   channels.Receiver
	client *http.Client
	log    *slog.Logger
}

// New returns the adapter; recv stores what arrives.
func New(cfg channels.WhatsApp, recv channels.Receiver, log *slog.Logger) *Adapter {
	cfg.GraphURL = strings.TrimRight(cmp.Or(cfg.GraphURL, "https://graph.facebook.com"), "/")
	cfg.APIVersion = cmp.Or(cfg.APIVersion, "v21.0")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{cfg: cfg, recv: recv, client: &http.Client{Timeout: 15 * time.Second},
		log: log.With("component", "channels.whatsapp")}
}

// Name implements channels.Adapter.
func (a *Adapter) Name() string { return "whatsapp" }

// Webhook payload (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples).
type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
					WaID string `json:"wa_id"`
				} `json:"contacts"`
				Messages []message `json:"messages"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type message struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
	Image    *media `json:"image"`
	Audio    *media `json:"audio"`
	Video    *media `json:"video"`
	Document *media `json:"document"`
	Sticker  *media `json:"sticker"`
	Button   *struct {
		Text string `json:"text"`
	} `json:"button"`
	Interactive *struct {
		ButtonReply *struct{ Title string } `json:"button_reply"`
		ListReply   *struct{ Title string } `json:"list_reply"`
	} `json:"interactive"`
}

// ServeHTTP answers the GET challenge and POSTed notifications. A notification is answered 200
// only after every message in it is stored; on a store error it gets 500 and Meta retries.
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
		for _, ch := range e.Changes {
			v := ch.Value
			names := map[string]string{}
			for _, c := range v.Contacts {
				names[c.WaID] = c.Profile.Name
			}
			for _, m := range v.Messages {
				if m.From == "" {
					continue // not a customer message we can answer; nothing to retry either
				}
				in := a.inbound(r.Context(), m, v.Metadata.PhoneNumberID, names[m.From])
				if _, err := a.recv.Receive(r.Context(), in); err != nil {
					a.log.Error("store inbound", "id", m.ID, "err", err)
					http.Error(w, "store failed", http.StatusInternalServerError)
					return
				}
			}
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (a *Adapter) inbound(ctx context.Context, m message, pnid, name string) channels.Inbound {
	in := channels.Inbound{Adapter: "whatsapp", ProviderID: m.ID, From: m.From, Route: pnid, Name: name, Text: m.Text.Body}
	if p := channels.Phone(m.From); p != "" {
		in.Identities = []store.Identity{{Kind: "phone", Value: p}}
	}
	if sec, err := strconv.ParseInt(m.Timestamp, 10, 64); err == nil && sec > 0 {
		in.Time = time.Unix(sec, 0)
	}
	if m.Button != nil {
		in.Text = m.Button.Text
	}
	if it := m.Interactive; it != nil {
		if it.ButtonReply != nil {
			in.Text = it.ButtonReply.Title
		} else if it.ListReply != nil {
			in.Text = it.ListReply.Title
		}
	}
	for _, md := range []*media{m.Image, m.Audio, m.Video, m.Document, m.Sticker} {
		if md == nil {
			continue
		}
		att := store.Attachment{Type: md.MimeType, MediaID: md.ID, Name: md.Filename}
		if in.Text == "" {
			in.Text = md.Caption
		}
		// The webhook carries no size: ask Graph for the media's metadata (and its URL).
		var info struct {
			URL      string `json:"url"`
			MimeType string `json:"mime_type"`
			FileSize int64  `json:"file_size"`
		}
		if err := meta.Call(ctx, a.client, http.MethodGet, a.cfg.GraphURL+"/"+a.cfg.APIVersion+"/"+md.ID, a.cfg.Token, nil, &info); err != nil {
			a.log.Warn("media lookup failed; size unknown", "media", md.ID, "err", err)
		} else {
			att.URL, att.Size = info.URL, info.FileSize
			att.Type = cmp.Or(att.Type, info.MimeType)
		}
		if why := a.cfg.Limits.Allow(att.Type, att.Size); why != "" {
			att.Rejected, att.URL = why, ""
		}
		in.Attachments = append(in.Attachments, att)
	}
	if in.Text == "" && len(in.Attachments) == 0 {
		in.Text = "[" + m.Type + " message]"
	}
	return in
}

// Send posts a text message to conv's WhatsApp id from the number that received it.
func (a *Adapter) Send(ctx context.Context, conv store.Conversation, m store.Message) (string, error) {
	pnid := cmp.Or(conv.Route, a.cfg.PhoneNumberID)
	if pnid == "" {
		return "", fmt.Errorf("whatsapp: send: no phone-number-id for %s", conv.ID)
	}
	req := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "to": conv.Address,
		"type": "text", "text": map[string]any{"preview_url": false, "body": m.Text}}
	var resp struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	url := a.cfg.GraphURL + "/" + a.cfg.APIVersion + "/" + pnid + "/messages"
	if err := meta.Call(ctx, a.client, http.MethodPost, url, a.cfg.Token, req, &resp); err != nil {
		return "", fmt.Errorf("whatsapp: send: %w", err)
	}
	if len(resp.Messages) == 0 {
		return "", fmt.Errorf("whatsapp: send: no message id in answer")
	}
	return resp.Messages[0].ID, nil
}
