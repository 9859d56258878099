package web_test

import (
	"context"
	"errors"
	"github.com/ccswitch/ccswitch/internal/chrome"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

// fakeCalls records transfers; call "c1" is alice's, any other call is nobody's.
type fakeCalls struct {
	mu  sync.Mutex
	got [][3]string
}

func (f *fakeCalls) TransferCall(agent, callID, target string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if agent != "alice" || callID != "c1" {
		return errors.New("voice: no such call with this agent")
	}
	f.got = append(f.got, [3]string{agent, callID, target})
	return nil
}

// callsServer runs the web server with calls as its CallTransferer (the text side as
// cmd/ccswitch wires it, no channels) and returns its URL.
func callsServer(t *testing.T, calls web.CallTransferer) (string, *web.Server) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := chantest.Config()
	cfg.ApplyDefaults()
	reg := prometheus.NewRegistry()
	cc, err := center.New(cfg, center.Options{Store: st, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Options{Config: cfg, Store: st, Center: cc, Registerer: reg, Gatherer: reg, Calls: calls})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { cc.Run(ctx); done <- struct{}{} }()
	go func() { srv.Serve(ctx, ln); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done; st.Close() })
	return "http://" + ln.Addr().String(), srv
}

// TestTransferCallAPI: POST /api/calls/{call}/transfer (the desktop's Transfer button) needs a
// session, a target, and hands the agent, call and target to the voice side; a call that is
// not the agent's is 409 and the caller stays.
func TestTransferCallAPI(t *testing.T) {
	calls := &fakeCalls{}
	url, _ := callsServer(t, calls)
	c := newClient(t, url)
	if code := c.do("POST", "/api/calls/c1/transfer", map[string]string{"target": "1004"}, nil); code != 401 {
		t.Fatalf("without a session: %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("login failed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, tc := range []struct {
		call, target string
		want         int
	}{
		{"c1", "", 400},
		{"c1", "  ", 400},
		{"c2", "1004", 409}, // not alice's call
		{"c1", "+15551234", 200},
	} {
		if code := c.do("POST", "/api/calls/"+tc.call+"/transfer", map[string]string{"target": tc.target}, nil); code != tc.want {
			t.Errorf("call %q target %q: %d, want %d", tc.call, tc.target, code, tc.want)
		}
	}
	calls.mu.Lock()
	defer calls.mu.Unlock()
	if len(calls.got) != 1 || calls.got[0] != [3]string{"alice", "c1", "+15551234"} {
		t.Fatalf("transfers %v", calls.got)
	}
}

// TestDesktopTransferButton (Chromium): the screen pop of a call gains a Transfer field; typing
// an extension and pressing Transfer posts it for that call, and the pop says it is done.
func TestDesktopTransferButton(t *testing.T) {
	calls := &fakeCalls{}
	url, srv := callsServer(t, calls)
	agent := browser(t)
	run(t, agent, "agent logs in",
		chromedp.Navigate(url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "alice-pw"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#desktop-view`)),
	)
	// The desktop's WebSocket is up once it shows the presence it was sent.
	run(t, agent, "desktop connected", chrome.WaitJS(`document.querySelector('#presence').textContent.startsWith('not-ready')`))
	srv.Service().ScreenPop("alice", "c1", "+15550100")
	run(t, agent, "the screen pop has a Transfer field",
		chrome.WaitJS(`!document.querySelector('#screenpop').hidden && document.querySelector('#screenpop form.call-transfer') !== null`))
	run(t, agent, "agent transfers the call to 1004",
		chromedp.SendKeys(chromedp.CSS(`#screenpop form.call-transfer input`), "1004"),
		chromedp.Click(chromedp.CSS(`#screenpop form.call-transfer button`)),
		chrome.WaitJS(`document.querySelector('#screenpop .call-transfer-status').textContent === 'Transferred to 1004'`),
	)
	calls.mu.Lock()
	defer calls.mu.Unlock()
	if len(calls.got) != 1 || calls.got[0] != [3]string{"alice", "c1", "1004"} {
		t.Fatalf("transfers %v", calls.got)
	}
}
