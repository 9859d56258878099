package hook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center/hook"
	"github.com/ccswitch/ccswitch/config"
)

// receiver is an operator's endpoint: it verifies every request as README says and records
// the events; answer decides each response.
type receiver struct {
	*httptest.Server
	secret string
	mu     sync.Mutex
	events []hook.Event
	bad    int // requests whose signature did not verify
	tries  int
	got    chan hook.Event
	answer func(try int) int
}

func newReceiver(t *testing.T, secret string, answer func(try int) int) *receiver {
	r := &receiver{secret: secret, answer: answer, got: make(chan hook.Event, 100)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.tries++
		if !hook.Verify(r.secret, req.Header.Get(hook.HeaderTimestamp), req.Header.Get(hook.HeaderSignature), body, time.Now(), 5*time.Minute) {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		code := 200
		if r.answer != nil {
			code = r.answer(r.tries)
		}
		w.WriteHeader(code)
		if code != 200 {
			return
		}
		var e hook.Event
		if err := json.Unmarshal(body, &e); err != nil || req.Header.Get(hook.HeaderEvent) != e.Type || req.Header.Get(hook.HeaderDelivery) != e.ID {
			t.Errorf("body %s / headers %v do not match", body, req.Header)
		}
		r.events = append(r.events, e)
		r.got <- e
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int) []hook.Event {
	t.Helper()
	var out []hook.Event
	for range n {
		select {
		case e := <-r.got:
			out = append(out, e)
		case <-time.After(20 * time.Second):
			t.Fatalf("got %d events, want %d", len(out), n)
		}
	}
	return out
}

func webhook(name, url, secret string, events ...string) config.Webhook {
	c := config.Config{Webhooks: []config.Webhook{{Name: name, URL: url, Secret: secret, Events: events}}}
	c.ApplyDefaults()
	return c.Webhooks[0]
}

func run(t *testing.T, o hook.Options) (*hook.Dispatcher, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	if o.Backoff == nil {
		o.Backoff = func(int) time.Duration { return time.Millisecond }
	}
	d := hook.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d, reg
}

type details map[string]map[string]string

func (d details) TaskDetails(task string) map[string]string { return d[task] }

// TestEventsOfATask: the engine's events of one task reach the endpoint in order, typed,
// signed (invariant 2) and described; kinds that are not sent, and types the endpoint did not
// subscribe to, do not.
func TestEventsOfATask(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	r := newReceiver(t, secret, nil)
	d, _ := run(t, hook.Options{Webhooks: []config.Webhook{webhook("crm", r.URL, secret, "offer", "accept", "end", "wrapup")},
		Details: details{"conv-1": {"adapter": "whatsapp", "wrapup": "sale"}}})
	now := time.Unix(1_800_000_000, 0).UTC()
	for _, ev := range []acd.Event{
		{Kind: acd.EventTaskQueued, Task: "conv-1", Queue: "support", Channel: acd.Social, Time: now},
		{Kind: acd.EventReservationCreated, Task: "conv-1", Queue: "support", Agent: "1002", Channel: acd.Social, Wait: 1500 * time.Millisecond, Time: now},
		{Kind: acd.EventAgentState, Agent: "1002"},
		{Kind: acd.EventReservationAccepted, Task: "conv-1", Queue: "support", Agent: "1002", Channel: acd.Social, Time: now},
		{Kind: acd.EventTaskCompleted, Task: "conv-1", Queue: "support", Agent: "1002", Channel: acd.Social, Time: now},
		{Kind: acd.EventWrapUpEnded, Task: "conv-1", Agent: "1002", Channel: acd.Social, Time: now},
		{Kind: acd.EventTaskAbandoned, Task: "call-7", Queue: "sales", Channel: acd.Voice, Time: now},
	} {
		d.ACDEvent(ev)
	}
	got := r.wait(t, 5)
	want := []struct{ typ, task, kind, reason string }{
		{"offer", "conv-1", "conversation", ""}, {"accept", "conv-1", "conversation", ""},
		{"end", "conv-1", "conversation", "task-completed"}, {"wrapup", "conv-1", "conversation", ""},
		{"end", "call-7", "call", "task-abandoned"},
	}
	ids := map[string]bool{}
	for i, w := range want {
		e := got[i]
		if e.Type != w.typ || e.Task != w.task || e.Kind != w.kind || e.Reason != w.reason || !e.Time.Equal(now) || ids[e.ID] {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
		ids[e.ID] = true
	}
	if got[0].WaitMS != 1500 || got[0].Agent != "1002" || got[0].Channel != "social" || got[0].Details["adapter"] != "whatsapp" {
		t.Errorf("offer = %+v", got[0])
	}
	if got[3].Details["wrapup"] != "sale" {
		t.Errorf("wrapup details = %v", got[3].Details)
	}
	if r.bad != 0 {
		t.Errorf("%d requests failed verification", r.bad)
	}
}

// TestFailures: a failing endpoint is retried until it answers (same id, new signature), a
// refusing one is not retried, one that never recovers is given up after its attempts; each
// outcome is counted (invariant 3).
func TestFailures(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	cases := []struct {
		name        string
		answer      func(try int) int
		attempts    int
		wantTries   int
		delivered   bool
		droppedWhy  string
		failedCause string
	}{
		{"recovers on the third try", func(n int) int { return map[bool]int{true: 503, false: 200}[n < 3] }, 5, 3, true, "", "503"},
		{"429 is retried", func(n int) int { return map[bool]int{true: 429, false: 200}[n < 2] }, 5, 2, true, "", "429"},
		{"400 is refused at once", func(int) int { return 400 }, 5, 1, false, "refused", "400"},
		{"gives up after its attempts", func(int) int { return 500 }, 3, 3, false, "gave-up", "500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, secret, tc.answer)
			w := webhook("ep", r.URL, secret, "end")
			w.Attempts = tc.attempts
			d, reg := run(t, hook.Options{Webhooks: []config.Webhook{w}})
			d.Publish(hook.Event{Type: "end", Task: "t1"})
			d.Publish(hook.Event{Type: "end", Task: "t2"}) // the next one goes once the first is settled
			if tc.delivered {
				if e := r.wait(t, 2); e[0].Task != "t1" || e[1].Task != "t2" {
					t.Errorf("order: %+v", e)
				}
			} else {
				waitCount(t, reg, func() float64 {
					return testutil.ToFloat64(dropped(reg, tc.droppedWhy))
				}, 2)
			}
			if got := testutil.ToFloat64(failed(reg, tc.failedCause)); got < float64(tc.wantTries-1) {
				t.Errorf("failed attempts %s = %v, want at least %d", tc.failedCause, got, tc.wantTries-1)
			}
		})
	}
}

// TestNeverBlocks: with the endpoint stuck, Publish returns at once; past the queue events are
// dropped and counted (invariant 1).
func TestNeverBlocks(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	release := make(chan struct{})
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer stuck.Close()
	defer close(release)
	w := webhook("stuck", stuck.URL, secret, "offer")
	w.QueueSize = 4
	d, reg := run(t, hook.Options{Webhooks: []config.Webhook{w}})
	for range 200 {
		d.Publish(hook.Event{Type: "offer", Task: "t"})
	}
	// One in flight, four queued: the other 195 are dropped once the fan-out reaches them.
	waitCount(t, reg, func() float64 { return testutil.ToFloat64(dropped(reg, "queue-full")) }, 195)
}

// TestReloadSecret: events queued for an endpoint whose secret changed are sent signed with the
// new one; a removed endpoint gets nothing more (invariant 5).
func TestReloadSecret(t *testing.T) {
	const one, two = "first-secret-0123456789", "second-secret-0123456789"
	r := newReceiver(t, one, nil)
	d, reg := run(t, hook.Options{Webhooks: []config.Webhook{webhook("ep", r.URL, one, "accept")}})
	d.Publish(hook.Event{Type: "accept", Task: "before"})
	r.wait(t, 1)
	// The receiver has it; wait until the sender has its 2xx too, or the reload would cut the
	// attempt short and send it again (at least once, by design).
	waitCount(t, reg, func() float64 {
		return testutil.ToFloat64(metric(reg, "ccswitch_hook_delivered_total", "type", "accept"))
	}, 1)
	r.mu.Lock()
	r.secret = two
	r.mu.Unlock()
	d.Reload([]config.Webhook{webhook("ep", r.URL, two, "accept")})
	d.Publish(hook.Event{Type: "accept", Task: "after"})
	if e := r.wait(t, 1); e[0].Task != "after" {
		t.Errorf("after reload: %+v", e)
	}
	d.Reload(nil)
	d.Publish(hook.Event{Type: "accept", Task: "removed"})
	d.Reload([]config.Webhook{webhook("other", r.URL, two, "end")})
	d.Publish(hook.Event{Type: "end", Task: "last"})
	if e := r.wait(t, 1); e[0].Task != "last" {
		t.Errorf("after removal: %+v (the removed endpoint's event must not arrive)", e)
	}
	if r.bad != 0 {
		t.Errorf("%d requests signed with the wrong secret", r.bad)
	}
}

func dropped(reg *prometheus.Registry, reason string) prometheus.Collector {
	return metric(reg, "ccswitch_hook_dropped_total", "reason", reason)
}

func failed(reg *prometheus.Registry, cause string) prometheus.Collector {
	return metric(reg, "ccswitch_hook_attempts_failed_total", "cause", cause)
}

// metric sums the series of name whose label has value, as a collector testutil can read.
func metric(reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sum"})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					g.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return g
}

func waitCount(t *testing.T, reg *prometheus.Registry, f func() float64, want float64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f() >= want {
			return
		}
	}
	t.Fatalf("count = %v, want %v", f(), want)
}

// TestReloadKeepsQueued: events waiting for an endpoint whose secret changes, and the one in
// flight, are all delivered after the reload, signed with the new secret (invariant 5).
func TestReloadKeepsQueued(t *testing.T) {
	const one, two = "first-secret-0123456789", "second-secret-0123456789"
	var mu sync.Mutex
	first := true
	got := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		block := first
		first = false
		mu.Unlock()
		if block { // the first attempt hangs until the reload cuts it short
			<-r.Context().Done()
			return
		}
		if !hook.Verify(two, r.Header.Get(hook.HeaderTimestamp), r.Header.Get(hook.HeaderSignature), body, time.Now(), time.Minute) {
			t.Errorf("not signed with the new secret: %s", body)
		}
		var e hook.Event
		json.Unmarshal(body, &e)
		got <- e.Task
	}))
	defer srv.Close()
	d, _ := run(t, hook.Options{Webhooks: []config.Webhook{webhook("ep", srv.URL, one, "end")}})
	for _, task := range []string{"t1", "t2", "t3"} {
		d.Publish(hook.Event{Type: "end", Task: task})
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		started := !first
		mu.Unlock()
		if started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("first attempt never started")
		}
	}
	d.Reload([]config.Webhook{webhook("ep", srv.URL, two, "end")})
	seen := map[string]bool{}
	for range 3 {
		select {
		case task := <-got:
			seen[task] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("delivered %v, want t1, t2, t3", seen)
		}
	}
}
