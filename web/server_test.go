package web_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/chantest/fakegraph"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

const waSecret, waToken = "wa-app-secret", "wa-graph-token"

type harness struct {
	URL    string
	Config *config.Config
	Store  *store.Store
	Center *center.Center
	Server *web.Server
	Graph  *fakegraph.Server
}

// start boots the whole text side on 127.0.0.1:0 as cmd/ccswitch wires it: store, engine
// (its Sink feeding the conversation service), web server with web chat and WhatsApp.
func start(t *testing.T) *harness {
	t.Helper()
	return startWith(t, 0)
}

func startWith(t *testing.T, ttl time.Duration) *harness {
	t.Helper()
	return startOpts(t, ttl, nil, nil)
}

func startOpts(t *testing.T, ttl time.Duration, chansOverride *config.TextChannels, lookup channels.CRM) *harness {
	t.Helper()
	return startSetup(t, setup{ttl: ttl, chans: chansOverride, lookup: lookup})
}

// setup varies the harness: a config edit (applied before defaults), a clock.
type setup struct {
	ttl    time.Duration
	chans  *config.TextChannels
	lookup channels.CRM
	config func(*config.Config)
	clock  func() time.Time
}

func startSetup(t *testing.T, su setup) *harness {
	t.Helper()
	ttl, chansOverride, lookup := su.ttl, su.chans, su.lookup
	h := &harness{Graph: fakegraph.New(waToken)}
	t.Cleanup(h.Graph.Close)
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h.Store = st
	cfg := chantest.Config()
	cfg.Agents[0].Role = "supervisor" // alice; bob is an agent
	// WhatsApp conversations go through a small flow first (ivr, text mode).
	cfg.Numbers = []config.Number{{DID: "+15550199", Flow: "whatsapp-in"}}
	cfg.Flows = []config.Flow{{Name: "whatsapp-in", Nodes: []config.Node{
		{ID: "hello", Type: "play", Text: "Bonjour ! Un conseiller vous répond dans un instant.", Next: "tag"},
		{ID: "tag", Type: "set", Language: "fr", Vars: map[string]string{"topic": "order"}, Next: "q"},
		{ID: "q", Type: "queue", Queue: "support"},
	}}}
	cfg.Channels = config.TextChannels{
		WebChat: &config.WebChat{},
		WhatsApp: &config.WhatsApp{ChannelRoute: config.ChannelRoute{Entry: "+15550199"}, AppSecret: waSecret,
			VerifyToken: "vt", Token: waToken, GraphURL: h.Graph.URL},
	}
	if chansOverride != nil {
		cfg.Channels = *chansOverride
	}
	if su.config != nil {
		su.config(cfg)
	}
	cfg.ApplyDefaults()
	h.Config = cfg
	reg := prometheus.NewRegistry()
	cc, err := center.New(cfg, center.Options{Store: st, Registerer: reg, SnapshotEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	h.Center = cc
	srv, err := web.New(web.Options{Config: cfg, Store: st, Center: cc, SessionTTL: ttl, CRM: lookup,
		Registerer: reg, Gatherer: reg, Clock: su.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.Server = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.URL = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	cctx, stopCenter := context.WithCancel(context.Background())
	go func() { cc.Run(cctx); done <- struct{}{} }()
	go func() { srv.Serve(ctx, ln); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done // the web server, then the center it talks to
		stopCenter()
		<-done
		st.Close()
	})
	return h
}

// whatsapp posts a signed Cloud API notification with one text message.
func (h *harness) whatsapp(t *testing.T, id, from, name, text string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "WABA",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"display_phone_number": "15550001111", "phone_number_id": "PN1"},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": from}},
			"messages": []any{map[string]any{"from": from, "id": id, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "type": "text", "text": map[string]any{"body": text}}}}}}}}})
	mac := hmac.New(sha256.New, []byte(waSecret))
	mac.Write(body)
	req, _ := http.NewRequest("POST", h.URL+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("whatsapp webhook: %d", resp.StatusCode)
	}
}

type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar}}
}

