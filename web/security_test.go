package web_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

// The attacks of issue 13 on the web side, each sent as an attacker would: raw HTTP where the
// Host or the timing matters, from other loopback addresses (127.0.0.x stands for another
// host) where the source matters.

// fakeClock is the server's clock in tests that cross a window or an idle timeout.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// from returns a client whose connections come from local address ip.
func from(t *testing.T, base, ip string) *client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, Transport: &http.Transport{DialContext: d.DialContext}}}
}

// raw sends one request exactly as written (the Host header is the attacker's) on a new
// connection and returns the response with its body read.
func raw(t *testing.T, addr, req string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // a bound, not a threshold
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, string(b)
}

func hostOf(h *harness) string { return strings.TrimPrefix(h.URL, "http://") }

// metric reads one sample from /metrics (0 when absent).
func metric(t *testing.T, h *harness, sample string) float64 {
	t.Helper()
	resp, err := http.Get(h.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// login posts a login and returns the response (body closed).
func (c *client) login(agent, password string, hdr ...string) *http.Response {
	c.t.Helper()
	b, _ := json.Marshal(map[string]string{"agent": agent, "password": password})
	req, _ := http.NewRequest("POST", c.base+"/api/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestAttackDNSRebinding: a page on rebind.attacker.example whose name now resolves to
// 127.0.0.1 sends requests with its own Host. Every path (metrics, desktop, login, assets,
// webhooks, widget, both WebSockets, even with a valid session) gets 421; the names of this
// server are served.
func TestAttackDNSRebinding(t *testing.T) {
	h := start(t)
	addr := hostOf(h)
	_, port, _ := net.SplitHostPort(addr)
	alice := newClient(t, h.URL)
	if code := alice.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	u, _ := http.NewRequest("GET", h.URL, nil)
	cookie := alice.c.Jar.Cookies(u.URL)[0]
	requests := []string{
		"GET /metrics HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"GET /wallboard HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"GET /assets/app.js HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"POST /api/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 41\r\nConnection: close\r\n\r\n{\"agent\":\"alice\",\"password\":\"alice-pw\"}\n",
		"GET /api/me HTTP/1.1\r\nHost: %s\r\nCookie: " + cookie.Name + "=" + cookie.Value + "\r\nConnection: close\r\n\r\n",
		"POST /webhooks/whatsapp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
		"GET /widget.js HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"GET /chat/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
		"GET /api/ws HTTP/1.1\r\nHost: %s\r\nOrigin: http://%[1]s\r\nCookie: " + cookie.Name + "=" + cookie.Value + "\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		"GET /chat/ws HTTP/1.1\r\nHost: %s\r\nOrigin: http://%[1]s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
	}
	for _, host := range []string{"rebind.attacker.example", "rebind.attacker.example:" + port, "127.0.0.1.attacker.example:" + port,
		"localhost.attacker.example", "LOCALHOST.attacker.example:" + port, "169.254.169.254", "127.0.0.2:" + port} {
		for _, req := range requests {
			resp, body := raw(t, addr, fmt.Sprintf(req, host))
			if resp.StatusCode != http.StatusMisdirectedRequest || strings.Contains(body, "ccswitch_") || strings.Contains(body, "<html") {
				t.Errorf("Host %s, %s: %d %.80q, want 421", host, strings.SplitN(req, "\r\n", 2)[0], resp.StatusCode, body)
			}
		}
	}
	// An HTTP/1.0 request without any Host is no name of ours either.
	if resp, _ := raw(t, addr, "GET /metrics HTTP/1.0\r\n\r\n"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("no Host: %d, want 421", resp.StatusCode)
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LocalHost:" + port, "[::1]:" + port, "localhost", "127.0.0.1"} {
		resp, body := raw(t, addr, fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host))
		if resp.StatusCode != 200 || body != "ok\n" {
			t.Errorf("Host %s: %d %q, want 200", host, resp.StatusCode, body)
		}
	}
	if n := metric(t, h, `ccswitch_web_refused_total{reason="host"}`); n < float64(7*len(requests)) {
		t.Errorf("refused{host} = %v, want every refusal counted", n)
	}

	// With http.hosts set, exactly those names.
	h2 := startSetup(t, setup{config: func(c *config.Config) { c.HTTP.Hosts = []string{"cc.example.com", "10.1.2.3:8443"} }})
	_, port2, _ := net.SplitHostPort(hostOf(h2))
	for host, want := range map[string]int{"cc.example.com": 200, "CC.example.com:" + port2: 200, "10.1.2.3:8443": 200,
		"10.1.2.3:" + port2: 421, "localhost:" + port2: 421, "127.0.0.1:" + port2: 421, "evil.cc.example.com": 421} {
		resp, _ := raw(t, hostOf(h2), fmt.Sprintf("GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host))
		if resp.StatusCode != want {
			t.Errorf("hosts [cc.example.com 10.1.2.3:8443], Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestAttackLoginGuessing: password guessing against one agent id, and against many ids from
// one source, is stopped with 429 and Retry-After before any hashing; the limits hold for
// unknown ids as for known ones (no enumeration), a spoofed X-Forwarded-For from an untrusted
// peer changes nothing, a trusted proxy's does; the window passing lifts them.
func TestAttackLoginGuessing(t *testing.T) {
	clk := newFakeClock()
	h := startSetup(t, setup{clock: clk.Now, config: func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.9"} }})
	want := func(what string, resp *http.Response, code int, retry string) {
		t.Helper()
		if resp.StatusCode != code || resp.Header.Get("Retry-After") != retry {
			t.Errorf("%s: %d Retry-After %q, want %d %q", what, resp.StatusCode, resp.Header.Get("Retry-After"), code, retry)
		}
	}
	// Five wrong passwords for alice from 127.0.0.2: then even her right one is refused, from
	// any source, for the rest of the 10-minute window.
	a := from(t, h.URL, "127.0.0.2")
	for i := range 5 {
		want(fmt.Sprintf("guess %d", i+1), a.login("alice", fmt.Sprintf("guess%d", i)), 401, "")
	}
	clk.Add(time.Minute)
	want("alice, right password, after 5 failures", a.login("alice", "alice-pw"), 429, "540")
	want("alice from another source", from(t, h.URL, "127.0.0.3").login("alice", "alice-pw"), 429, "540")
	// The same for an id that does not exist: its answers do not tell it apart.
	m := from(t, h.URL, "127.0.0.5")
	for i := range 5 {
		want(fmt.Sprintf("mallory guess %d", i+1), m.login("mallory", fmt.Sprintf("guess%d", i)), 401, "")
	}
	want("mallory after 5 failures", m.login("mallory", "x"), 429, "600")
	// Source 127.0.0.2 has 5 failures of its 10: bob still logs in from it.
	want("bob from the same source", a.login("bob", "bob-pw"), 200, "")

	// Ten failures from one source against ten ids: the source is stopped, whatever it
	// claims in X-Forwarded-For (its peer is no trusted proxy).
	s := from(t, h.URL, "127.0.0.4")
	for i := range 10 {
		want(fmt.Sprintf("spray %d", i+1), s.login(fmt.Sprintf("u%d", i), "123456"), 401, "")
	}
	want("the source, bob's right password", s.login("bob", "bob-pw"), 429, "600")
	want("the source spoofing X-Forwarded-For", s.login("bob", "bob-pw", "X-Forwarded-For", "198.51.100.7"), 429, "600")
	// Behind the trusted proxy 127.0.0.9, each client counts on its own.
	p := from(t, h.URL, "127.0.0.9")
	want("a client behind the proxy", p.login("bob", "bob-pw", "X-Forwarded-For", "198.51.100.8"), 200, "")
	want("the blocked source behind the proxy", p.login("bob", "bob-pw", "X-Forwarded-For", "127.0.0.4"), 429, "600")

	if n := metric(t, h, `ccswitch_web_refused_total{reason="login_agent"}`); n != 3 {
		t.Errorf("refused{login_agent} = %v, want 3", n)
	}
	if n := metric(t, h, `ccswitch_web_refused_total{reason="login_source"}`); n != 3 {
		t.Errorf("refused{login_source} = %v, want 3", n)
	}
	// Refused attempts cost no hashing: 5+5+10 failures and 2 logins were checked.
	if n := metric(t, h, `ccswitch_web_logins_total{result="failed"}`) + metric(t, h, `ccswitch_web_logins_total{result="ok"}`); n != 22 {
		t.Errorf("password checks = %v, want 22", n)
	}
	clk.Add(10 * time.Minute)
	want("alice after the window", a.login("alice", "alice-pw"), 200, "")
	want("the source after the window", s.login("bob", "bob-pw"), 200, "")
}

// TestAttackLoginTimingOracle: an unknown agent id is checked against a hash of the same
// bcrypt cost as the agents' (on main it was the minimum cost: 1 ms against 65 ms).
func TestAttackLoginTimingOracle(t *testing.T) {
	const cost = 7
	h := startSetup(t, setup{config: func(c *config.Config) {
		for i := range c.Agents {
			hash, _ := bcrypt.GenerateFromPassword([]byte(c.Agents[i].Password), cost)
			c.Agents[i].PasswordHash = string(hash)
		}
	}})
	c := newClient(t, h.URL)
	var took [2]time.Duration
	for i, agent := range []string{"nobody-by-that-name", "alice"} {
		t0 := time.Now()
		if resp := c.login(agent, "wrong"); resp.StatusCode != 401 {
			t.Fatalf("%s: %d", agent, resp.StatusCode)
		}
		took[i] = time.Since(t0)
	}
	t.Logf("unknown id %v, known id %v", took[0], took[1]) // figures only; the check is the cost
	if n := metric(t, h, fmt.Sprintf(`ccswitch_web_login_hashes_total{cost="%d"}`, cost)); n != 2 {
		t.Errorf("hashes at cost %d = %v, want 2 (the unknown id's and alice's)", cost, n)
	}
	if n := metric(t, h, `ccswitch_web_login_hashes_total{cost="4"}`); n != 0 {
		t.Errorf("hashes at the minimum cost = %v, want 0", n)
	}
}

// TestAttackLoginHashFlood: many logins at once cannot queue unbounded bcrypt work in the
// process that relays RTP: with one check at a time, those that cannot get one within a
// second are answered 503 with Retry-After.
func TestAttackLoginHashFlood(t *testing.T) {
	h := startSetup(t, setup{config: func(c *config.Config) {
		c.HTTP.Login = config.LoginLimits{MaxHashing: 1, AgentFailures: 1000, SourceFailures: 1000}
		for i := range c.Agents {
			hash, _ := bcrypt.GenerateFromPassword([]byte(c.Agents[i].Password), 12)
			c.Agents[i].PasswordHash = string(hash)
		}
	}})
	const n = 24
	var wg sync.WaitGroup
	var busy, denied atomic.Int32
	c := newClient(t, h.URL)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := c.login(fmt.Sprintf("u%d", i), "guess")
			switch {
			case resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "1":
				busy.Add(1)
			case resp.StatusCode == 401:
				denied.Add(1)
			default:
				t.Errorf("login %d: %d %q", i, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}()
	}
	wg.Wait()
	t.Logf("%d logins at once at cost 12, one check at a time: %d checked, %d refused busy", n, denied.Load(), busy.Load())
	if busy.Load() == 0 || denied.Load() == 0 {
		t.Errorf("busy %d, checked %d: want both", busy.Load(), denied.Load())
	}
	if got := metric(t, h, `ccswitch_web_refused_total{reason="login_busy"}`); got != float64(busy.Load()) {
		t.Errorf("refused{login_busy} = %v, want %d", got, busy.Load())
	}
}

// closedWithin reports whether the server closes conn before the bound.
func closedWithin(conn net.Conn, bound time.Duration) error {
	conn.SetReadDeadline(time.Now().Add(bound))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open after %v", bound)
	}
	return nil
}

// TestAttackSlowClients: connections that hold the server without finishing (slow header,
// slow body, idle keep-alive) are closed by the configured timeouts; an oversize header block
// gets 431; WebSockets are not cut by the read and write timeouts.
func TestAttackSlowClients(t *testing.T) {
	h := startSetup(t, setup{config: func(c *config.Config) {
		c.HTTP.Timeouts = config.HTTPTimeouts{ReadHeader: config.Duration(time.Second), Read: config.Duration(2 * time.Second),
			Write: config.Duration(2 * time.Second), Idle: config.Duration(time.Second)}
		c.HTTP.MaxHeaderBytes = 8192
	}})
	addr := hostOf(h)
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	// The bounds are 5 times the timeouts: what fails is a connection left open.
	slowHeader := dial()
	io.WriteString(slowHeader, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
	if err := closedWithin(slowHeader, 5*time.Second); err != nil {
		t.Errorf("slow header: %v", err)
	}
	slowBody := dial()
	io.WriteString(slowBody, "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"agent\":")
	if err := closedWithin(slowBody, 10*time.Second); err != nil {
		t.Errorf("slow body: %v", err)
	}
	idle := dial()
	io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := br.ReadByte(); err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("idle keep-alive connection: %v, want closed", err)
	}
	resp, _ = raw(t, addr, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: %d, want 431", resp.StatusCode)
	}

	// The agent's socket outlives the 2 s read and write timeouts.
	alice := newClient(t, h.URL)
	if code := alice.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/ws", &websocket.DialOptions{HTTPClient: alice.c})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	time.Sleep(3 * time.Second) // past the server's read and write deadlines: a real socket's clock
	if code := alice.do("POST", "/api/state", map[string]any{"ready": true}, nil); code != 202 {
		t.Fatalf("ready: %d", code)
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("agent socket after the timeouts: %v", err)
		}
		if strings.Contains(string(b), `"state"`) {
			break
		}
	}
}

// signedWhatsApp is a WhatsApp notification with its signature.
func signedWhatsApp(id, from, text string) ([]byte, string) {
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "WABA",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"messaging_product": "whatsapp",
			"metadata": map[string]any{"display_phone_number": "15550001111", "phone_number_id": "PN1"},
			"contacts": []any{map[string]any{"profile": map[string]any{"name": "Burst"}, "wa_id": from}},
			"messages": []any{map[string]any{"from": from, "id": id, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "type": "text", "text": map[string]any{"body": text}}}}}}}}})
	mac := hmac.New(sha256.New, []byte(waSecret))
	mac.Write(body)
	return body, "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (c *client) webhook(body []byte, sig string, hdr ...string) *http.Response {
	req, _ := http.NewRequest("POST", c.base+"/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", sig)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Error(err)
		return &http.Response{}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// TestAttackWebhookBadSignatures: a source posting forged webhooks is refused (429) once it
// used its bad-signature allowance, before its body is read, whatever X-Forwarded-For it
// claims; the provider's signed burst of hundreds per second from another source all pass.
func TestAttackWebhookBadSignatures(t *testing.T) {
	h := startSetup(t, setup{config: func(c *config.Config) {
		c.HTTP.WebhookFailures = config.RateLimit{Rate: 0.01, Burst: 5} // no refill within the test
	}})
	forger := from(t, h.URL, "127.0.0.2")
	body, _ := signedWhatsApp("wamid.forged", "33600000009", "forged")
	for i := range 5 {
		if resp := forger.webhook(body, "sha256="+strings.Repeat("0", 64)); resp.StatusCode != 401 {
			t.Errorf("forged %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for i, hdr := range [][]string{nil, {"X-Forwarded-For", "198.51.100.7"}, nil} {
		resp := forger.webhook(body, "sha256="+strings.Repeat("1", 64), hdr...)
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("forged after the allowance %d: %d Retry-After %q, want 429", i+1, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if n := metric(t, h, `ccswitch_web_refused_total{reason="webhook_signature"}`); n != 3 {
		t.Errorf("refused{webhook_signature} = %v, want 3", n)
	}

	// The provider: 300 signed notifications from 127.0.0.3 as fast as 16 connections go.
	provider := from(t, h.URL, "127.0.0.3")
	provider.c.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	const n = 300
	var next, bad atomic.Int32
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				body, sig := signedWhatsApp(fmt.Sprintf("wamid.burst%d", i), "33600000001", fmt.Sprintf("burst %d", i))
				if resp := provider.webhook(body, sig); resp.StatusCode != 200 {
					bad.Add(1)
					t.Errorf("signed %d: %d", i, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	t.Logf("%d signed webhooks in %v (%.0f/s), %d refused", n, el.Round(time.Millisecond), n/el.Seconds(), bad.Load())
	// The forger's allowance is its own: the provider's source still gets 401 for a bad one.
	if resp := provider.webhook(body, "sha256="+strings.Repeat("2", 64)); resp.StatusCode != 401 {
		t.Errorf("provider's first bad signature: %d, want 401", resp.StatusCode)
	}
}

// TestRolesAgentAndSupervisor: an agent reads only their own conversations and those
// conversations' customers, cannot search other customers, link, unlink, read the audit or the
// wallboard's per-agent detail; a supervisor does all of it, and links and unlinks leave an
// audit record (who, what, when) in the store.
func TestRolesAgentAndSupervisor(t *testing.T) {
	h := start(t) // alice is a supervisor, bob an agent
	alice, bob := newClient(t, h.URL), newClient(t, h.URL)
	for c, who := range map[*client]string{alice: "alice", bob: "bob"} {
		if code := c.do("POST", "/api/login", map[string]string{"agent": who, "password": who + "-pw"}, nil); code != 200 {
			t.Fatalf("login %s: %d", who, code)
		}
	}
	take := func(c *client, who, id, from, name string) store.Conversation {
		t.Helper()
		c.do("POST", "/api/state", map[string]any{"ready": true}, nil)
		h.whatsapp(t, id, from, name, "hello from "+name)
		var offers struct{ Offers []struct{ Conv string } }
		chantest.Eventually(t, "offer to "+who, func() bool {
			c.do("GET", "/api/me", nil, &offers)
			return len(offers.Offers) == 1
		})
		if code := c.do("POST", "/api/offers/"+offers.Offers[0].Conv+"/accept", map[string]any{}, nil); code != 202 {
			t.Fatalf("%s accept: %d", who, code)
		}
		conv := chantest.WaitState(t, h.Store, offers.Offers[0].Conv, store.ConvAssigned, who)
		c.do("POST", "/api/state", map[string]any{"ready": false, "reason": "Break"}, nil)
		return conv
	}
	ann := take(bob, "bob", "wamid.r1", "33600000001", "Ann")
	ben := take(alice, "alice", "wamid.r2", "33600000002", "Ben")

	var me struct{ Role string }
	bob.do("GET", "/api/me", nil, &me)
	if me.Role != "agent" {
		t.Errorf("bob's role = %q", me.Role)
	}
	var found []store.Customer
	for _, st := range []struct {
		who         *client
		name        string
		method, url string
		body        any
		want        int
	}{
		{bob, "bob reads his conversation", "GET", "/api/conversations/" + ann.ID, nil, 200},
		{bob, "bob reads alice's conversation", "GET", "/api/conversations/" + ben.ID, nil, 403},
		{bob, "bob reads his customer", "GET", "/api/customers/" + ann.Customer + "/timeline", nil, 200},
		{bob, "bob reads alice's customer", "GET", "/api/customers/" + ben.Customer + "/timeline", nil, 403},
		{bob, "bob reads a customer that does not exist", "GET", "/api/customers/cust_nope/timeline", nil, 403},
		{bob, "bob replies in alice's conversation", "POST", "/api/conversations/" + ben.ID + "/reply", map[string]string{"text": "hijack"}, 403},
		{bob, "bob closes alice's conversation", "POST", "/api/conversations/" + ben.ID + "/close", map[string]string{"wrapup": "x"}, 403},
		{bob, "bob links", "POST", "/api/customers/" + ann.Customer + "/link", map[string]string{"other": ben.Customer}, 403},
		{bob, "bob unlinks", "POST", "/api/customers/" + ann.Customer + "/unlink", map[string]string{"other": ben.Customer}, 403},
		{bob, "bob reads the audit", "GET", "/api/audit", nil, 403},
		{alice, "alice reads bob's conversation", "GET", "/api/conversations/" + ann.ID, nil, 200},
		{alice, "alice reads bob's customer", "GET", "/api/customers/" + ann.Customer + "/timeline", nil, 200},
	} {
		if code := st.who.do(st.method, st.url, st.body, nil); code != st.want {
			t.Errorf("%s: %d, want %d", st.name, code, st.want)
		}
	}
	for q, want := range map[string]int{"": 1, "Ben": 0, "3360000000": 1, "Ann": 1} {
		found = nil
		bob.do("GET", "/api/customers?q="+q, nil, &found)
		if len(found) != want || (want == 1 && found[0].ID != ann.Customer) {
			t.Errorf("bob searching %q: %+v, want his own customer only", q, found)
		}
	}
	found = nil
	alice.do("GET", "/api/customers?q=3360000000", nil, &found)
	if len(found) != 2 {
		t.Errorf("alice searching: %d customers, want 2", len(found))
	}
	var stats struct{ Agents []struct{ ID string } }
	bob.do("GET", "/api/stats", nil, &stats)
	if len(stats.Agents) != 0 {
		t.Errorf("bob's wallboard shows agents: %+v", stats.Agents)
	}
	alice.do("GET", "/api/stats", nil, &stats)
	if len(stats.Agents) != 2 {
		t.Errorf("alice's wallboard: %+v", stats.Agents)
	}

	// alice links Ben into Ann and unlinks him again; both leave a record.
	if code := alice.do("POST", "/api/customers/"+ann.Customer+"/link", map[string]string{"other": ben.Customer}, nil); code != 200 {
		t.Fatalf("link: %d", code)
	}
	a, _, _ := h.Store.Customer(ann.Customer)
	b, _, _ := h.Store.Customer(ben.Customer)
	if a.ID != b.ID {
		t.Fatalf("after link: %s and %s", a.ID, b.ID)
	}
	surv, other := a.ID, ben.Customer
	if surv == ben.Customer {
		other = ann.Customer
	}
	if code := alice.do("POST", "/api/customers/"+surv+"/unlink", map[string]string{"other": "cust_nope"}, nil); code != 404 {
		t.Errorf("unlink of a customer not linked: %d, want 404", code)
	}
	if code := alice.do("POST", "/api/customers/"+surv+"/unlink", map[string]string{"other": other}, nil); code != 200 {
		t.Fatalf("unlink: %d", code)
	}
	a, _, _ = h.Store.Customer(ann.Customer)
	b, _, _ = h.Store.Customer(ben.Customer)
	shared := false
	for _, id := range a.Identities {
		shared = shared || slices.Contains(b.Identities, id)
	}
	if a.ID == b.ID || len(a.Identities) == 0 || len(b.Identities) == 0 || shared {
		t.Errorf("after unlink: %+v and %+v", a, b)
	}
	if cid, _, _ := h.Store.CustomerByIdentity(b.Identities[0]); cid != ben.Customer {
		t.Errorf("Ben's number points at %s, want %s", cid, ben.Customer)
	}
	var tl struct{ Conversations []store.Conversation }
	alice.do("GET", "/api/customers/"+ben.Customer+"/timeline", nil, &tl)
	if len(tl.Conversations) != 1 || tl.Conversations[0].ID != ben.ID {
		t.Errorf("Ben's timeline after unlink: %+v", tl.Conversations)
	}
	var audit []store.Audit
	if code := alice.do("GET", "/api/audit", nil, &audit); code != 200 || len(audit) != 2 {
		t.Fatalf("audit: %d %+v", code, audit)
	}
	if u, l := audit[0], audit[1]; u.Action != "unlink" || u.Agent != "alice" || u.Customer != surv || u.Other != other || u.Time.IsZero() ||
		l.Action != "link" || l.Agent != "alice" || l.Customer != surv || l.Other != other {
		t.Errorf("audit = %+v", audit)
	}
}

// TestSessionsEnd: a session ends after http.session_idle without use, when its agent is
// removed by a reload, and when their password changes; their sockets close with it.
func TestSessionsEnd(t *testing.T) {
	clk := newFakeClock()
	h := startSetup(t, setup{clock: clk.Now, config: func(c *config.Config) { c.HTTP.SessionIdle = config.Duration(10 * time.Minute) }})
	alice := newClient(t, h.URL)
	login := func(c *client, who, pw string) {
		t.Helper()
		if code := c.do("POST", "/api/login", map[string]string{"agent": who, "password": pw}, nil); code != 200 {
			t.Fatalf("login %s: %d", who, code)
		}
	}
	login(alice, "alice", "alice-pw")
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{5 * time.Minute, 200}, {9 * time.Minute, 200}, {10*time.Minute + time.Second, 401}} {
		clk.Add(step.advance)
		if code := alice.do("GET", "/api/me", nil, nil); code != step.want {
			t.Errorf("after %v more: %d, want %d", step.advance, code, step.want)
		}
	}

	socket := func(c *client) *websocket.Conn {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, strings.Replace(h.URL, "http", "ws", 1)+"/api/ws", &websocket.DialOptions{HTTPClient: c.c})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	closed := func(what string, ws *websocket.Conn) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a bound
		defer cancel()
		for {
			_, _, err := ws.Read(ctx)
			if err == nil {
				continue
			}
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Errorf("%s: socket ended with %v, want closed for policy", what, err)
			}
			return
		}
	}
	bob := newClient(t, h.URL)
	login(bob, "bob", "bob-pw")
	login(alice, "alice", "alice-pw")
	bobWS, aliceWS := socket(bob), socket(alice)

	reload := func(edit func(*config.Config)) {
		t.Helper()
		cfg := chantest.Config()
		for i := range cfg.Agents { // the hashes the server runs with: a new salt is a new password
			cfg.Agents[i].PasswordHash = h.Config.Agents[i].PasswordHash
		}
		cfg.Agents[0].Role = "supervisor"
		cfg.HTTP.SessionIdle = config.Duration(10 * time.Minute)
		edit(cfg)
		cfg.ApplyDefaults()
		if err := h.Center.Reload(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		if err := h.Server.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	// bob's password changes: his session ends, alice's does not.
	reload(func(c *config.Config) {
		c.Agents[1].Password = "bob-new-pw"
		hash, _ := bcrypt.GenerateFromPassword([]byte("bob-new-pw"), bcrypt.MinCost)
		c.Agents[1].PasswordHash = string(hash)
	})
	closed("bob's socket after his password changed", bobWS)
	if code := bob.do("GET", "/api/me", nil, nil); code != 401 {
		t.Errorf("bob after his password changed: %d", code)
	}
	if code := alice.do("GET", "/api/me", nil, nil); code != 200 {
		t.Errorf("alice after bob's password changed: %d", code)
	}
	// alice is removed.
	reload(func(c *config.Config) { c.Agents = c.Agents[1:] })
	closed("alice's socket after she was removed", aliceWS)
	if code := alice.do("GET", "/api/me", nil, nil); code != 401 {
		t.Errorf("alice after removal: %d", code)
	}
	for reason, want := range map[string]float64{"idle": 1, "password_changed": 1, "agent_removed": 1} {
		if n := metric(t, h, `ccswitch_web_sessions_ended_total{reason="`+reason+`"}`); n != want {
			t.Errorf("sessions ended{%s} = %v, want %v", reason, n, want)
		}
	}
}

// TestAttackHeadersAndCookies: every response (pages, API, errors, metrics, webhooks,
// refusals) has nosniff, a CSP with frame-ancestors 'none' and X-Frame-Options; /assets/ lists
// nothing; the session cookie is Secure and __Host- behind TLS (public_url https, or a trusted
// proxy's X-Forwarded-Proto), and a spoofed X-Forwarded-Proto from anyone else changes nothing.
func TestAttackHeadersAndCookies(t *testing.T) {
	h := startSetup(t, setup{config: func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.9"} }})
	addr := hostOf(h)
	for _, req := range []string{"GET / HTTP/1.1", "GET /wallboard HTTP/1.1", "GET /metrics HTTP/1.1", "GET /healthz HTTP/1.1",
		"GET /api/me HTTP/1.1", "GET /nope HTTP/1.1", "GET /assets/app.js HTTP/1.1", "GET /assets/ HTTP/1.1",
		"GET /widget.js HTTP/1.1", "GET /chat/ HTTP/1.1", "POST /webhooks/whatsapp HTTP/1.1", "DELETE /api/login HTTP/1.1"} {
		for _, host := range []string{addr, "rebind.attacker.example"} {
			resp, _ := raw(t, addr, req+"\r\nHost: "+host+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			hd := resp.Header
			if hd.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(hd.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
				!strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'self'") || hd.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s (Host %s): %d, headers %v", req, host, resp.StatusCode, hd)
			}
		}
	}
	for _, p := range []string{"/assets/", "/assets", "/assets/./", "/assets//"} {
		resp, body := raw(t, addr, "GET "+p+" HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
		if resp.StatusCode == 200 || strings.Contains(body, "app.js") {
			t.Errorf("GET %s: %d %.100q, want no listing", p, resp.StatusCode, body)
		}
	}

	cookieOf := func(resp *http.Response) *http.Cookie {
		cs := resp.Cookies()
		if len(cs) != 1 {
			t.Fatalf("cookies %v", cs)
		}
		return cs[0]
	}
	// Plain http on loopback: no Secure (the browser would drop it), even if an untrusted
	// peer claims https.
	for _, hdr := range [][]string{nil, {"X-Forwarded-Proto", "https"}} {
		c := cookieOf(from(t, h.URL, "127.0.0.2").login("alice", "alice-pw", hdr...))
		if c.Secure || c.Name != "ccswitch_session" {
			t.Errorf("plain http %v: cookie %s Secure=%v", hdr, c.Name, c.Secure)
		}
	}
	// The trusted proxy says the browser came over https.
	proxy := from(t, h.URL, "127.0.0.9")
	c := cookieOf(proxy.login("alice", "alice-pw", "X-Forwarded-Proto", "https"))
	if !c.Secure || c.Name != "__Host-ccswitch_session" || c.Path != "/" || c.Domain != "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("behind the TLS proxy: %+v", c)
	}
	// A cookie planted under the plain name (by a plain-http page of a sibling) is not a
	// session on the https side; the __Host- one is.
	me := func(name, proto string) int {
		req, _ := http.NewRequest("GET", h.URL+"/api/me", nil)
		req.Header.Set("X-Forwarded-Proto", proto)
		req.AddCookie(&http.Cookie{Name: name, Value: c.Value})
		resp, err := proxy.c.Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := me("ccswitch_session", "https"); code != 401 {
		t.Errorf("plain-name cookie over https: %d, want 401", code)
	}
	if code := me("__Host-ccswitch_session", "https"); code != 200 {
		t.Errorf("__Host- cookie over https: %d, want 200", code)
	}

	// public_url https: Secure and __Host- for everyone.
	h2 := startSetup(t, setup{config: func(c *config.Config) { c.HTTP.PublicURL = "https://cc.example.com" }})
	c = cookieOf(newClient(t, h2.URL).login("alice", "alice-pw"))
	if !c.Secure || c.Name != "__Host-ccswitch_session" {
		t.Errorf("public_url https: cookie %s Secure=%v", c.Name, c.Secure)
	}
	if resp, _ := raw(t, hostOf(h2), "GET /healthz HTTP/1.1\r\nHost: cc.example.com\r\nConnection: close\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("public_url's host: %d, want 200", resp.StatusCode)
	}
}
