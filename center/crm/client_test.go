package crm_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/config"
)

func settings(url string) config.CRM {
	c := config.Config{CRM: config.CRM{LookupURL: url, AuthValue: "Bearer crm-token"}}
	c.ApplyDefaults()
	return c.CRM
}

// TestAnswers: what the CRM answers and what the agent gets (invariant 2).
func TestAnswers(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		want    []crm.Field
		found   bool
		wantErr string
	}{
		{"strings and numbers in order", 200, `{"name":"Ana Lima","tier":"gold","balance":-12.5,"open_tickets":3,"vip":true,"address":{"city":"Lisbon"},"tags":["a"],"note":null}`,
			[]crm.Field{{"name", "Ana Lima"}, {"tier", "gold"}, {"balance", "-12.5"}, {"open_tickets", "3"}}, true, ""},
		{"control characters dropped, long values cut", 200, `{"bio":"line1\nline2\u0007","long":"` + strings.Repeat("x", 300) + `"}`,
			[]crm.Field{{"bio", "line1line2"}, {"long", strings.Repeat("x", crm.MaxValue-1) + "…"}}, true, ""},
		{"empty object", 200, `{}`, nil, true, ""},
		{"not found", 404, `{"error":"no such customer"}`, nil, false, ""},
		{"server error", 500, `oops`, nil, false, "answered 500"},
		{"not an object", 200, `["name"]`, nil, false, "not a JSON object"},
		{"too large", 200, `{"x":"` + strings.Repeat("y", crm.MaxBody) + `"}`, nil, false, "too large"},
		{"broken JSON", 200, `{"name":`, nil, false, "answer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c := crm.New(settings(srv.URL), crm.Options{})
			card, err := c.Lookup(context.Background(), crm.Query{Channel: "voice", Handle: "+15550101"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || card.Found != tc.found || len(card.Fields) != len(tc.want) {
				t.Fatalf("card = %+v, %v; want %v found=%v", card, err, tc.want, tc.found)
			}
			for i := range tc.want {
				if card.Fields[i] != tc.want[i] {
					t.Errorf("field %d = %+v, want %+v", i, card.Fields[i], tc.want[i])
				}
			}
		})
	}
	fs, _ := crm.Fields([]byte(`{` + strings.Repeat(`"k":1,`, 50) + `"last":2}`))
	if len(fs) != crm.MaxFields {
		t.Errorf("%d fields kept, want %d", len(fs), crm.MaxFields)
	}
}

// TestRequestAndCache: the request carries the query and the auth header; answers (found and
// not found) are cached for cache_ttl, errors are not, the cache is bounded, and a Reload with
// another URL clears it (invariant 3).
func TestRequestAndCache(t *testing.T) {
	var hits atomic.Int32
	fail := atomic.Bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		q := r.URL.Query()
		if r.Header.Get("Authorization") != "Bearer crm-token" || q.Get("channel") == "" || q.Get("src") != "ccswitch" {
			t.Errorf("request %s %v", r.URL, r.Header)
		}
		if fail.Load() {
			w.WriteHeader(503)
			return
		}
		if q.Get("handle") == "unknown" {
			w.WriteHeader(404)
			return
		}
		w.Write([]byte(`{"handle":"` + q.Get("handle") + `","phone":"` + q.Get("phone") + `"}`))
	}))
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	cfg := settings(srv.URL + "/lookup?src=ccswitch")
	cfg.CacheSize = 2
	reg := prometheus.NewRegistry()
	c := crm.New(cfg, crm.Options{Now: func() time.Time { return now }, Registerer: reg})
	look := func(handle string) crm.Card {
		card, _ := c.Lookup(context.Background(), crm.Query{Channel: "whatsapp", Handle: handle, Phone: "+" + handle})
		return card
	}
	if card := look("15550101"); !card.Found || card.Fields[1].Value != "+15550101" {
		t.Fatalf("card = %+v", card)
	}
	look("15550101")
	look("unknown")
	look("unknown")
	if n := hits.Load(); n != 2 {
		t.Errorf("%d requests for 2 customers asked twice each, want 2 (cached)", n)
	}
	now = now.Add(cfg.CacheTTL.D() + time.Second)
	look("15550101")
	if n := hits.Load(); n != 3 {
		t.Errorf("%d requests after the TTL, want 3", n)
	}
	look("a")
	look("b") // the cache holds two: 15550101 is the least recently used
	look("15550101")
	if n := hits.Load(); n != 6 {
		t.Errorf("%d requests, want 6 (evicted by the bound)", n)
	}
	fail.Store(true)
	for range 2 {
		if _, err := c.Lookup(context.Background(), crm.Query{Channel: "sms", Handle: "c"}); err == nil {
			t.Error("a 503 gave no error")
		}
	}
	if n := hits.Load(); n != 8 {
		t.Errorf("%d requests, want 8 (errors are not cached)", n)
	}
	fail.Store(false)
	c.Reload(settings(srv.URL + "/other?src=ccswitch"))
	look("b")
	if n := hits.Load(); n != 9 {
		t.Errorf("%d requests after a reload to another URL, want 9", n)
	}
	if got := testutil.ToFloat64(lookups(reg, "cached")); got != 2 {
		t.Errorf("cached lookups = %v, want 2", got)
	}
}

func lookups(reg *prometheus.Registry, result string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == "ccswitch_crm_lookups_total" && l.GetValue() == result {
					g.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return g
}

// TestFetchNeverWaits: a CRM slower than the timeout gives a timeout and no card; Fetch
// returns at once whatever the CRM does, and drops what the queue cannot hold (invariant 1).
func TestFetchNeverWaits(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	cfg := settings(slow.URL)
	cfg.Timeout = config.Duration(50 * time.Millisecond)
	reg := prometheus.NewRegistry()
	c := crm.New(cfg, crm.Options{Workers: 1, QueueSize: 2, Registerer: reg})
	if _, err := c.Lookup(context.Background(), crm.Query{Channel: "voice", Handle: "1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow CRM: err = %v, want a timeout", err)
	}
	delivered := make(chan crm.Card, 10)
	for range 5 { // no Run yet: two fit in the queue, three are dropped
		c.Fetch(crm.Query{Channel: "voice", Handle: "1"}, func(card crm.Card) { delivered <- card })
	}
	if got := testutil.ToFloat64(dropped(reg)); got != 3 {
		t.Errorf("dropped = %v, want 3", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	cancel()
	<-done
	select {
	case card := <-delivered:
		t.Errorf("a card was delivered from a CRM that never answered: %+v", card)
	default:
	}
}

func dropped(reg *prometheus.Registry) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "ccswitch_crm_dropped_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "queue-full" {
					g.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return g
}
