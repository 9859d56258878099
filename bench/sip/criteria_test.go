package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestStepProblems: a step is clean with 0 failed calls and setup p99 within the bound, both
// targets judged by the same rule; every other case says why in words.
func TestStepProblems(t *testing.T) {
	good := stepResult{Target: "ccswitch", Rate: 1000, Calls: 5000, Stats: sippStats{Success: 5000}, P50: 0, P99: 48, Max: 60, MaxP99: 50}
	for _, c := range []struct {
		name string
		edit func(*stepResult)
		want []string
	}{
		{"clean", func(*stepResult) {}, nil},
		{"p99 exactly the bound", func(s *stepResult) { s.P99 = 50 }, nil},
		{"p99 one tick over", func(s *stepResult) { s.P99 = 52 }, []string{"p99 52 ms > 50 ms"}},
		{"a backlog without failures is not clean", func(s *stepResult) { s.P50, s.P99 = 316, 552 }, []string{"p99 552 ms > 50 ms"}},
		{"no bound: failures only", func(s *stepResult) { s.MaxP99, s.P99 = 0, 552 }, nil},
		{"no setup time measured", func(s *stepResult) { s.P99 = math.NaN() }, []string{"no setup time measured"}},
		{"failed calls", func(s *stepResult) { s.Stats.Success, s.Stats.Failed, s.ExitCode = 4990, 10, 1 }, []string{"10 failed"}},
		{"failed and slow", func(s *stepResult) { s.Stats.Success, s.Stats.Failed, s.P99 = 4990, 10, 80 }, []string{"10 failed", "p99 80 ms > 50 ms"}},
		{"UAS failures", func(s *stepResult) { s.UASFailed = 3 }, []string{"3 failed at the UAS"}},
		{"calls missing without a failure", func(s *stepResult) { s.Stats.Success = 4000 }, []string{"4000 of 5000 succeeded"}},
		{"sipp exit without a failure", func(s *stepResult) { s.ExitCode = 99 }, []string{"sipp exit 99"}},
		{"harness error", func(s *stepResult) { s.Err = "uac stat: no data line" }, []string{"harness: uac stat: no data line"}},
		{"disturbed", func(s *stepResult) { s.Disturbed = "the UAS exited" }, []string{"disturbed"}},
		{"nothing succeeded: no latency verdict", func(s *stepResult) { s.Stats.Success, s.Stats.Failed, s.P99 = 0, 5000, math.NaN() }, []string{"5000 failed"}},
	} {
		s := good
		c.edit(&s)
		got := s.problems()
		if !reflect.DeepEqual(got, c.want) || s.clean() != (len(c.want) == 0) {
			t.Errorf("%s: problems %q (clean %v), want %q", c.name, got, s.clean(), c.want)
		}
	}
}

