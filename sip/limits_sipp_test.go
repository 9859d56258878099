package sip_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/limit"
	"github.com/ccswitch/ccswitch/store"
	"github.com/prometheus/client_golang/prometheus"
)

func ptr[T any](v T) *T { return &v }

// manualClock is the limits' clock in tests that move time by hand (call rate, minutes).
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func newManualClock() *manualClock { return &manualClock{t: time.Now()} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// withLimits builds the server's limits on its store, with a registry to read the counts and
// an optional clock.
func withLimits(t testing.TB, cfg *config.Config, reg *prometheus.Registry, clk *manualClock) func(*store.Store) []sip.Option {
	return func(st *store.Store) []sip.Option {
		o := limit.Options{Store: st, Logger: testLogger(t), Registerer: reg}
		if clk != nil {
			o.Now = clk.Now
		}
		l, err := limit.New(cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		return []sip.Option{sip.WithLimits(l)}
	}
}

// metric returns a counter's value from reg, by name and (optionally) its "limit" label.
func metric(t testing.TB, reg *prometheus.Registry, name, lim string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := lim == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "limit" && lp.GetValue() == lim {
					match = true
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitUntil polls cond every 20 ms for at most 15 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// extCall starts SIPp as extension ext calling number with scenario (uac_auth*.xml).
func extCall(t testing.TB, ts *testServer, scenario, ext, number string, extra ...string) *sippRun {
	args := append(sippArgs(scenario, testenv.FreePort(t), "-key", "user", ext, "-au", ext, "-ap", "secret"+ext,
		"-auth_uri", authURI(number, ts.addr), "-s", number, "-m", "1"), extra...)
	return startSIPp(t, ext+" → "+number+" ("+scenario+")", append(args, ts.addr)...)
}

// TestSIPpMaxCallsReachedThenReleased: 1001 and 1002 may each be in one call. While 1001
// talks to 1002, 1001 placing a second call gets 403 and 1003 calling 1002 gets 486 Busy Here;
// once the call ends both slots are free and the same call goes through.
func TestSIPpMaxCallsReachedThenReleased(t *testing.T) {
	cfg := testConfig()
	cfg.Users[0].MaxCalls = ptr(1)
	cfg.Users[1].MaxCalls = ptr(1)
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, nil), md5Only)
	uasPort := testenv.FreePort(t)
	registerContact(t, ts, "1002", uasPort)
	uas := startSIPp(t, "uas 1002", sippArgs("uas.xml", uasPort, "-m", "2")...)
	time.Sleep(100 * time.Millisecond)

	held := extCall(t, ts, "uac_auth_hold.xml", "1001", "1002", "-d", "5000")
	waitUntil(t, "the first call up", func() bool { return ts.ActiveCalls() == 1 })
	lim := ts.Limits()
	if lim.ExtensionCalls("1001") != 1 || lim.ExtensionCalls("1002") != 1 {
		t.Fatalf("calls: 1001 %d, 1002 %d; want 1 each", lim.ExtensionCalls("1001"), lim.ExtensionCalls("1002"))
	}
	second := extCall(t, ts, "uac_auth_403.xml", "1001", "1003")
	busy := extCall(t, ts, "uac_auth_486.xml", "1003", "1002")
	second.wait(t)
	busy.wait(t)
	held.wait(t)
	waitUntil(t, "the slots released", func() bool {
		return lim.ExtensionCalls("1001") == 0 && lim.ExtensionCalls("1002") == 0 && lim.ExtensionCalls("1003") == 0
	})
	again := extCall(t, ts, "uac_auth.xml", "1001", "1002")
	again.wait(t)
	uas.wait(t)
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "caller_calls"); got != 1 {
		t.Errorf("caller_calls refusals = %v, want 1", got)
	}
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "callee_calls"); got != 1 {
		t.Errorf("callee_calls refusals = %v, want 1", got)
	}
	recs := records(t, ts, 4)
	codes := map[int]int{}
	for _, r := range recs {
		codes[r.Code]++
	}
	if codes[200] != 2 || codes[403] != 1 || codes[486] != 1 {
		t.Errorf("record codes %v, want two 200, one 403, one 486", codes)
	}
}

