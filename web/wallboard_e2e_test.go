package web_test

import (
	"github.com/ccswitch/ccswitch/internal/chrome"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// strictCSP is the policy the wallboard must work under: same-origin files only, no inline
// script or style, no external asset.
const strictCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// TestWallboardInChromium: in headless Chromium, under a strict CSP, a supervisor's wallboard
// draws three SVG charts per queue (waiting, service level, average answer) with the
// thresholds, lists the live call with its agent and a running duration, and its Whisper
// button asks the voice side to ring the logged-in supervisor into whisper. No script error
// and no CSP violation on the page.
func TestWallboardInChromium(t *testing.T) {
	_, h, mon := wallboardServer(t)
	csp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", strictCSP)
		h.ServeHTTP(w, r)
	}))
	defer csp.Close()
	bctx := browser(t)
	var mu sync.Mutex
	var problems []string
	page, cancel := chromedp.NewContext(bctx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				for _, a := range e.Args {
					problems = append(problems, "console.error: "+string(a.Value))
				}
			}
		}
	}))
	defer cancel()
	if err := chromedp.Do(page); err != nil {
		t.Fatal(err)
	}
	run(t, page, "the supervisor logs in on the desktop",
		chromedp.Navigate(csp.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "alice-pw"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#desktop-view`)),
	)
	run(t, page, "the wallboard draws the charts and the live call",
		chromedp.Navigate(csp.URL+"/wallboard"),
		chrome.WaitJS(`document.querySelectorAll('#wb-trends svg.chart').length === 6`),
		chrome.WaitJS(`document.querySelectorAll('#wb-trends svg.chart line.threshold').length === 6`),
		chrome.WaitJS(`document.querySelectorAll('#wb-trends .trend .val.ok, #wb-trends .trend .val.none').length >= 6`),
		chrome.WaitJS(`!document.querySelector('#wb-live-section').hidden && document.querySelector('#wb-live').textContent.includes('bob')`),
		chrome.WaitJS(`/^1:0\d$/.test(document.querySelector('#wb-live td[data-since]').textContent)`),
		chrome.WaitJS(`document.querySelectorAll('#wb-queues tr .val').length === 6`),
	)
	run(t, page, "Whisper rings the supervisor",
		chromedp.Click(chromedp.CSS(`#wb-live button[aria-label="whisper on bob's call"]`)),
		chrome.WaitJS(`document.querySelector('#wb-monitor-status').textContent.startsWith('You whisper')`),
	)
	mon.mu.Lock()
	asked := strings.Join(mon.asked, "; ")
	mon.mu.Unlock()
	if asked != "alice bob whisper" {
		t.Errorf("the voice side was asked %q, want alice bob whisper", asked)
	}
	if _, err := chromedp.Run(page, chromedp.Evaluate[any](`window.scrollTo(0, 0)`)); err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(page, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "wallboard.png")
	if *updateScreenshot {
		out = filepath.Join("testdata", "wallboard.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wallboard screenshot: %s", out)
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("page problems: %s", strings.Join(problems, "\n"))
	}
}
