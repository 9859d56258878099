// Package meta holds what the WhatsApp Cloud API and Messenger webhooks share: the
// hub.verify_token subscription challenge, X-Hub-Signature-256, and Graph API calls.
package meta

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxBody bounds a webhook body (Meta sends far less).
const MaxBody = 1 << 20

// Verify answers the GET subscription challenge: 200 with hub.challenge when hub.mode is
// "subscribe" and hub.verify_token matches token, 403 otherwise.
func Verify(w http.ResponseWriter, r *http.Request, token string) {
	q := r.URL.Query()
	if token == "" || q.Get("hub.mode") != "subscribe" ||
		subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(token)) != 1 {
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, q.Get("hub.challenge"))
}

// Body reads the raw body and checks X-Hub-Signature-256 ("sha256=" + hex HMAC-SHA256 of the
// raw body keyed by the app secret). On failure it has answered 401 and returns false.
func Body(w http.ResponseWriter, r *http.Request, secret string) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil || len(body) > MaxBody {
		http.Error(w, "bad body", http.StatusBadRequest)
		return nil, false
	}
	if !Valid(body, r.Header.Get("X-Hub-Signature-256"), secret) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// Valid checks a X-Hub-Signature-256 header value against body.
func Valid(body []byte, header, secret string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok || secret == "" {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Sign returns the X-Hub-Signature-256 value for body (for tests and fakes).
func Sign(body []byte, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Call sends a Graph API request with the bearer token and decodes the JSON answer into out.
func Call(ctx context.Context, c *http.Client, method, url, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("graph %s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("graph %s %s: decode: %w", method, url, err)
		}
	}
	return nil
}