// TestRatioLines: the two last lines, from the ladders' best clean steps; what cannot be
// computed is n/a, and a ccswitch with no clean step is 0.
func TestRatioLines(t *testing.T) {
	step := func(name string, k kind, rate int, ok bool, cpuMS int) stepResult {
		s := stepResult{Target: name, Kind: k, Rate: rate, Calls: rate, Stats: sippStats{Success: rate}, P99: 4, MaxP99: 50,
			TargetCPU: time.Duration(cpuMS) * time.Millisecond, TargetProcs: 1, Wall: time.Second}
		if !ok {
			s.P99 = 400
		}
		return s
	}
	calls := []*target{
		{name: "ccswitch", kind: kindCalls, steps: []stepResult{step("ccswitch", kindCalls, 1000, true, 600), step("ccswitch", kindCalls, 2000, false, 1400)}},
		{name: "kamailio", kind: kindCalls, steps: []stepResult{step("kamailio", kindCalls, 1000, true, 300), step("kamailio", kindCalls, 2000, true, 500), step("kamailio", kindCalls, 4000, false, 900)}},
	}
	regs := []*target{
		{name: "ccswitch", kind: kindRegs, steps: []stepResult{step("ccswitch", kindRegs, 1000, false, 600)}},
		{name: "kamailio", kind: kindRegs, steps: []stepResult{step("kamailio", kindRegs, 1000, true, 100)}},
	}
	for _, c := range []struct {
		name string
		e    *env
		want string
	}{
		{"both", &env{calls: calls, regs: regs}, "ratio ccswitch/kamailio calls/s=0.50 cpu/call=2.00\nratio ccswitch/kamailio registrations/s=0.00\n"},
		{"calls only", &env{calls: calls}, "ratio ccswitch/kamailio calls/s=0.50 cpu/call=2.00\n"},
		{"no peer", &env{calls: calls[:1], regs: regs[:1]}, "ratio ccswitch/kamailio calls/s=n/a cpu/call=n/a\nratio ccswitch/kamailio registrations/s=n/a\n"},
		{"peer never clean", &env{regs: []*target{regs[1], {name: "kamailio", kind: kindRegs}}[1:]}, "ratio ccswitch/kamailio registrations/s=n/a\n"},
	} {
		if got := ratioLines(c.e); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestParseSmapsRollup(t *testing.T) {
	in := "55d0c6a6b000-7ffd7b1f1000 ---p 00000000 00:00 0                          [rollup]\n" +
		"Rss:               29248 kB\nPss:               27012 kB\nPss_Anon:          20480 kB\nShared_Clean:       4096 kB\n"
	pss, rss, err := parseSmapsRollup(strings.NewReader(in))
	if err != nil || pss != 27012*1024 || rss != 29248*1024 {
		t.Errorf("got pss %d rss %d, %v", pss, rss, err)
	}
	if _, _, err := parseSmapsRollup(strings.NewReader("Rss: 1 kB\n")); err == nil {
		t.Error("no Pss: no error")
	}
	if _, _, err := parseSmapsRollup(strings.NewReader("Rss: x kB\nPss: 1 kB\n")); err == nil {
		t.Error("bad number: no error")
	}
	// This process's own file parses.
	f, err := os.Open("/proc/self/smaps_rollup")
	if err != nil {
		t.Skip("no smaps_rollup on this kernel")
	}
	defer f.Close()
	if pss, rss, err := parseSmapsRollup(f); err != nil || pss <= 0 || rss < pss {
		t.Errorf("own smaps_rollup: pss %d rss %d, %v", pss, rss, err)
	}
}

func TestParseHeapDebug(t *testing.T) {
	text := "heap profile: 3: 4096 [10: 40960] @ heap/1048576\n1: 4096 [1: 4096] @ 0x1 0x2\n\n" +
		"# runtime.MemStats\n# Alloc = 3987344\n# TotalAlloc = 9000000\n# Sys = 17078536\n# HeapAlloc = 3987344\n# HeapSys = 7962624\n# HeapInuse = 5603328\n# PauseNs = [0 0 0]\n"
	m, err := parseHeapDebug(text)
	if err != nil || m["HeapAlloc"] != 3987344 || m["HeapSys"] != 7962624 || m["Sys"] != 17078536 {
		t.Errorf("got %v, %v", m, err)
	}
	if _, ok := m["PauseNs"]; ok {
		t.Error("PauseNs is a list, not a number")
	}
	if _, err := parseHeapDebug("heap profile: 0: 0 [0: 0] @ heap/1\n"); err == nil {
		t.Error("no MemStats: no error")
	}
}

func TestMemPerUnit(t *testing.T) {
	m := memResult{N: 1000, Before: memSample{Heap: 4 << 20, PSS: 30 << 20}, After: memSample{Heap: 4<<20 + 819000, PSS: 30<<20 - 1000}}
	heap := func(s memSample) int64 { return s.Heap }
	pss := func(s memSample) int64 { return s.PSS }
	if got := m.per(heap); got != 819 {
		t.Errorf("heap per unit %v", got)
	}
	if got := m.per(pss); got != -1 {
		t.Errorf("pss per unit %v (a fall is reported as such)", got)
	}
	for _, bad := range []memResult{
		{N: 0, After: memSample{Heap: 1}},
		{N: 10, Before: memSample{Heap: -1}, After: memSample{Heap: 5}},
		{N: 10, Err: "restart failed", After: memSample{Heap: 5}},
	} {
		if !math.IsNaN(bad.per(heap)) {
			t.Errorf("%+v: want NaN", bad)
		}
	}
}

func TestRTPPortCount(t *testing.T) {
	for in, want := range map[string]int{"20000-20999": 1000, " 16384 - 32767 ": 16384, "5-4": 0, "x-1": 0, "1000": 0, "": 0} {
		if got := rtpPortCount(in); got != want {
			t.Errorf("%q: got %d, want %d", in, got, want)
		}
	}
}

// TestRegistrationFiles: the injection file puts the whole [authentication] keyword in the
// second field (SIPp 3.6.1 does not expand [fieldN] inside it) and rotates; Kamailio's
// db_text rows are key/type/value/expires.
func TestRegistrationFiles(t *testing.T) {
	users := []regUser{{"r00000", "aa"}, {"r00001", "bb"}, {"r00002", "cc"}}
	dir := t.TempDir()
	inj := filepath.Join(dir, "users.csv")
	if err := writeInjection(inj, users, 4); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(inj)
	want := "SEQUENTIAL\nr00001;[authentication username=r00001 password=bb]\nr00002;[authentication username=r00002 password=cc]\nr00000;[authentication username=r00000 password=aa]\n"
	if string(b) != want {
		t.Errorf("injection:\n got %q\nwant %q", b, want)
	}
	if err := writeKamailioCreds(filepath.Join(dir, "db"), users); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, "db", "creds"))
	want = "id(int,auto) key_name(string) key_type(int) value_type(int) key_value(string) expires(int)\n1:r00000:0:0:aa:0\n2:r00001:0:0:bb:0\n3:r00002:0:0:cc:0\n"
	if string(b) != want {
		t.Errorf("creds:\n got %q\nwant %q", b, want)
	}
	mk := makeUsers(3)
	if len(mk) != 3 || mk[2].name != "r00002" || len(mk[0].password) != 16 || mk[0].password == mk[1].password {
		t.Errorf("makeUsers: %+v", mk)
	}
	y := usersYAML(users[:1], 5086, "/repo/configs/prompts")
	for _, w := range []string{`prompts: "/repo/configs/prompts"`, `- {extension: "r00000", secret: "aa"}`, `contact: "sip:bench-reg-source@127.0.0.1:5086", max_calls: 0`} {
		if !strings.Contains(y, w) {
			t.Errorf("users YAML lacks %q:\n%s", w, y)
		}
	}
}

