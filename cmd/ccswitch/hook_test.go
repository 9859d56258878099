package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/center/hook"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

// TestWebhooksOfAChat boots the real wiring (newProcess) with WhatsApp and a webhook endpoint
// in the YAML, and plays a chat as a customer and an agent would: a signed WhatsApp message, a
// desktop login, accept, close with a wrap-up code. The endpoint (an httptest receiver that
// verifies each signature as README tells operators to) gets offer, accept, end and wrapup of
// that conversation, in order, with its details.
func TestWebhooksOfAChat(t *testing.T) {
	const hookSecret = "hook-secret-0123456789"
	got := make(chan hook.Event, 16)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !hook.Verify(hookSecret, r.Header.Get(hook.HeaderTimestamp), r.Header.Get(hook.HeaderSignature), body, time.Now(), 5*time.Minute) {
			t.Errorf("signature does not verify: %s", body)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var e hook.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		got <- e
	}))
	defer rcv.Close()

	t.Setenv("TEST_HOOK_SECRET", hookSecret)
	demo, _, httpPort, _ := demoOnFreePorts(t)
	cfg, err := config.Parse("ccswitch.yaml", []byte(demo+`  whatsapp: {app_secret: wa-secret, verify_token: vt, token: tok, graph_url: "http://127.0.0.1:1", queue: support}
webhooks:
  - {url: "`+rcv.URL+`/events", secret: "${TEST_HOOK_SECRET}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := newProcess(cfg, st, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.run(ctx) }()
	defer func() { cancel(); <-done }()
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitFor(t, "http up", func() bool {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		return err == nil
	})

	jar, _ := cookiejar.New(nil)
	agent := &http.Client{Jar: jar}
	call := func(method, path string, in, out any) int {
		t.Helper()
		var body io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Content-Type", "application/json")
		res, err := agent.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if out != nil {
			json.NewDecoder(res.Body).Decode(out)
		}
		return res.StatusCode
	}
	if code := call("POST", "/api/login", map[string]string{"agent": "1002", "password": "secret1002"}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	if code := call("POST", "/api/state", map[string]any{"ready": true}, nil); code != 202 {
		t.Fatalf("ready: %d", code)
	}

	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{` +
		`"messaging_product":"whatsapp","metadata":{"phone_number_id":"PN1"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"15550007777"}],` +
		`"messages":[{"from":"15550007777","id":"wamid.H1","timestamp":"` + strconv.FormatInt(time.Now().Unix(), 10) +
		`","type":"text","text":{"body":"my order is late"}}]}}]}]}`)
	mac := hmac.New(sha256.New, []byte("wa-secret"))
	mac.Write(body)
	req, _ := http.NewRequest("POST", base+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("whatsapp webhook: %v %v", res, err)
	}
	res.Body.Close()

	var me struct {
		Offers        []struct{ Conv string }
		Conversations []struct{ ID string }
	}
	waitFor(t, "the offer on the desktop", func() bool { call("GET", "/api/me", nil, &me); return len(me.Offers) == 1 })
	conv := me.Offers[0].Conv
	if code := call("POST", "/api/offers/"+conv+"/accept", map[string]any{}, nil); code != 202 {
		t.Fatalf("accept: %d", code)
	}
	waitFor(t, "the conversation assigned", func() bool { call("GET", "/api/me", nil, &me); return len(me.Conversations) == 1 })
	if code := call("POST", "/api/conversations/"+conv+"/close", map[string]string{"wrapup": "refund", "notes": "sent"}, nil); code != 200 {
		t.Fatalf("close: %d", code)
	}

	for i, want := range []string{"offer", "accept", "end", "wrapup"} {
		select {
		case e := <-got:
			if e.Type != want || e.Task != conv || e.Kind != "conversation" || e.Channel != "social" || e.Queue != "support" && want != "wrapup" ||
				e.Agent != "1002" || e.Details["adapter"] != "whatsapp" {
				t.Errorf("event %d = %+v, want %s of %s", i, e, want, conv)
			}
			if want == "wrapup" && e.Details["wrapup"] != "refund" {
				t.Errorf("wrapup details = %v, want the wrap-up code", e.Details)
			}
			if want == "end" && e.Reason != "task-completed" {
				t.Errorf("end reason = %q", e.Reason)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
}
