package limit

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func ptr[T any](v T) *T { return &v }

// memStore is a UsageStore in memory, standing in for pebble (whose own test is in store).
type memStore struct {
	mu sync.Mutex
	m  map[string]time.Duration
}

func (s *memStore) DailyUsage(day, user string) (time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[day+"/"+user], nil
}

func (s *memStore) PutDailyUsage(day, user string, used time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Duration{}
	}
	s.m[day+"/"+user] = used
	return nil
}

func limitsConfig() *config.Config {
	cfg := &config.Config{}
	cfg.SIP.Limits = config.Limits{
		MaxCalls: ptr(2), CallRate: ptr(1.0), CallBurst: 3, DailyMinutes: 10,
		Classes: []config.Class{{Name: "domestic", Allow: []string{"+1"}, Deny: []string{"+1900", "+1976"}, MaxCalls: ptr(3)}},
	}
	cfg.SIP.Emergency = []string{"112", "911"}
	cfg.Users = []config.User{
		{Extension: "1001", Class: "domestic"},
		{Extension: "1002", MaxCalls: ptr(1), DailyMinutes: ptr(0)},
		{Extension: "1003", Class: "domestic", Allow: []string{"+1900555"}},
		{Extension: "1004", Deny: []string{"00"}},
	}
	cfg.Trunks = []config.Trunk{{Name: "carrier", MaxCalls: 2}, {Name: "big"}}
	return cfg
}

