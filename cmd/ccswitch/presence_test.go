package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/store"
)

// demo is the running demo configuration on free loopback ports, wired as the binary wires it.
type demo struct {
	t        *testing.T
	p        *process
	sipAddr  string
	httpBase string
	dir      string
}

func startDemo(t *testing.T, edits ...func(yaml string) string) *demo {
	t.Helper()
	d := &demo{t: t, dir: t.TempDir()}
	y, sipPort, httpPort, _ := demoOnFreePorts(t) // SIP, TLS, HTTP and RTP moved
	for _, edit := range edits {
		y = edit(y)
	}
	cfg, err := config.Parse("demo.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(d.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("CCSWITCH_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if d.p, err = newProcess(cfg, st, filepath.Join(d.dir, "data"), log); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.p.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		st.Close()
	})
	select {
	case <-d.p.sip.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("sip not ready")
	}
	d.sipAddr = fmt.Sprintf("127.0.0.1:%d", sipPort)
	d.httpBase = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	waitFor(t, "http up", func() bool {
		r, err := http.Get(d.httpBase + "/healthz")
		if err == nil {
			r.Body.Close()
		}
		return err == nil
	})
	return d
}

// sipp runs SIPp on testdata/scenario to the demo and waits for it to complete.
func (d *demo) sipp(scenario string, args ...string) {
	d.t.Helper()
	d.sippFrom(testenv.FreePort(d.t), scenario, args...)
}

// sippFrom is sipp sending from local port port.
func (d *demo) sippFrom(port int, scenario string, args ...string) {
	d.t.Helper()
	bin := testenv.Tool(d.t, "sipp")
	args = append([]string{"-sf", filepath.Join("testdata", scenario), "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-m", "1", "-nostdin", "-timeout", "30s", "-timeout_error"}, append(args, d.sipAddr)...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		d.t.Fatalf("sipp %s %v: %v\n%s", scenario, args, err, out)
	}
}

// register binds extension ext's contact on port cport for exp seconds (0 removes it),
// sending from that port as a phone does (a contact is reached through the address it
// registered from).
func (d *demo) register(ext string, cport, exp int) {
	d.t.Helper()
	d.sippFrom(cport, "register.xml", "-key", "user", ext, "-key", "cport", fmt.Sprint(cport), "-key", "exp", fmt.Sprint(exp),
		"-au", ext, "-ap", "secret"+ext)
}

// feature dials a feature code from ext's phone.
func (d *demo) feature(ext, code string) {
	d.t.Helper()
	d.sipp("feature.xml", "-key", "user", ext, "-au", ext, "-ap", "secret"+ext, "-auth_uri", code+"@"+d.sipAddr, "-s", code, "-mi", "127.0.0.1",
		"-mp", fmt.Sprint(testenv.FreePort(d.t)))
}

// desktop is one browser session of the agent desktop.
type desktop struct {
	d *demo
	c *http.Client
}

func (d *demo) desktop() *desktop {
	jar, _ := cookiejar.New(nil)
	return &desktop{d: d, c: &http.Client{Jar: jar}}
}

func (s *desktop) do(method, path string, body, out any) {
	s.d.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.d.httpBase+path, r)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.c.Do(req)
	if err != nil {
		s.d.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		b, _ := io.ReadAll(res.Body)
		s.d.t.Fatalf("%s %s: %s %s", method, path, res.Status, b)
	}
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
}

// state is what the wallboard shows of agent (GET /api/stats, agents[].State), once the
// center and the engine took everything submitted before.
func (d *demo) state(s *desktop, agent string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.p.center.Sync(ctx); err != nil {
		d.t.Fatal(err)
	}
	var stats struct {
		Agents []struct {
			ID, State   string
			Voice, Text bool
		}
	}
	s.do("GET", "/api/stats", nil, &stats)
	for _, a := range stats.Agents {
		if a.ID == agent {
			return fmt.Sprintf("%s voice=%v text=%v", a.State, a.Voice, a.Text)
		}
	}
	d.t.Fatalf("no agent %s in /api/stats", agent)
	return ""
}

