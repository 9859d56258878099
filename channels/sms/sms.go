// Package sms is a Twilio-compatible SMS adapter: the inbound message webhook (form fields,
// X-Twilio-Signature) and replies through the REST API (POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth) at a configurable base URL.
package sms

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/store"
)

// Adapter is the SMS webhook handler (mount it at /webhooks/sms) and sender.
type Adapter struct {
	cfg    channels.SMS
	recv   channels.Receiver
	client *http.Client
	log    *slog.Logger
}

// New returns the adapter.
func New(cfg channels.SMS, recv channels.Receiver, log *slog.Logger) *Adapter {
	cfg.BaseURL = strings.TrimRight(cmp.Or(cfg.BaseURL, "https://api.twilio.com"), "/")
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{cfg: cfg, recv: recv, client: &http.Client{Timeout: 15 * time.Second}, log: log.With("component", "channels.sms")}
}

// Name implements channels.Adapter.
func (a *Adapter) Name() string { return "sms" }

// Signature computes X-Twilio-Signature: base64 HMAC-SHA1, keyed by the auth token, of the
// full URL followed by every POST parameter name and value, sorted by name.
func Signature(token, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		vs := append([]string(nil), form[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// webhookURL is the URL the provider signed: the configured one, or this request's.
func (a *Adapter) webhookURL(r *http.Request) string {
	if a.cfg.WebhookURL != "" {
		return a.cfg.WebhookURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// ServeHTTP takes an inbound message; it answers an empty TwiML response once it is stored.
func (a *Adapter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	want := Signature(a.cfg.AuthToken, a.webhookURL(r), r.PostForm)
	if a.cfg.AuthToken == "" || !hmac.Equal([]byte(r.Header.Get("X-Twilio-Signature")), []byte(want)) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	f := r.PostForm
	if a.cfg.AccountSID != "" && f.Get("AccountSid") != a.cfg.AccountSID {
		http.Error(w, "wrong account", http.StatusForbidden)
		return
	}
	from := f.Get("From")
	if from == "" {
		http.Error(w, "no From", http.StatusBadRequest)
		return
	}
	in := channels.Inbound{Adapter: "sms", ProviderID: providerID(f), From: from, Route: f.Get("To"), Text: f.Get("Body")}
	if strings.HasPrefix(in.ProviderID, "sha256:") {
		in.DedupeFor = time.Hour // a retry comes within the hour; the same "yes" tomorrow is new
	}
	if p := channels.Phone(from); p != "" {
		in.Identities = []store.Identity{{Kind: "phone", Value: p}}
	}
	n, _ := strconv.Atoi(f.Get("NumMedia"))
	for i := range min(n, 10) {
		att := store.Attachment{Type: f.Get(fmt.Sprintf("MediaContentType%d", i)), URL: f.Get(fmt.Sprintf("MediaUrl%d", i))}
		if why := a.cfg.Limits.Allow(att.Type, 0); why != "" {
			att.Rejected, att.URL = why, ""
		}
		in.Attachments = append(in.Attachments, att)
	}
	if _, err := a.recv.Receive(r.Context(), in); err != nil {
		a.log.Error("store inbound", "sid", in.ProviderID, "err", err)
		http.Error(w, "store failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
}

// providerID is the provider's id of the message (MessageSid, or the older SmsMessageSid and
// SmsSid), or, from a provider that sends none, a digest of every signed field: its retry of
// the same post is then still recognised (channels invariant 2). Two posts whose every field is
// equal within an hour are one message.
func providerID(f url.Values) string {
	if id := cmp.Or(f.Get("MessageSid"), f.Get("SmsMessageSid"), f.Get("SmsSid")); id != "" {
		return id
	}
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(f)) {
		for _, v := range f[k] {
			fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(v), v)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Send creates an outbound message through the REST API.
func (a *Adapter) Send(ctx context.Context, conv store.Conversation, m store.Message) (string, error) {
	form := url.Values{"To": {conv.Address}, "From": {cmp.Or(conv.Route, a.cfg.From)}, "Body": {m.Text}}
	u := a.cfg.BaseURL + "/2010-04-01/Accounts/" + url.PathEscape(a.cfg.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.cfg.AccountSID, a.cfg.AuthToken)
	resp, err := a.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("sms: send: %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("sms: send: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var out struct {
		Sid string `json:"sid"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", fmt.Errorf("sms: send: decode: %w", err)
	}
	return out.Sid, nil
}