func newLimits(t *testing.T, cfg *config.Config, st UsageStore) (*Limits, *clock, *prometheus.Registry, *bytes.Buffer) {
	t.Helper()
	clk := newClock()
	reg := prometheus.NewRegistry()
	var buf bytes.Buffer
	l, err := New(cfg, Options{Store: st, Logger: slog.New(slog.NewTextHandler(&buf, nil)), Registerer: reg, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l, clk, reg, &buf
}

func refused(reg *prometheus.Registry, limit string) float64 {
	m := newMetrics(reg) // Register returns the collectors already registered
	return testutil.ToFloat64(m.refused.WithLabelValues(limit))
}

func TestDestinations(t *testing.T) {
	cfg := limitsConfig()
	cfg.SIP.Limits.CallRate = ptr(0.0) // no rate limit
	l, _, reg, _ := newLimits(t, cfg, nil)
	cases := []struct {
		ext, number string
		allowed     bool
	}{
		{"1001", "+15550100", true},
		{"1001", "15550100", true}, // + or not, the same number
		{"1001", "+19005551234", false},
		{"1001", "19765551234", false},
		{"1001", "+445550100", false},  // not in the class's allow list
		{"1003", "+19005551234", true}, // the user's longer allow wins the class's deny
		{"1003", "+19006661234", false},
		{"1002", "+445550100", true}, // no rules: any number
		{"1004", "0044123", false},
		{"1004", "044123", true},
		{"9999", "+445550100", true}, // unknown extension: the global rules (none)
	}
	for _, tc := range cases {
		h := l.Hold(nil)
		r := h.Caller(tc.ext, tc.number, true)
		h.Release()
		if got := r == nil; got != tc.allowed {
			t.Errorf("%s → %s: allowed %v (refusal %v), want %v", tc.ext, tc.number, got, r, tc.allowed)
		}
		if r != nil && (r.Code != 403 || r.Limit != "destination") {
			t.Errorf("%s → %s: refusal %+v, want 403 destination", tc.ext, tc.number, r)
		}
	}
	// Internal calls do not go through the destination rules.
	h := l.Hold(nil)
	if r := h.Caller("1001", "+19005551234", false); r != nil {
		t.Errorf("internal call refused: %v", r)
	}
	h.Release()
	if got := refused(reg, "destination"); got != 5 {
		t.Errorf("destination refusals counted %v, want 5", got)
	}
}

// TestConcurrentCalls: slots are refused at max_calls with the right status and come back
// when a call releases its hold, once only (invariant 3).
func TestConcurrentCalls(t *testing.T) {
	l, clk, reg, logs := newLimits(t, limitsConfig(), nil)
	clk.Add(time.Hour) // rate buckets full

	// 1002 may be in one call: as caller, then as callee.
	a := l.Hold(nil)
	if r := a.Caller("1002", "1001", false); r != nil {
		t.Fatal(r)
	}
	clk.Add(time.Minute)
	b := l.Hold(nil)
	if r := b.Caller("1002", "1001", false); r == nil || r.Code != 403 || r.Limit != "caller_calls" {
		t.Fatalf("second call placed by 1002: %v, want 403 caller_calls", r)
	}
	b.Release()
	c := l.Hold(nil)
	if r := c.Callee("1002"); r == nil || r.Code != 486 {
		t.Fatalf("call to busy 1002: %v, want 486", r)
	}
	c.Release()
	a.Release()
	a.Release() // idempotent: must not free a slot it no longer holds
	if n := l.ExtensionCalls("1002"); n != 0 {
		t.Fatalf("1002 in %d calls after release, want 0", n)
	}
	d := l.Hold(nil)
	if r := d.Callee("1002"); r != nil {
		t.Fatalf("call to 1002 after release: %v", r)
	}
	e := l.Hold(nil)
	if r := e.Callee("1002"); r == nil {
		t.Fatal("second call to 1002 admitted")
	}
	d.Release()
	e.Release()

	// Trunk "carrier": two calls; "big": no limit.
	var holds []*Hold
	for i := range 3 {
		h := l.Hold(nil)
		ok := h.Trunk("carrier")
		if ok != (i < 2) {
			t.Fatalf("trunk call %d admitted = %v", i, ok)
		}
		holds = append(holds, h)
	}
	for range 50 {
		h := l.Hold(nil)
		if !h.Trunk("big") {
			t.Fatal("trunk without max_calls refused a call")
		}
		holds = append(holds, h)
	}
	if l.TrunkCalls("big") != 50 || l.TrunkCalls("carrier") != 2 {
		t.Fatalf("trunk calls: carrier %d, big %d", l.TrunkCalls("carrier"), l.TrunkCalls("big"))
	}
	for _, h := range holds {
		h.Release()
	}
	if l.TrunkCalls("big") != 0 || l.TrunkCalls("carrier") != 0 {
		t.Fatal("trunk slots not released")
	}
	for lim, want := range map[string]float64{"caller_calls": 1, "callee_calls": 2, "trunk_calls": 1} {
		if got := refused(reg, lim); got != want {
			t.Errorf("%s refusals = %v, want %v", lim, got, want)
		}
	}
	if n := strings.Count(logs.String(), "limit=callee_calls"); n != 1 {
		t.Errorf("callee_calls logged %d times, want once a minute:\n%s", n, logs)
	}
}

func TestCallRate(t *testing.T) {
	l, clk, reg, _ := newLimits(t, limitsConfig(), nil)
	place := func() *Refusal {
		h := l.Hold(nil)
		defer h.Release()
		return h.Caller("1002", "1001", false)
	}
	for i := range 3 { // the burst
		if r := place(); r != nil {
			t.Fatalf("call %d refused: %v", i, r)
		}
	}
	r := place()
	if r == nil || r.Code != 503 || r.Limit != "call_rate" || RetryAfter(r.RetryAfter) != "1" {
		t.Fatalf("fourth call at once: %+v, want 503 call_rate, Retry-After 1", r)
	}
	clk.Add(time.Second)
	if r := place(); r != nil {
		t.Fatalf("call a second later refused: %v", r)
	}
	if r := place(); r == nil {
		t.Fatal("second call in that second admitted")
	}
	if got := refused(reg, "call_rate"); got != 2 {
		t.Errorf("call_rate refusals = %v, want 2", got)
	}
}

// TestDailyMinutes: minutes count from the answer, a call is cut at the cap, later calls are
// refused, and a new Limits on the same store (a restart) remembers (invariant 5).
func TestDailyMinutes(t *testing.T) {
	st := &memStore{}
	cfg := limitsConfig()
	l, clk, reg, _ := newLimits(t, cfg, st)

	var cuts int
	h := l.Hold(func() { cuts++ })
	if r := h.Caller("1001", "+15550100", true); r != nil {
		t.Fatal(r)
	}
	clk.Add(time.Minute) // ringing is not counted
	h.Answered()
	for range 9 {
		clk.Add(time.Minute)
		l.Tick()
	}
	if cuts != 0 || l.Used("1001") != 9*time.Minute {
		t.Fatalf("after 9 minutes: cuts %d, used %v", cuts, l.Used("1001"))
	}
	// A second call fits under the cap at its start: both are cut when the total reaches it.
	h2 := l.Hold(func() { cuts++ })
	if r := h2.Caller("1001", "+15550101", true); r != nil {
		t.Fatal(r)
	}
	h2.Answered()
	clk.Add(30 * time.Second)
	l.Tick()
	if cuts != 2 {
		t.Fatalf("cuts = %d at 10 minutes, want 2 (both calls)", cuts)
	}
	l.Tick() // still up: not cut twice
	if cuts != 2 {
		t.Fatalf("cuts = %d after another tick, want 2", cuts)
	}
	h.Release()
	h2.Release()
	if got := testutil.ToFloat64(newMetrics(reg).cut); got != 2 {
		t.Errorf("cut counted %v, want 2", got)
	}

	// A restart: a new Limits on the same store.
	l2, err := New(cfg, Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if used := l2.Used("1001"); used < 10*time.Minute {
		t.Fatalf("after restart 1001 used %v, want at least 10m", used)
	}
	h3 := l2.Hold(nil)
	if r := h3.Caller("1001", "+15550100", true); r == nil || r.Code != 403 || r.Limit != "daily_minutes" {
		t.Fatalf("call after the cap: %v, want 403 daily_minutes", r)
	}
	h3.Release()
	// Internal calls are not capped; 1002 has no cap (daily_minutes: 0 overrides the global 10).
	h4 := l2.Hold(nil)
	if r := h4.Caller("1001", "1002", false); r != nil {
		t.Fatalf("internal call refused: %v", r)
	}
	h4.Release()
	// Tomorrow is a new day.
	clk.Add(24 * time.Hour)
	h5 := l2.Hold(nil)
	if r := h5.Caller("1001", "+15550100", true); r != nil {
		t.Fatalf("call the next day refused: %v", r)
	}
	h5.Release()
}

// TestMinutesPersistedWhileCallLasts: a call in progress is stored every PersistEvery, so a
// crash loses at most that much.
func TestMinutesPersistedWhileCallLasts(t *testing.T) {
	st := &memStore{}
	l, clk, _, _ := newLimits(t, limitsConfig(), st)
	h := l.Hold(nil)
	if r := h.Caller("1002", "+15550100", true); r != nil {
		t.Fatal(r)
	}
	h.Answered()
	for range 3 {
		clk.Add(PersistEvery)
		l.Tick()
	}
	day := l.day(clk.Now())
	if got, _ := st.DailyUsage(day, "1002"); got != 3*PersistEvery {
		t.Fatalf("stored %v while the call lasts, want %v", got, 3*PersistEvery)
	}
	clk.Add(5 * time.Second)
	h.Release()
	if got, _ := st.DailyUsage(day, "1002"); got != 3*PersistEvery+5*time.Second {
		t.Fatalf("stored %v at the end, want %v", got, 3*PersistEvery+5*time.Second)
	}
}

// TestEmergency: an emergency hold is refused nothing and never cut (invariant 4).
func TestEmergency(t *testing.T) {
	cfg := limitsConfig()
	cfg.SIP.Limits.DailyMinutes = 1
	l, clk, reg, _ := newLimits(t, cfg, &memStore{})
	if !l.Emergency("112") || !l.Emergency("911") || l.Emergency("1120") {
		t.Fatal("emergency numbers not recognised exactly")
	}
	// Use up 1002's only slot, its call rate and the carrier trunk.
	busy := l.Hold(nil)
	busy.Caller("1002", "1001", false)
	for range 5 {
		h := l.Hold(nil)
		h.Caller("1002", "1001", false)
		h.Release()
	}
	full := []*Hold{l.Hold(nil), l.Hold(nil)}
	for _, h := range full {
		h.Trunk("carrier")
	}
	var cut bool
	e := l.Hold(func() { cut = true })
	e.Emergency("1002")
	if !e.Trunk("carrier") {
		t.Fatal("emergency call refused a full trunk")
	}
	e.Answered()
	clk.Add(time.Hour)
	l.Tick()
	if cut {
		t.Fatal("emergency call cut")
	}
	if l.ExtensionCalls("1002") != 2 || l.TrunkCalls("carrier") != 3 {
		t.Fatalf("emergency call not counted: 1002 in %d calls, carrier %d", l.ExtensionCalls("1002"), l.TrunkCalls("carrier"))
	}
	e.Release()
	busy.Release()
	for _, h := range full {
		h.Release()
	}
	if got := testutil.ToFloat64(newMetrics(reg).emergency); got != 1 {
		t.Errorf("emergency calls counted %v, want 1", got)
	}
}

// TestReloadKeepsCounts: a reload lowers a limit; calls in progress keep their slots and count
// against the new limit.
func TestReloadKeepsCounts(t *testing.T) {
	cfg := limitsConfig()
	l, _, _, _ := newLimits(t, cfg, nil)
	var hs []*Hold
	for range 2 {
		h := l.Hold(nil)
		if !h.Trunk("big") {
			t.Fatal("refused")
		}
		hs = append(hs, h)
	}
	cfg2 := limitsConfig()
	cfg2.Trunks[1].MaxCalls = 2
	if err := l.Reload(cfg2); err != nil {
		t.Fatal(err)
	}
	h := l.Hold(nil)
	if h.Trunk("big") {
		t.Fatal("third call admitted after the reload set max_calls 2")
	}
	h.Release()
	for _, h := range hs {
		h.Release()
	}
}

func TestExemptFromConfig(t *testing.T) {
	cfg := limitsConfig()
	cfg.SIP.Limits.SourceRate = ptr(1.0)
	cfg.SIP.Limits.SourceBurst = 1
	cfg.Trunks[0].Sources = []string{"127.0.0.1:5080", "198.51.100.0/24", "::ffff:192.0.2.1"}
	cfg.Trunks[1].Outbound = "sip:203.0.113.50:5060"
	cfg.Users[0].Contact = "sip:2000@127.0.0.1:5090;transport=udp"
	cfg.Users[1].Contact = "sip:2001@pbx.example.net:5090" // a name: not exempt
	l, _, _, _ := newLimits(t, cfg, nil)
	for _, tc := range []struct {
		addr   string
		exempt bool
	}{
		{"127.0.0.1:5080", true}, {"127.0.0.1:5090", true}, {"127.0.0.1:5070", false},
		{"198.51.100.200:5060", true}, {"192.0.2.1:1234", true}, {"203.0.113.50:5060", true},
		{"203.0.113.51:5060", false},
	} {
		a := udp(tc.addr)
		l.AdmitMessage(a, []byte("x"), false)
		if got := l.AdmitMessage(a, []byte("x"), false); got != tc.exempt {
			t.Errorf("%s: second message admitted = %v, want %v (exempt)", tc.addr, got, tc.exempt)
		}
	}
}

// TestMinutesAcrossMidnight: what a call used before midnight is stored under that day, even
// when the first to see the new day is a new call's check.
func TestMinutesAcrossMidnight(t *testing.T) {
	st := &memStore{}
	l, clk, _, _ := newLimits(t, limitsConfig(), st)
	clk.Add(11*time.Hour + 59*time.Minute) // 23:59 UTC
	day := l.day(clk.Now())
	h := l.Hold(nil)
	if r := h.Caller("1002", "+15550100", true); r != nil {
		t.Fatal(r)
	}
	h.Answered()
	clk.Add(20 * time.Second)
	l.Tick() // counted, not yet stored (PersistEvery)
	clk.Add(50 * time.Second)
	if used := l.Used("1002"); used != 0 { // a new day
		t.Fatalf("used on the new day before any tick: %v", used)
	}
	if got, _ := st.DailyUsage(day, "1002"); got != 20*time.Second {
		t.Fatalf("stored for the old day: %v, want 20s", got)
	}
	h.Release()
	if got, _ := st.DailyUsage(l.day(clk.Now()), "1002"); got != 50*time.Second {
		t.Fatalf("stored for the new day: %v, want 50s", got)
	}
}

// TestExemptSourceOutlivesReload: a source of ccswitch's own (the browser phones' SIP socket)
// exempted at start is never blocked, also after a reload, while another port of the same
// address and another address still are.
func TestExemptSourceOutlivesReload(t *testing.T) {
	cfg := limitsConfig()
	cfg.SIP.Limits.SourceRate, cfg.SIP.Limits.SourceBurst = ptr(10.0), 10
	l, _, _, _ := newLimits(t, cfg, nil)
	own := netip.MustParseAddrPort("127.0.0.1:40000")
	l.ExemptSource(own)
	flood := func(src string) (admitted int) {
		for range 100 {
			if l.src.Admit(udp(src), []byte("OPTIONS sip:x SIP/2.0\r\n\r\n"), false) {
				admitted++
			}
		}
		return admitted
	}
	for round, reload := range []bool{false, true} {
		if reload {
			if err := l.Reload(cfg); err != nil {
				t.Fatal(err)
			}
		}
		if n := flood(own.String()); n != 100 {
			t.Errorf("round %d: own source admitted %d of 100", round, n)
		}
	}
	if n := flood("127.0.0.1:40001"); n >= 100 {
		t.Errorf("another port of the same address was not limited: %d of 100", n)
	}
	if n := flood("127.0.0.2:40000"); n >= 100 {
		t.Errorf("another address was not limited: %d of 100", n)
	}
}