func (d *demo) want(s *desktop, agent, want, why string) {
	d.t.Helper()
	if got := d.state(s, agent); got != want {
		d.t.Fatalf("%s: %s is %q, want %q", why, agent, got, want)
	}
}

// TestPresencePhoneAndDesktop is the case and its variants, with real registrations
// (SIPp) and real desktop sessions (the HTTP API the desktop uses): an agent is logged in for
// voice while their phone is registered (auto_login) and for text while a desktop is open;
// logging in to the desktop and out again leaves the phone's agent available; *44 logs out of
// voice and holds against a new registration until *45; an unregistered phone leaves the
// desktop's agent signed in for text.
func TestPresencePhoneAndDesktop(t *testing.T) {
	testenv.Tool(t, "sipp")
	d := startDemo(t)
	wall := d.desktop() // the wallboard's session: agent 1002, a supervisor (the per-agent detail is theirs)
	wall.do("POST", "/api/login", map[string]string{"agent": "1002", "password": "secret1002"}, nil)

	phone := testenv.FreePort(t)
	d.register("1001", phone, 3600)
	d.want(wall, "1001", "available voice=true text=false", "phone registered (auto_login)")

	desk := d.desktop()
	desk.do("POST", "/api/login", map[string]string{"agent": "1001", "password": "secret1001"}, nil)
	d.want(wall, "1001", "available voice=true text=true", "desktop logged in while the phone is registered")
	desk.do("POST", "/api/logout", map[string]any{}, nil)
	d.want(wall, "1001", "available voice=true text=false", "desktop logged out: the phone is still registered")

	// Two desktops: closing one keeps text; not ready is one state, whoever sets it.
	desk = d.desktop()
	desk.do("POST", "/api/login", map[string]string{"agent": "1001", "password": "secret1001"}, nil)
	second := d.desktop()
	second.do("POST", "/api/login", map[string]string{"agent": "1001", "password": "secret1001"}, nil)
	second.do("POST", "/api/state", map[string]any{"ready": false, "reason": "Lunch"}, nil)
	second.do("POST", "/api/logout", map[string]any{}, nil)
	d.want(wall, "1001", "not-ready voice=true text=true", "one of two desktops logged out, not ready for lunch")
	d.feature("1001", "*45")
	d.want(wall, "1001", "available voice=true text=true", "*45 after the desktop's not ready")

	// *44: out of voice, and a new registration does not bring the agent back.
	d.feature("1001", "*44")
	d.want(wall, "1001", "available voice=false text=true", "*44")
	other := testenv.FreePort(t)
	d.register("1001", other, 3600)
	d.want(wall, "1001", "available voice=false text=true", "a second phone registers after *44")
	var me struct {
		Presence struct {
			Voice          bool `json:"voice"`
			Devices        int  `json:"devices"`
			VoiceLoggedOut bool `json:"voice_logged_out"`
		}
	}
	desk.do("GET", "/api/me", nil, &me)
	if me.Presence.Voice || me.Presence.Devices != 2 || !me.Presence.VoiceLoggedOut {
		t.Fatalf("/api/me presence after *44 and a second phone: %+v", me.Presence)
	}
	d.feature("1001", "*45")
	d.want(wall, "1001", "available voice=true text=true", "*45 logs in to voice again")

	// The phones unregister: signed in for text only; the desktop logs out: offline.
	d.register("1001", phone, 0)
	d.register("1001", other, 0)
	d.want(wall, "1001", "available voice=false text=true", "phones unregistered, desktop open")
	desk.do("POST", "/api/logout", map[string]any{}, nil)
	d.want(wall, "1001", "offline voice=false text=false", "nothing left")

	// The desktop's own voice switch.
	d.register("1001", phone, 3600)
	d.want(wall, "1001", "available voice=true text=false", "registered again, auto_login")
	desk = d.desktop()
	desk.do("POST", "/api/login", map[string]string{"agent": "1001", "password": "secret1001"}, nil)
	desk.do("POST", "/api/voice", map[string]any{"login": false}, nil)
	d.want(wall, "1001", "available voice=false text=true", "the desktop's log out of voice")
	desk.do("POST", "/api/voice", map[string]any{"login": true}, nil)
	d.want(wall, "1001", "available voice=true text=true", "the desktop's log in to voice")
}
