package web_test

import (
	"context"
	"flag"
	"fmt"
	"github.com/ccswitch/ccswitch/internal/chrome"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

var updateScreenshot = flag.Bool("update-screenshot", os.Getenv("CCSWITCH_UPDATE_SCREENSHOT") == "1",
	"write the desktop screenshot to testdata/desktop.png")

// browser starts headless Chromium with a fresh profile and returns a context for its first tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	// A bound for the whole browser session, not a timing threshold.
	return chrome.Start(t, 150*time.Second, nil, chromedp.WindowSize(1400, 860))
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a bound per step, not a threshold
	defer cancel()
	t0 := time.Now()
	defer func() { t.Logf("%s: %v", what, time.Since(t0).Round(time.Millisecond)) }()
	if err := chromedp.Do(sctx, actions...); err != nil {
		dctx, cancelD := context.WithTimeout(ctx, 10*time.Second)
		defer cancelD()
		if png, err := chromedp.Run(dctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(os.TempDir(), "ccswitch-e2e-failure.png"), png, 0o644)
		}
		diag, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`location.href + ' | status: ' + (document.querySelector('#status')||{}).textContent + ' | presence: ' + (document.querySelector('#presence')||{}).textContent + ' | offers: ' + document.querySelectorAll('.offer').length + ' | convs: ' + document.querySelectorAll('.conv-tab').length + ' | login error: ' + (document.querySelector('#login-error')||{}).textContent`))
		t.Fatalf("%s: %v\npage: %s", what, err, diag)
	}
}

// cspWatch records, in each document the tab opens next, every Content-Security-Policy
// violation in window.__csp.
func cspWatch() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`})
		return err
	})
}

// noViolations fails when the page broke its CSP so far, then checks that the CSP is there:
// an injected inline script does not run.
func noViolations(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	run(t, ctx, what+": no CSP violation", chrome.WaitJS(`Array.isArray(window.__csp) && window.__csp.length === 0`))
	run(t, ctx, what+": an injected inline script is blocked", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		ran, err := chromedp.Evaluate[bool](`(() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true'; document.body.append(s); return window.__inlineRan === true; })()`)(ctx, tg)
		if err == nil && ran {
			return fmt.Errorf("inline script ran: no CSP on %s", what)
		}
		return err
	}))
}

func convOf(t *testing.T, st *store.Store, adapter string) store.Conversation {
	t.Helper()
	cs, err := st.Conversations("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Adapter == adapter {
			return c
		}
	}
	t.Fatalf("no %s conversation", adapter)
	return store.Conversation{}
}

