// Package chrome starts real headless Chromium for the desktop's end-to-end tests (web, cmd):
// one set of flags for a test browser, and one way to wait for the page.
package chrome

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// Start launches headless Chromium for t (testenv.Tool: fails under CI when it is missing)
// with the flags every desktop test needs — no sandbox, GPU or background work, no throttling
// of a page in the background (a test drives two at once) — plus extra (fake media, window
// size). session bounds the whole browser session (a bound, not a timing threshold); listen,
// if set, sees the page's events (exceptions, console). t's cleanup closes the browser.
func Start(t testing.TB, session time.Duration, listen func(ev any), extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := testenv.Tool(t, "chromium")
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
	}, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	var copts []chromedp.ContextOption
	if listen != nil {
		copts = append(copts, chromedp.WithListener(listen))
	}
	ctx, cancelB := chromedp.NewContext(actx, copts...)
	ctx, cancelT := context.WithTimeout(ctx, session)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// WaitJS polls a JavaScript boolean expression (a promise is awaited) until it is true, or
// ctx ends.
func WaitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		for {
			ok, err := chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise)(ctx, tg)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}