// TestE2ELogs: SENT and RING lines pair by call number; a call that never rang is missing;
// other log lines and a second RING of the same call (a RONA re-ring) are ignored.
func TestE2ELogs(t *testing.T) {
	carrier := "SENT 1 2026-12-04\t00:55:05.434502\t1796345705.434502\n" +
		"SENT 2 2026-12-04\t00:55:05.934143\t1796345705.934143\n" +
		"SENT 3 2026-12-04\t00:55:06.434328\t1796345706.434328\n"
	agents := "caller sip:e2e1@127.0.0.1 contact sip:x\n" +
		"RING 1 2026-12-04\t00:55:05.437472\t1796345705.437472\n" +
		"RING 2 2026-12-04\t00:55:05.940143\t1796345705.940143\n" +
		"RING 2 2026-12-04\t00:55:15.940143\t1796345715.940143\n" +
		"RING  2026-12-04\t00:55:05.940143\t1796345705.940143\n"
	logs := map[string]map[int]int64{"SENT": {}, "RING": {}}
	for _, text := range []string{carrier, agents} {
		l, err := parseE2ELogs(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		for k, m := range l {
			for n, v := range m {
				logs[k][n] = v
			}
		}
	}
	lat, missing := pairLatencies(logs)
	if missing != 1 || len(lat) != 2 {
		t.Fatalf("latencies %v, missing %d", lat, missing)
	}
	got := map[float64]bool{}
	for _, v := range lat {
		got[math.Round(v*1000)/1000] = true
	}
	if !got[2.97] || !got[6] {
		t.Errorf("latencies %v, want 2.97 ms and 6 ms", lat)
	}
}

// TestWebhookBody: the notification is valid JSON in WhatsApp's shape, from a new customer per
// number, and its signature is Meta's HMAC-SHA256 of the exact body.
func TestWebhookBody(t *testing.T) {
	b := whatsAppBody(42, time.Unix(1796345705, 0))
	var p struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct{ From, ID, Timestamp, Type string }
				}
			}
		}
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	m := p.Entry[0].Changes[0].Value.Messages[0]
	if m.From != "19990000042" || m.ID != "wamid.bench42" || m.Timestamp != "1796345705" || m.Type != "text" || !bytes.Contains(b, []byte(`"body":"bench-42"`)) {
		t.Errorf("message %+v in %s", m, b)
	}
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write(b)
	if got := signature("k", b); got != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %s", got)
	}
	tr := newTextTracker()
	tr.sent[42] = time.Unix(100, 0)
	tr.offered("bench-42", time.Unix(100, 5e6))
	tr.offered("bench-42", time.Unix(101, 0)) // re-offer
	tr.offered("hello", time.Unix(101, 0))
	if len(tr.lat) != 1 || tr.lat[0] != 5 || tr.dup != 1 || tr.offers != 3 || tr.errs["offer without a bench message in its preview"] != 1 || tr.missing() != 0 {
		t.Errorf("tracker %+v", tr)
	}
}

