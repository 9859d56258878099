// Package telegram is the Telegram Bot API adapter: the webhook (authenticated by the
// X-Telegram-Bot-Api-Secret-Token header set with setWebhook's secret_token) and replies
// through sendMessage.
package telegram

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/store"
)

// Adapter is the Telegram webhook handler (mount it at /webhooks/telegram) and sender.
type Adapter struct {
	cfg    channels.Telegram
	recv   channels.Receiver
	client *http.Client
	log    *slog.Logger
}

// New returns the adapter.
func New(cfg channels.Telegram, recv channels.Receiver, log *slog.Logger) *Adapter {
	cfg.BaseURL = strings.TrimRight(cmp.Or(cfg.BaseURL, "https://api.telegram.org"), "/")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{cfg: cfg, recv: recv, client: &http.Client{Timeout: 15 * time.Second}, log: log.With("component", "channels.telegram")}
}

// Name implements channels.Adapter.
func (a *Adapter) Name() string { return "telegram" }

type file struct {
	FileID   string `json:"file_id"`
	FileSize int64  `json:"file_size"`
	MimeType string `json:"mime_type"`
	FileName string `json:"file_name"`
}

// update is the part of Update (https://core.telegram.org/bots/api#update) we use.
type update struct {
	UpdateID int64 `json:"update_id"`
	Message  *struct {
		MessageID int64 `json:"message_id"`
		Date      int64 `json:"date"`
		From      struct {
			ID        int64  `json:"id"`
			FirstName string `json:"first_name"`
			LastName  string `json:"last_name"`
			Username  string `json:"username"`
		} `json:"from"`
		Chat struct {
			ID int64 `json:"id"`
		} `json:"chat"`
		Text     string `json:"text"`
		Caption  string `json:"caption"`
		Photo    []file `json:"photo"`
		Document *file  `json:"document"`
		Voice    *file  `json:"voice"`
		Contact  *struct {
			PhoneNumber string `json:"phone_number"`
			UserID      int64  `json:"user_id"`
		} `json:"contact"`
	} `json:"message"`
}

// ServeHTTP takes one Update; 200 once stored.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	got := r.Header.Get("X-Telegram-Bot-Api-Secret-Token")
	if a.cfg.SecretToken == "" || subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.SecretToken)) != 1 {
		http.Error(w, "bad secret token", http.StatusUnauthorized)
		return
	}
	var u update
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&u); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	m := u.Message
	if m == nil || m.Chat.ID == 0 {
		w.WriteHeader(http.StatusOK) // edits, callbacks, channel posts: not conversations
		return
	}
	chat := strconv.FormatInt(m.Chat.ID, 10)
	in := channels.Inbound{Adapter: "telegram", ProviderID: chat + ":" + strconv.FormatInt(m.MessageID, 10), From: chat,
		Name: strings.TrimSpace(m.From.FirstName + " " + m.From.LastName), Text: cmp.Or(m.Text, m.Caption), Time: time.Unix(m.Date, 0)}
	if m.Contact != nil && m.Contact.UserID == m.From.ID {
		// The user shared their own number: link it.
		if p := channels.Phone(m.Contact.PhoneNumber); p != "" {
			in.Identities = append(in.Identities, store.Identity{Kind: "phone", Value: p})
			in.Text = cmp.Or(in.Text, "shared phone number "+p)
		}
	}
	var files []file
	if len(m.Photo) > 0 {
		p := m.Photo[len(m.Photo)-1] // the largest size
		p.MimeType = "image/jpeg"
		files = append(files, p)
	}
	for _, f := range []*file{m.Document, m.Voice} {
		if f != nil {
			files = append(files, *f)
		}
	}
	for _, f := range files {
		att := store.Attachment{Type: f.MimeType, Size: f.FileSize, Name: f.FileName, MediaID: f.FileID}
		if why := a.cfg.Limits.Allow(att.Type, att.Size); why != "" {
			att.Rejected, att.MediaID = why, ""
		}
		in.Attachments = append(in.Attachments, att)
	}
	if _, err := a.recv.Receive(r.Context(), in); err != nil {
		a.log.Error("store inbound", "update", u.UpdateID, "err", err)
		http.Error(w, "store failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// Send calls sendMessage.
func (a *Adapter) Send(ctx context.Context, conv store.Conversation, m store.Message) (string, error) {
	chat, err := strconv.ParseInt(conv.Address, 10, 64)
	if err != nil {
		return "", fmt.Errorf("telegram: send: chat id %q: %w", conv.Address, err)
	}
	body, _ := json.Marshal(map[string]any{"chat_id": chat, "text": m.Text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.BaseURL+"/bot"+a.cfg.BotToken+"/sendMessage", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("telegram: send: %w", redact(err, a.cfg.BotToken))
	}
	defer resp.Body.Close()
	var out struct {
		OK          bool   `json:"ok"`
		Description string `json:"description"`
		Result      struct {
			MessageID int64 `json:"message_id"`
		} `json:"result"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return "", fmt.Errorf("telegram: send: %s: decode: %w", resp.Status, err)
	}
	if !out.OK {
		return "", fmt.Errorf("telegram: send: %s: %s", resp.Status, out.Description)
	}
	return conv.Address + ":" + strconv.FormatInt(out.Result.MessageID, 10), nil
}

// redact keeps the bot token (part of the URL) out of errors and logs.
func redact(err error, token string) error {
	if token == "" {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), token, "<token>"))
}
