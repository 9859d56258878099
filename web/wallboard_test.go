package web_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

// fakeMonitoring stands for sip/voice's App: one live call of agent bob, and a role check
// like the App's (alice is the supervisor).
type fakeMonitoring struct {
	mu    sync.Mutex
	asked []string
}

type refusal int

func (r refusal) Error() string { return "refused" }
func (r refusal) Status() int   { return int(r) }

func (f *fakeMonitoring) LiveCalls() []web.LiveCall {
	return []web.LiveCall{{CallID: "c1", Agent: "bob", Caller: "+15551230000", DID: "+15550103", Since: time.Now().Add(-time.Minute)}}
}

func (f *fakeMonitoring) Monitor(_ context.Context, supervisor, agent, mode string) error {
	f.mu.Lock()
	f.asked = append(f.asked, supervisor+" "+agent+" "+mode)
	f.mu.Unlock()
	switch {
	case supervisor != "alice":
		return refusal(403)
	case agent != "bob":
		return refusal(480)
	case mode == "spy":
		return refusal(400)
	case mode == "unanswered":
		return errors.New("sip: dial: no-answer (480)")
	}
	return nil
}

// wallboardServer boots the web server on a real center with chantest's model (alice a
// supervisor) and a fakeMonitoring; it returns the base URL, the handler and the fake.
func wallboardServer(t *testing.T) (string, http.Handler, *fakeMonitoring) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := chantest.Config()
	cfg.Agents[0].Role = "supervisor" // alice
	reg := prometheus.NewRegistry()
	cc, err := center.New(cfg, center.Options{Store: st, Registerer: reg, SnapshotEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mon := &fakeMonitoring{}
	srv, err := web.New(web.Options{Config: cfg, Store: st, Center: cc, Registerer: reg, Monitoring: mon})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cctx, stopCenter := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { cc.Run(cctx); done <- struct{}{} }()
	go func() { srv.Serve(ctx, ln); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; stopCenter(); <-done; st.Close() })

	return "http://" + ln.Addr().String(), srv.Handler(), mon
}

// TestWallboardAPI: every logged-in agent gets the queues' trends with the thresholds;
// only a supervisor gets the live calls; POST /api/monitor passes the logged-in agent (not
// a field of the request) to the voice side and maps its refusals to HTTP statuses.
func TestWallboardAPI(t *testing.T) {
	base, _, mon := wallboardServer(t)
	type board struct {
		Target     float64          `json:"service_level_target"`
		Alert      int              `json:"waiting_alert"`
		Queues     []web.QueueTrend `json:"queues"`
		Supervisor bool             `json:"supervisor"`
		Live       []web.LiveCall   `json:"live"`
	}
	anon := newClient(t, base)
	if code := anon.do("GET", "/api/wallboard", nil, nil); code != 401 {
		t.Fatalf("wallboard without login: %d", code)
	}
	for _, tc := range []struct {
		agent, password string
		supervisor      bool
	}{{"alice", "alice-pw", true}, {"bob", "bob-pw", false}} {
		c := newClient(t, base)
		if code := c.do("POST", "/api/login", map[string]string{"agent": tc.agent, "password": tc.password}, nil); code != 200 {
			t.Fatalf("login %s: %d", tc.agent, code)
		}
		var b board
		if code := c.do("GET", "/api/wallboard", nil, &b); code != 200 {
			t.Fatalf("%s: wallboard %d", tc.agent, code)
		}
		if b.Target != 0.8 || b.Alert != 5 || len(b.Queues) != 2 || b.Queues[0].Name != "support" || len(b.Queues[0].Points) == 0 ||
			b.Queues[0].ServiceLevel != 20 {
			t.Errorf("%s: board %+v", tc.agent, b)
		}
		if b.Supervisor != tc.supervisor || (len(b.Live) == 1) != tc.supervisor {
			t.Errorf("%s: supervisor %v, live calls %+v", tc.agent, b.Supervisor, b.Live)
		}
	}

	alice, bob := newClient(t, base), newClient(t, base)
	alice.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil)
	bob.do("POST", "/api/login", map[string]string{"agent": "bob", "password": "bob-pw"}, nil)
	for _, tc := range []struct {
		c     *client
		body  map[string]string
		want  int
		asked string
	}{
		{alice, map[string]string{"agent": "bob", "mode": "whisper"}, 200, "alice bob whisper"},
		{bob, map[string]string{"agent": "bob", "mode": "listen", "supervisor": "alice"}, 403, "bob bob listen"},
		{alice, map[string]string{"agent": "carol", "mode": "listen"}, 409, "alice carol listen"},
		{alice, map[string]string{"agent": "bob", "mode": "spy"}, 400, "alice bob spy"},
		{alice, map[string]string{"agent": "bob", "mode": "unanswered"}, 502, "alice bob unanswered"},
	} {
		var out map[string]string
		if code := tc.c.do("POST", "/api/monitor", tc.body, &out); code != tc.want {
			t.Errorf("monitor %v: %d %v, want %d", tc.body, code, out, tc.want)
		}
		mon.mu.Lock()
		last := mon.asked[len(mon.asked)-1]
		mon.mu.Unlock()
		if last != tc.asked {
			t.Errorf("monitor %v: the voice side was asked %q, want %q", tc.body, last, tc.asked)
		}
	}
	if code := anon.do("POST", "/api/monitor", map[string]string{"agent": "bob", "mode": "listen"}, nil); code != 401 {
		t.Errorf("monitor without login: %d", code)
	}
}