// TestFlatness: RSS is judged on the least-squares growth over the window (the run's last
// window, or its last half when shorter) against a share of the window's mean.
func TestFlatness(t *testing.T) {
	series := func(n int, f func(i int) float64) []soakSample {
		var s []soakSample
		for i := range n {
			s = append(s, soakSample{At: time.Duration(i) * 10 * time.Second, RSS: int64(f(i))})
		}
		return s
	}
	const mb = 1 << 20
	for _, c := range []struct {
		name    string
		s       []soakSample
		window  time.Duration
		flat    bool
		growthM float64 // expected growth, MiB
	}{
		// 30 minutes: warm-up growth in the first 10, then a GC sawtooth around 500 MiB.
		{"plateau after warm-up", series(181, func(i int) float64 {
			if i < 60 {
				return float64(100+400*i/60) * mb
			}
			return float64(500+20*(i%2)) * mb
		}), 10 * time.Minute, true, 0},
		{"steady leak", series(181, func(i int) float64 { return float64(100+2*i) * mb }), 10 * time.Minute, false, 120},
		{"short run: last half", series(13, func(i int) float64 { return float64(200) * mb }), 10 * time.Minute, true, 0},
	} {
		growth, _, _, flat := flatness(c.s, c.window, 5)
		if flat != c.flat || math.Abs(growth/mb-c.growthM) > 3 {
			t.Errorf("%s: growth %.1f MiB flat %v, want ≈%.0f MiB flat %v", c.name, growth/mb, flat, c.growthM, c.flat)
		}
	}
	if _, _, _, flat := flatness(nil, time.Minute, 5); flat {
		t.Error("no samples: flat")
	}
	if slope, mean := leastSquares([]float64{0, 1, 2}, []float64{1, 3, 5}); slope != 2 || mean != 3 {
		t.Errorf("least squares: slope %v mean %v", slope, mean)
	}
}

func TestPerMinuteP99(t *testing.T) {
	v := []float64{1, 2, 3, 40, 50, 7}
	d := []float64{1000, 30000, 59999, 60000, 61000, 185000}
	got := perMinuteP99(v, d)
	want := []float64{3, 50, math.NaN(), 7}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
			t.Errorf("minute %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestParseTotalSamples(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"Duration: 5s, Total samples = 180ms ( 3.60%)": 180 * time.Millisecond,
		"Duration: 3s, Total samples = 1.36s (45.30%)": 1360 * time.Millisecond,
		"Total samples = 250µs":                        250 * time.Microsecond,
	} {
		if got, err := parseTotalSamples(in); err != nil || got != want {
			t.Errorf("%q: got %v, %v", in, got, err)
		}
	}
	if _, err := parseTotalSamples("Showing nodes"); err == nil {
		t.Error("no total: no error")
	}
}

// TestProfileRate: the profile runs at the highest clean rate, or at the lowest rate tried
// when none was clean.
func TestProfileRate(t *testing.T) {
	ok := stepResult{Calls: 10, Stats: sippStats{Success: 10}, P99: 1, MaxP99: 50}
	bad := ok
	bad.P99 = 100
	at := func(s stepResult, r int) stepResult { s.Rate = r; return s }
	if r, clean := profileRate(&target{steps: []stepResult{at(ok, 500), at(ok, 1000), at(bad, 1500)}}); r != 1000 || !clean {
		t.Errorf("got %d %v", r, clean)
	}
	if r, clean := profileRate(&target{steps: []stepResult{at(bad, 500), at(bad, 500)}}); r != 500 || clean {
		t.Errorf("got %d %v", r, clean)
	}
	if r, _ := profileRate(&target{}); r != 0 {
		t.Errorf("no steps: %d", r)
	}
}