// TestSIPpTrunkMaxCallsInbound: a trunk with max_calls 1 refuses a second concurrent call
// with 503 (the carrier routes it elsewhere), and takes the next once the first ended.
func TestSIPpTrunkMaxCallsInbound(t *testing.T) {
	cfg, _, uasPort := trunkConfig(t)
	cfg.Trunks[0].Sources = []string{"127.0.0.1"} // every SIPp below is the carrier
	cfg.Trunks[0].MaxCalls = 1
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, nil), md5Only)
	uas := startSIPp(t, "uas 2000", sippArgs("uas.xml", uasPort, "-m", "2")...)
	time.Sleep(100 * time.Millisecond)
	carrier := func(name string, extra ...string) *sippRun {
		return startSIPp(t, name, append(sippArgs("", testenv.FreePort(t), append([]string{"-s", "+15550100", "-m", "1"}, extra...)...), ts.addr)[2:]...)
	}
	held := carrier("held", "-sn", "uac", "-d", "5000")
	waitUntil(t, "the first call up", func() bool { return ts.ActiveCalls() == 1 })
	refused := startSIPp(t, "refused", append(sippArgs("uac_503_noauth.xml", testenv.FreePort(t), "-s", "+15550100", "-m", "1"), ts.addr)...)
	refused.wait(t)
	held.wait(t)
	waitUntil(t, "the trunk slot released", func() bool { return ts.Limits().TrunkCalls("carrier") == 0 })
	carrier("after", "-sn", "uac", "-d", "0").wait(t)
	uas.wait(t)
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "trunk_calls"); got != 1 {
		t.Errorf("trunk_calls refusals = %v, want 1", got)
	}
}

// TestSIPpTrunkMaxCallsOutbound: with trunk a full, an outbound call goes to trunk b; with
// both full, the extension gets 503.
func TestSIPpTrunkMaxCallsOutbound(t *testing.T) {
	cfg := testConfig()
	pa := testenv.FreePort(t)
	pb := testenv.FreePortExcept(t, pa)
	off := config.Duration(0)
	cfg.Trunks = []config.Trunk{
		{Name: "a", Outbound: fmt.Sprintf("127.0.0.1:%d", pa), MaxCalls: 1, OptionsInterval: &off},
		{Name: "b", Outbound: fmt.Sprintf("127.0.0.1:%d", pb), MaxCalls: 1, OptionsInterval: &off},
	}
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, nil), md5Only)
	uasA := startSIPp(t, "uas a", sippArgs("uas.xml", pa, "-m", "1")...)
	uasB := startSIPp(t, "uas b", sippArgs("uas.xml", pb, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	first := extCall(t, ts, "uac_auth_hold.xml", "1001", "+15551234", "-d", "5000")
	waitUntil(t, "trunk a busy", func() bool { return ts.Limits().TrunkCalls("a") == 1 && ts.ActiveCalls() == 1 })
	second := extCall(t, ts, "uac_auth_hold.xml", "1002", "+15551235", "-d", "5000")
	waitUntil(t, "trunk b busy", func() bool { return ts.Limits().TrunkCalls("b") == 1 && ts.ActiveCalls() == 2 })
	third := extCall(t, ts, "uac_auth_503.xml", "1003", "+15551236")
	third.wait(t)
	first.wait(t)
	second.wait(t)
	uasA.wait(t)
	uasB.wait(t)
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "trunk_calls"); got != 3 {
		t.Errorf("full trunks skipped %v times, want 3 (a once, then a and b)", got)
	}
	waitUntil(t, "trunk slots released", func() bool { return ts.Limits().TrunkCalls("a")+ts.Limits().TrunkCalls("b") == 0 })
}

// TestSIPpCallRate: an extension allowed 1 call/s with 2 at once gets 503 with Retry-After on
// the third call in the same instant, and places the next one a second later.
func TestSIPpCallRate(t *testing.T) {
	cfg := testConfig()
	cfg.SIP.Limits.Classes = []config.Class{{Name: "slow", CallRate: ptr(1.0), CallBurst: 2}}
	cfg.Users[0].Class = "slow"
	clk := newManualClock()
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, clk), md5Only)
	uasPort := testenv.FreePort(t)
	registerContact(t, ts, "1002", uasPort)
	uas := startSIPp(t, "uas 1002", sippArgs("uas.xml", uasPort, "-m", "3")...)
	time.Sleep(100 * time.Millisecond)
	extCall(t, ts, "uac_auth.xml", "1001", "1002").wait(t)
	extCall(t, ts, "uac_auth.xml", "1001", "1002").wait(t)
	extCall(t, ts, "uac_auth_503_retry.xml", "1001", "1002").wait(t)
	clk.Add(time.Second)
	extCall(t, ts, "uac_auth.xml", "1001", "1002").wait(t)
	uas.wait(t)
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "call_rate"); got != 1 {
		t.Errorf("call_rate refusals = %v, want 1", got)
	}
}

// TestSIPpDestinations: a class allows +1 but not the premium-rate +1900; a number outside
// the allowed prefixes and a denied one get 403, an allowed one reaches the trunk.
func TestSIPpDestinations(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	cfg.SIP.Limits.Classes = []config.Class{{Name: "domestic", Allow: []string{"+1"}, Deny: []string{"+1900", "+1976"}}}
	cfg.Users[0].Class = "domestic"
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, nil), md5Only)
	uas := startSIPp(t, "carrier uas", sippArgs("uas.xml", carrier, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	for _, n := range []string{"+19005551234", "19765551234", "+445551234", "00445551234"} {
		extCall(t, ts, "uac_auth_403.xml", "1001", n).wait(t)
	}
	extCall(t, ts, "uac_auth.xml", "1001", "+15551234").wait(t)
	uas.wait(t)
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "destination"); got != 4 {
		t.Errorf("destination refusals = %v, want 4", got)
	}
}