// TestDesktopEndToEnd: a customer writes through the web chat widget and on WhatsApp; an agent
// logs in to the desktop, accepts both offers, links the two customers, sees one timeline,
// replies in both, and the replies reach the widget and the (fake) Graph API.
func TestDesktopEndToEnd(t *testing.T) {
	// The operator's CRM knows Ann's WhatsApp number; its answer is text, even when it looks
	// like HTML.
	crmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("phone") != "+33612345678" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Write([]byte(`{"tier":"Gold member","orders":7,"note":"<b>VIP</b> since 2019"}`))
	}))
	defer crmSrv.Close()
	cc := config.Config{CRM: config.CRM{LookupURL: crmSrv.URL}}
	cc.ApplyDefaults()
	lookup := crm.New(cc.CRM, crm.Options{})
	lctx, lcancel := context.WithCancel(context.Background())
	ldone := make(chan struct{})
	go func() { lookup.Run(lctx); close(ldone) }()
	defer func() { lcancel(); <-ldone }()
	h := startOpts(t, 0, nil, lookup)
	bctx := browser(t)

	// The customer's tab: a page that embeds /widget.js.
	cust := bctx
	run(t, cust, "customer writes in the widget",
		cspWatch(),
		chromedp.Navigate(h.URL+"/chat/"),
		chromedp.WaitVisible(chromedp.CSS(`.ccs-toggle`)),
		chromedp.Click(chromedp.CSS(`.ccs-toggle`)),
		chromedp.WaitVisible(chromedp.CSS(`#ccs-input`)),
		chromedp.SendKeys(chromedp.CSS(`#ccs-input`), "Hello from the web chat"),
		chromedp.Click(chromedp.CSS(`.ccs-form button[type=submit]`)),
		chrome.WaitJS(`document.querySelector('.ccs-m.ccs-in') !== null && !document.querySelector('.ccs-m.ccs-in').classList.contains('ccs-pending')`),
	)
	// While the chat waits, the widget's "call me" button asks for a call (issue 15): the
	// voice path is asked for this conversation, with no number (its verified one is called).
	asked := make(chan center.CallbackRequest, 4)
	h.Center.SetCallbacker(callbackerFunc(func(r center.CallbackRequest) (string, error) {
		asked <- r
		return "cb-e2e", nil
	}))
	run(t, cust, "customer clicks call me",
		chromedp.Click(chromedp.CSS(`.ccs-callme`)),
		chrome.WaitJS(`document.querySelector('.ccs-status').textContent.includes('call you back')`),
	)
	select {
	case r := <-asked:
		if r.Conversation != convOf(t, h.Store, "webchat").ID || r.Number != "" {
			t.Fatalf("call me asked %+v", r)
		}
	default:
		t.Fatal("the call me button asked for no callback")
	}
	// The same person on WhatsApp.
	h.whatsapp(t, "wamid.e2e1", "33612345678", "Ann Martin", "Bonjour, c'est Ann sur WhatsApp")
	chat, wa := convOf(t, h.Store, "webchat"), convOf(t, h.Store, "whatsapp")
	if chat.Customer == wa.Customer {
		t.Fatal("visitor and WhatsApp customer linked before the agent did it")
	}

	// The agent's tab.
	// Its own window, so that both pages stay visible (a hidden tab gets no animation frames).
	agent, cancel := chromedp.NewContext(bctx, chromedp.WithNewWindow(true), chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			t.Logf("desktop exception: %s %+v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception)
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				t.Logf("desktop console.%s: %s", e.Type, a.Value)
			}
		}
	}))
	defer cancel()
	// The first Run opens the tab and binds it to its context: no per-step timeout on it.
	if err := chromedp.Do(agent); err != nil {
		t.Fatal(err)
	}
	run(t, agent, "agent logs in and gets ready",
		cspWatch(),
		chromedp.Navigate(h.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "alice-pw"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#desktop-view`)),
		chrome.WaitJS(`document.querySelector('#presence').textContent.startsWith('not-ready')`),
		chromedp.Click(chromedp.CSS(`#ready-btn`)),
	)
	run(t, agent, "two offers show", chrome.WaitJS(`document.querySelectorAll('.offer').length === 2`))
	run(t, agent, "the WhatsApp offer shows the CRM's fields, as text",
		chrome.WaitJS(fmt.Sprintf(`(document.querySelector('.offer[data-conv=%q] .crm') || {textContent: ''}).textContent.includes('Gold member')`, wa.ID)),
		chrome.WaitJS(`document.querySelector('.offer b') === null && document.querySelector('.offer .crm').textContent.includes('<b>VIP</b>')`))
	run(t, agent, "agent accepts both offers",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.offer[data-conv=%q] .accept`, chat.ID))),
		chrome.WaitJS(fmt.Sprintf(`document.querySelector('.conv-tab[data-conv=%q]') !== null`, chat.ID)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.offer[data-conv=%q] .accept`, wa.ID))),
		chrome.WaitJS(`document.querySelectorAll('.conv-tab').length === 2 && document.querySelectorAll('.offer').length === 0`),
	)
	run(t, agent, "agent links the WhatsApp customer to the visitor and sees one timeline",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.conv-tab[data-conv=%q]`, chat.ID))),
		chrome.WaitJS(`document.querySelector('#timeline').textContent.includes('Hello from the web chat')`),
		chrome.WaitJS(fmt.Sprintf(`[...document.querySelectorAll('#link-other option')].some(o => o.value === %q)`, wa.Customer)),
		chromedp.SetValue(chromedp.CSS(`#link-other`), wa.Customer),
		chromedp.Click(chromedp.CSS(`#link-btn`)),
		chrome.WaitJS(`document.querySelector('#timeline').textContent.includes("c'est Ann sur WhatsApp") && document.querySelector('#timeline').textContent.includes('Hello from the web chat')`),
	)
	c1, _, _ := h.Store.Customer(chat.Customer)
	c2, _, _ := h.Store.Customer(wa.Customer)
	if c1.ID != c2.ID {
		t.Fatalf("after linking: %s and %s", c1.ID, c2.ID)
	}
	run(t, agent, "agent replies on the web chat",
		chromedp.SendKeys(chromedp.CSS(`#reply-text`), "Hi Ann, Alice here"),
		chromedp.Click(chromedp.CSS(`#reply-send`)),
		chrome.WaitJS(`[...document.querySelectorAll('#timeline .item.out')].some(e => e.textContent.includes('Hi Ann, Alice here'))`),
	)
	run(t, agent, "agent replies on WhatsApp",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.conv-tab[data-conv=%q]`, wa.ID))),
		chrome.WaitJS(fmt.Sprintf(`document.querySelector('.conv-tab[data-conv=%q]').getAttribute('aria-current') === 'true' && document.activeElement && document.activeElement.id === 'reply-text'`, wa.ID)),
		chromedp.SendKeys(chromedp.CSS(`#reply-text`), "Merci Ann, on s'en occupe"),
		chromedp.Click(chromedp.CSS(`#reply-send`)),
		chrome.WaitJS(`[...document.querySelectorAll('#timeline .item.out')].some(e => e.textContent.includes("on s'en occupe"))`),
		chrome.WaitJS(`!document.querySelector('#crm').hidden && document.querySelector('#crm-fields').textContent.includes('Gold member') && document.querySelector('#crm-fields b') === null`),
	)
	run(t, cust, "the reply reaches the widget",
		chrome.WaitJS(`[...document.querySelectorAll('.ccs-m.ccs-out')].some(e => e.textContent === 'Hi Ann, Alice here')`),
	)
	found := false
	for _, s := range h.Graph.Sent() {
		found = found || (s.To() == "33612345678" && s.Text() == "Merci Ann, on s'en occupe")
	}
	if !found {
		t.Fatalf("fake Graph API got %+v, want the WhatsApp reply", h.Graph.Sent())
	}

	// A screen pop for a call from Ann's number shows her record.
	h.Server.Service().ScreenPop("alice", "call-1", "+33 6 12 34 56 78")
	run(t, agent, "screen pop", chrome.WaitJS(`!document.querySelector('#screenpop').hidden && document.querySelector('#screenpop').textContent.includes('Ann')`))

	run(t, agent, "the flow's variables show",
		chrome.WaitJS(`document.querySelector('#vars').textContent.includes('topic') && document.querySelector('#vars').textContent.includes('order') && document.querySelector('#vars').textContent.includes('fr')`))
	png, err := chromedp.Run(agent, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(png))
	}
	out := filepath.Join(t.TempDir(), "desktop.png")
	if *updateScreenshot {
		out = filepath.Join("testdata", "desktop.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("desktop screenshot: %s", out)

	// The widget drops its socket; the customer writes while it is down and the agent replies
	// meanwhile: after the reconnect both arrive exactly once.
	run(t, cust, "widget goes offline and the customer writes",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`ccswitchChat.disconnect(); ccswitchChat.send('written while offline')`)(ctx, tg)
			return err
		}))
	if _, err := h.Server.Service().Reply(context.Background(), "alice", chat.ID, "reply while you were away"); err != nil {
		t.Fatal(err)
	}
	run(t, cust, "both arrive once after the reconnect",
		chrome.WaitJS(`[...document.querySelectorAll('.ccs-m.ccs-in')].some(e => e.textContent === 'written while offline' && !e.classList.contains('ccs-pending'))`),
		chrome.WaitJS(`[...document.querySelectorAll('.ccs-m.ccs-out')].filter(e => e.textContent === 'reply while you were away').length === 1`),
	)
	n := 0
	_, ms, _ := h.Server.Service().Conversation(chat.ID, 0)
	for _, m := range ms {
		if m.Text == "written while offline" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("message written while offline stored %d times", n)
	}

	// alice is a supervisor: she unlinks the WhatsApp record again from the desktop.
	run(t, agent, "supervisor unlinks the WhatsApp customer",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`.conv-tab[data-conv=%q]`, chat.ID))),
		chrome.WaitJS(fmt.Sprintf(`!document.querySelector('#unlink-form').hidden && [...document.querySelectorAll('#unlink-other option')].some(o => o.value === %q)`, wa.Customer)),
		chromedp.SetValue(chromedp.CSS(`#unlink-other`), wa.Customer),
		chromedp.Click(chromedp.CSS(`#unlink-btn`)),
		chrome.WaitJS(`document.querySelector('#timeline').textContent.includes('Hello from the web chat') && !document.querySelector('#timeline').textContent.includes("c'est Ann sur WhatsApp")`),
	)
	if c1, _, _ := h.Store.Customer(chat.Customer); c1.ID == wa.Customer || len(c1.Merged) != 0 {
		t.Fatalf("after unlinking: %+v", c1)
	}
	if audit, _ := h.Store.Audits(0); len(audit) != 2 || audit[0].Action != "unlink" || audit[0].Agent != "alice" {
		t.Fatalf("audit = %+v", audit)
	}
	noViolations(t, agent, "desktop")
	noViolations(t, cust, "web chat page")

	// bob is an agent: his desktop logs in under the same CSP and shows no link or unlink.
	run(t, agent, "an agent's desktop",
		chromedp.Click(chromedp.CSS(`#logout-btn`)),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), "bob"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "bob-pw"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#desktop-view`)),
		chrome.WaitJS(`document.querySelector('#link-form').hidden && document.querySelector('#unlink-form').hidden`),
	)
	noViolations(t, agent, "agent's desktop")
	run(t, agent, "an agent's wallboard: queues, no per-agent rows",
		chromedp.Navigate(h.URL+"/wallboard"),
		chrome.WaitJS(`document.querySelectorAll('#wb-queues tr').length === 2 && document.querySelectorAll('#wb-agents tr').length === 0`))
	noViolations(t, agent, "wallboard")
}

// callbackerFunc is a center.Callbacker (the voice path placing text contacts' callbacks).
type callbackerFunc func(center.CallbackRequest) (string, error)

func (f callbackerFunc) RequestCallback(_ context.Context, r center.CallbackRequest) (string, error) {
	return f(r)
}