func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func TestSessionExpiryLogsOut(t *testing.T) {
	h := startWith(t, 300*time.Millisecond)
	events, cancel := h.Server.Service().Subscribe("bob")
	defer cancel()
	c := newClient(t, h.URL)
	if code := c.do("POST", "/api/login", map[string]string{"agent": "bob", "password": "bob-pw"}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	// bob's states, in order: not ready after the login, then offline once the session expired.
	var states []string
	timeout := time.After(20 * time.Second) // a bound, not a threshold
	for len(states) < 2 {
		select {
		case ev := <-events:
			if ev.Type == "state" {
				states = append(states, ev.State)
			}
		case <-timeout:
			t.Fatalf("states so far %v", states)
		}
	}
	if states[0] != "not-ready" || states[1] != "offline" {
		t.Fatalf("states = %v, want not-ready then offline", states)
	}
	if code := c.do("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("me after expiry: %d", code)
	}
}

func TestLoginSessionAndAPI(t *testing.T) {
	h := start(t)
	c := newClient(t, h.URL)
	if code := c.do("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("me without session: %d", code)
	}
	if code := c.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "wrong"}, nil); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	if code := c.do("POST", "/api/login", map[string]string{"agent": "mallory", "password": "x"}, nil); code != 401 {
		t.Fatalf("unknown agent: %d", code)
	}
	// The cookie's flags.
	req, _ := http.NewRequest("POST", h.URL+"/api/login", strings.NewReader(`{"agent":"alice","password":"alice-pw"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || !strings.Contains(sc, "Expires=") {
		t.Fatalf("login: %d, Set-Cookie %q", resp.StatusCode, sc)
	}
	if code := c.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	// A form post (what a cross-site page can send) is refused.
	freq, _ := http.NewRequest("POST", h.URL+"/api/state", strings.NewReader("ready=true"))
	freq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	fresp, err := c.c.Do(freq)
	if err != nil {
		t.Fatal(err)
	}
	fresp.Body.Close()
	if fresp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("form post: %d", fresp.StatusCode)
	}
	var me struct {
		Agent    string
		Presence struct{ State string }
	}
	chantest.Eventually(t, "alice not ready after login", func() bool {
		c.do("GET", "/api/me", nil, &me)
		return me.Presence.State == "not-ready"
	})
	h.whatsapp(t, "wamid.1", "33612345678", "Ann", "Bonjour")
	if code := c.do("POST", "/api/state", map[string]any{"ready": true}, nil); code != 202 {
		t.Fatalf("ready: %d", code)
	}
	var offers struct{ Offers []channels.Offer }
	chantest.Eventually(t, "offer in /api/me", func() bool {
		c.do("GET", "/api/me", nil, &offers)
		return len(offers.Offers) == 1
	})
	conv := offers.Offers[0].Conv
	bob := newClient(t, h.URL)
	bob.do("POST", "/api/login", map[string]string{"agent": "bob", "password": "bob-pw"}, nil)
	if code := bob.do("POST", "/api/offers/"+conv+"/accept", map[string]any{}, nil); code != 403 {
		t.Fatalf("bob accepting alice's offer: %d", code)
	}
	if code := c.do("POST", "/api/offers/"+conv+"/accept", map[string]any{}, nil); code != 202 {
		t.Fatalf("accept: %d", code)
	}
	chantest.WaitState(t, h.Store, conv, store.ConvAssigned, "alice")
	var m store.Message
	if code := c.do("POST", "/api/conversations/"+conv+"/reply", map[string]string{"text": "Bonjour Ann"}, &m); code != 200 || m.Status != "sent" {
		t.Fatalf("reply: %d %+v", code, m)
	}
	if code := bob.do("POST", "/api/conversations/"+conv+"/reply", map[string]string{"text": "hijack"}, nil); code != 403 {
		t.Fatalf("bob replying: %d", code)
	}
	if s := h.Graph.Sent(); len(s) != 2 || s[0].Text() != "Bonjour ! Un conseiller vous répond dans un instant." || s[1].Text() != "Bonjour Ann" {
		t.Fatalf("graph = %+v", s)
	}
	if code := c.do("POST", "/api/conversations/"+conv+"/transfer", map[string]string{"queue": "nowhere"}, nil); code != 400 {
		t.Fatalf("transfer to unknown queue: %d", code)
	}
	if code := c.do("POST", "/api/conversations/"+conv+"/close", map[string]string{"wrapup": "Resolved"}, nil); code != 200 {
		t.Fatalf("close: %d", code)
	}
	chantest.WaitState(t, h.Store, conv, store.ConvClosed, "")
	// Snapshots are published at most every 100ms: poll.
	chantest.Eventually(t, "metrics count the answered conversation", func() bool {
		resp, err := http.Get(h.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(mb), `ccswitch_queue_answered_total{queue="support"} 1`) &&
			strings.Contains(string(mb), `ccswitch_messages_in_total{adapter="whatsapp"} 1`) &&
			strings.Contains(string(mb), `ccswitch_messages_out_total{adapter="whatsapp",result="sent"} 2`)
	})
	var stats struct {
		Queues []struct{ Name string }
		Agents []struct{ ID, State string }
	}
	if code := c.do("GET", "/api/stats", nil, &stats); code != 200 || len(stats.Queues) != 2 || len(stats.Agents) != 2 {
		t.Fatalf("stats: %d %+v", code, stats)
	}
	if code := c.do("POST", "/api/logout", map[string]any{}, nil); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code := c.do("GET", "/api/me", nil, nil); code != 401 {
		t.Fatalf("me after logout: %d", code)
	}
}

// TestConfigMountsEveryAdapter: with every adapter's section in the YAML (secrets as ${ENV}),
// each webhook is mounted (a bad signature is refused, not a 404) and the SMTP listener answers.
func TestConfigMountsEveryAdapter(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr := ln.Addr().String()
	ln.Close()
	t.Setenv("TEST_WA_SECRET", "s")
	parsed, err := config.Parse("channels.yaml", []byte(`
channels:
  webchat:
  sms: {account_sid: AC1, auth_token: tok}
  whatsapp: {app_secret: "${TEST_WA_SECRET}", token: t, verify_token: v}
  messenger: {app_secret: s, token: t, verify_token: v}
  telegram: {bot_token: "1:x", secret_token: sec}
  email: {address: support@example.com, smtp_relay: "127.0.0.1:1", listen: "`+smtpAddr+`"}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := channels.FromConfig(parsed)
	for name, on := range map[string]bool{"webchat": cfg.WebChat.Enabled, "sms": cfg.SMS.Enabled, "whatsapp": cfg.WhatsApp.Enabled,
		"messenger": cfg.Messenger.Enabled, "telegram": cfg.Telegram.Enabled, "email": cfg.Email.Enabled} {
		if !on {
			t.Errorf("%s not enabled by its section", name)
		}
	}
	if cfg.WhatsApp.AppSecret != "s" {
		t.Errorf("whatsapp.app_secret = %q, want the environment's value", cfg.WhatsApp.AppSecret)
	}
	h := startOpts(t, 0, &parsed.Channels, nil)
	for path, want := range map[string]int{"/webhooks/sms": 403, "/webhooks/whatsapp": 401, "/webhooks/messenger": 401, "/webhooks/telegram": 401} {
		resp, err := http.Post(h.URL+path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s unsigned: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(h.URL + "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=v&hub.challenge=42")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "42" {
		t.Errorf("whatsapp challenge = %q", b)
	}
	for _, p := range []string{"/", "/wallboard", "/widget.js", "/chat/", "/assets/app.js", "/healthz"} {
		resp, err := http.Get(h.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	var conn net.Conn
	chantest.Eventually(t, "SMTP listener up", func() bool {
		conn, err = net.Dial("tcp", smtpAddr)
		return err == nil
	})
	defer conn.Close()
	greeting := make([]byte, 64)
	n, _ := conn.Read(greeting)
	if !strings.HasPrefix(string(greeting[:n]), "220 ") {
		t.Errorf("SMTP greeting %q", greeting[:n])
	}
}

func TestReloadAgents(t *testing.T) {
	h := start(t)
	cfg := chantest.Config()
	cfg.Agents = cfg.Agents[:1] // bob leaves
	cfg.Agents = append(cfg.Agents, config.Agent{ID: "carol", Name: "Carol", Password: "carol-pw", Queues: []string{"support"}})
	cfg.Queues = append(cfg.Queues, config.Queue{Name: "vip", Channels: []string{"chat"}})
	if err := h.Center.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := h.Server.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if code := newClient(t, h.URL).do("POST", "/api/login", map[string]string{"agent": "bob", "password": "bob-pw"}, nil); code != 401 {
		t.Errorf("removed agent logs in: %d", code)
	}
	carol := newClient(t, h.URL)
	if code := carol.do("POST", "/api/login", map[string]string{"agent": "carol", "password": "carol-pw"}, nil); code != 200 {
		t.Errorf("new agent: %d", code)
	}
	var me struct {
		Name   string
		Queues []string
	}
	carol.do("GET", "/api/me", nil, &me)
	if me.Name != "Carol" || len(me.Queues) != 3 {
		t.Errorf("me after reload = %+v", me)
	}
}

// TestReloadChannels: a reload starts the adapters whose section appeared, stops those whose
// section left (their paths answer 404) and keeps the others serving.
func TestReloadChannels(t *testing.T) {
	h := start(t)
	status := func(method, path string) int {
		req, _ := http.NewRequest(method, h.URL+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	steps := []struct {
		name  string
		chans config.TextChannels
		want  map[string]int // "METHOD path" → status
	}{
		{"telegram in, whatsapp out", config.TextChannels{WebChat: &config.WebChat{}, Telegram: &config.Telegram{BotToken: "1:x", SecretToken: "sec"}},
			map[string]int{"POST /webhooks/telegram": 401, "POST /webhooks/whatsapp": 404, "GET /widget.js": 200, "GET /chat/": 200}},
		{"web chat out", config.TextChannels{Telegram: &config.Telegram{BotToken: "1:x", SecretToken: "sec"}},
			map[string]int{"POST /webhooks/telegram": 401, "GET /widget.js": 404, "GET /chat/": 404, "GET /": 200}},
		{"all out", config.TextChannels{},
			map[string]int{"POST /webhooks/telegram": 404, "POST /webhooks/sms": 404, "GET /healthz": 200}},
	}
	for _, st := range steps {
		cfg := chantest.Config()
		cfg.Channels = st.chans
		cfg.ApplyDefaults()
		if err := h.Server.Reload(cfg); err != nil {
			t.Fatalf("%s: reload: %v", st.name, err)
		}
		for req, want := range st.want {
			method, path, _ := strings.Cut(req, " ")
			if got := status(method, path); got != want {
				t.Errorf("%s: %s = %d, want %d", st.name, req, got, want)
			}
		}
	}
}