// TestSIPpDailyMinutesCutAndKept: 1001 may call out 1 minute a day. Its call is ended (BYE to
// both sides) when the minute is used; after a restart on the same store its next call is
// refused 403.
func TestSIPpDailyMinutesCutAndKept(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	cfg.Users[0].DailyMinutes = ptr(1)
	clk := newManualClock()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, prometheus.NewRegistry(), clk), md5Only)
	uas := startSIPp(t, "carrier uas", sippArgs("uas.xml", carrier, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	caller := extCall(t, ts, "uac_auth_recvbye.xml", "1001", "+15551234")
	waitUntil(t, "the call up", func() bool { return ts.ActiveCalls() == 1 })
	// The call's minutes start at its answer, which may come a moment after the leg is up:
	// move the clock a minute at a time until the call is cut.
	waitUntil(t, "the call cut", func() bool {
		clk.Add(time.Minute)
		ts.Limits().Tick()
		return ts.ActiveCalls() == 0
	})
	caller.wait(t)
	uas.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || rec.Cause != "daily-minutes" || rec.Direction != "outbound" {
		t.Fatalf("record %+v, want an answered outbound call ended by daily-minutes", rec)
	}
	dir := ts.dir
	ts.stop()

	reg := prometheus.NewRegistry()
	ts2 := startServerWith(t, cfg, dir, withLimits(t, cfg, reg, clk), md5Only)
	if used := ts2.Limits().Used("1001"); used < time.Minute {
		t.Fatalf("after restart 1001 has used %v, want at least 1m", used)
	}
	extCall(t, ts2, "uac_auth_403.xml", "1001", "+15551234").wait(t)
	if got := metric(t, reg, "ccswitch_sip_limit_refused_total", "daily_minutes"); got != 1 {
		t.Errorf("daily_minutes refusals = %v, want 1", got)
	}
}

// TestSIPpEmergency: 1005 has no outbound right and is already in its one allowed call, yet
// 911 reaches the emergency trunk (the second trunk, whose prefixes do not cover 911); an
// ordinary number from 1005 is still 403, and an unauthenticated 911 only gets 407.
func TestSIPpEmergency(t *testing.T) {
	cfg := testConfig()
	cfg.Users[4].MaxCalls = ptr(1) // 1005, outbound: false
	cfg.SIP.Emergency = []string{"112", "911"}
	pIntl := testenv.FreePort(t)
	pCarrier := testenv.FreePortExcept(t, pIntl)
	off := config.Duration(0)
	cfg.Trunks = []config.Trunk{
		{Name: "intl", Outbound: fmt.Sprintf("127.0.0.1:%d", pIntl), Prefixes: []string{"+44"}, OptionsInterval: &off},
		{Name: "carrier", Outbound: fmt.Sprintf("127.0.0.1:%d", pCarrier), Prefixes: []string{"+1"}, OptionsInterval: &off, MaxCalls: 1},
	}
	cfg.SIP.EmergencyTrunk = "carrier"
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, nil), md5Only)

	// 1005 talks to 1001: its one call.
	p1001 := testenv.FreePort(t)
	registerContact(t, ts, "1001", p1001)
	uas1001 := startSIPp(t, "uas 1001", sippArgs("uas.xml", p1001, "-m", "1")...)
	uasCarrier := startSIPp(t, "emergency trunk", sippArgs("uas.xml", pCarrier, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	held := extCall(t, ts, "uac_auth_hold.xml", "1005", "1001", "-d", "4000")
	waitUntil(t, "1005 in a call", func() bool { return ts.ActiveCalls() == 1 })

	extCall(t, ts, "uac_auth.xml", "1005", "911").wait(t)
	uasCarrier.wait(t)
	extCall(t, ts, "uac_auth_403.xml", "1005", "+15551234").wait(t)
	startSIPp(t, "unauthenticated 112", append(sippArgs("uac_407.xml", testenv.FreePort(t), "-key", "user", "1005", "-s", "112", "-m", "1"), ts.addr)...).wait(t)
	held.wait(t)
	uas1001.wait(t)

	var emergency *store.CallRecord
	for _, r := range records(t, ts, 3) {
		if r.To == "911" {
			emergency = &r
		}
	}
	if emergency == nil || emergency.Code != 200 || emergency.Trunk != "carrier" || emergency.From != "1005" {
		t.Fatalf("emergency call record %+v, want 200 from 1005 through trunk carrier", emergency)
	}
	if got := metric(t, reg, "ccswitch_sip_emergency_calls_total", ""); got != 1 {
		t.Errorf("emergency calls counted %v, want 1", got)
	}
}
