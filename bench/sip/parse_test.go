package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// testdata/uac-stat.csv, uac-rtt.csv and uac-errors.log are the files of one real step
// (SIPp 3.6.1 UAC through Kamailio, 500 calls/s, 1000 calls, 4 of them failed); the expected
// figures below were read off the files independently (awk/python over the same lines).

func TestParseStatCSV(t *testing.T) {
	s, err := readStatFile("testdata/uac-stat.csv")
	if err != nil {
		t.Fatal(err)
	}
	want := sippStats{
		Created: 1000, Current: 0, Success: 996, Failed: 4, Retrans: 0, RecvTimeout: 4,
		DeadCall: 3, Elapsed: 6 * time.Second, RTMean: time.Millisecond,
	}
	if s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	// The failure causes add up to the failed calls.
	if c := s.Unexpected + s.MaxUDPRetrans + s.RecvTimeout + s.Rejected; c != s.Failed {
		t.Errorf("failure causes %d != failed %d", c, s.Failed)
	}
}

func TestParseStatCSVErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"header only":    "TotalCallCreated;CurrentCall;\n",
		"missing column": "TotalCallCreated;\n5;\n",
	} {
		if _, err := parseStatCSV(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseSippDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"00:00:06":        6 * time.Second,
		"01:02:03":        time.Hour + 2*time.Minute + 3*time.Second,
		"00:00:00:001000": time.Millisecond,
		"00:00:01:522000": 1522 * time.Millisecond,
	} {
		got, err := parseSippDuration(in)
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "6", "00:00", "a:b:c"} {
		if _, err := parseSippDuration(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestParseRTTAndPercentiles(t *testing.T) {
	v, err := readRTTFile("testdata/uac-rtt.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 1000 {
		t.Fatalf("samples: got %d, want 1000", len(v))
	}
	for _, c := range []struct{ p, want float64 }{{50, 0}, {99, 12}, {100, 24}} {
		if got := percentile(v, c.p); got != c.want {
			t.Errorf("p%v: got %v ms, want %v ms", c.p, got, c.want)
		}
	}
	// Only RTD 1 is kept; a malformed line is an error.
	v, err = parseRTT(strings.NewReader("Date_ms;response_time_ms;rtd_no\n1.0;5;1\n1.0;7;2\n2.0;9;1\n"), 1)
	if err != nil || len(v) != 2 || v[0] != 5 || v[1] != 9 {
		t.Errorf("rtd filter: got %v, %v", v, err)
	}
	if _, err := parseRTT(strings.NewReader("1.0;5\n"), 1); err == nil {
		t.Error("short line: no error")
	}
}

func TestPercentileNearestRank(t *testing.T) {
	v := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6} // 1..10 shuffled
	for _, c := range []struct{ p, want float64 }{{1, 1}, {10, 1}, {11, 2}, {50, 5}, {99, 10}, {100, 10}} {
		if got := percentile(v, c.p); got != c.want {
			t.Errorf("p%v: got %v, want %v", c.p, got, c.want)
		}
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("empty: want NaN")
	}
}

func TestParseSNMP(t *testing.T) {
	f, err := os.Open("testdata/proc-net-snmp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := parseSNMP(f, "Udp")
	if err != nil {
		t.Fatal(err)
	}
	if m["RcvbufErrors"] != 26923 || m["InErrors"] != 26923 || m["InDatagrams"] != 566341 {
		t.Errorf("got %v", m)
	}
	if _, err := parseSNMP(strings.NewReader("Tcp: A\nTcp: 1\n"), "Udp"); err == nil {
		t.Error("no Udp lines: no error")
	}
}

func TestParseProcNetUDP(t *testing.T) {
	f, err := os.Open("testdata/proc-net-udp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := parseProcNetUDP(f)
	if err != nil {
		t.Fatal(err)
	}
	// 0x13EB = 5099 (a socket with a 4 KiB buffer that was flooded), 0x13EA = 5098.
	if m[5099] != 194 || m[5098] != 0 || len(m) != 3 {
		t.Errorf("got %v", m)
	}
}

func TestStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 50, stime 12, cutime 3, cstime 4.
	line := "19052 (kam (x) y) S 19050 19050 1 0 -1 4194624 1474 0 0 0 50 12 3 4 20 0 1 0 60914 1157758976 2316 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0"
	ticks, ppid, err := statCPU(line)
	if err != nil || ticks != 69 || ppid != 19050 {
		t.Errorf("got %d ticks, ppid %d, %v", ticks, ppid, err)
	}
	if _, _, err := statCPU("1 (x) S 1"); err == nil {
		t.Error("short line: no error")
	}
}

func TestTreeCPUSelf(t *testing.T) {
	// Burn a little CPU and find it in our own tree.
	deadline := time.Now().Add(50 * time.Millisecond)
	for time.Now().Before(deadline) {
	}
	d, n := treeCPU(os.Getpid())
	if n < 1 || d <= 0 {
		t.Errorf("own tree: %v over %d processes", d, n)
	}
}

func TestStatusCode(t *testing.T) {
	if c, err := statusCode([]byte("SIP/2.0 200 OK\r\nVia: x\r\n\r\n")); err != nil || c != 200 {
		t.Errorf("got %d, %v", c, err)
	}
	if _, err := statusCode([]byte("OPTIONS sip:x SIP/2.0\r\n")); err == nil {
		t.Error("request: no error")
	}
}

func TestErrorSummary(t *testing.T) {
	b, err := os.ReadFile("testdata/uac-errors.log")
	if err != nil {
		t.Fatal(err)
	}
	// The 4 failed calls of the captured step: receive timeouts waiting at index 3; its
	// dead-call lines are not failures.
	sum, ex := errorSummary(string(b))
	if sum != "4 × receive timeout at index 3" {
		t.Errorf("summary: got %q", sum)
	}
	if !strings.HasPrefix(ex, "Call-Id: 433-18004@127.0.0.1, receive timeout on message Basic Sipstone UAC:3") {
		t.Errorf("example: got %q", ex)
	}
	// Unexpected messages are keyed by what arrived and where; most frequent first.
	log := "The following events occurred:\n" +
		"2026-11-25\t23:03:47.273370\t1795647827.273370: Aborting call on unexpected message for Call-Id '1': while expecting '200' (index 8), received 'SIP/2.0 100 Trying\nVia: x\n'" +
		"2026-11-25\t23:03:47.273371\t1795647827.273371: Aborting call on unexpected message for Call-Id '2': while pausing (index 6), received 'ACK sip:x SIP/2.0\nVia: x\n'" +
		"2026-11-25\t23:03:47.273372\t1795647827.273372: Aborting call on unexpected message for Call-Id '3': while pausing (index 6), received 'ACK sip:x SIP/2.0\nVia: x\n'" +
		"2026-11-25\t23:03:47.273373\t1795647827.273373: Dead call 4 (successful), received 'SIP/2.0 200 OK\n'" +
		"2026-11-25\t23:03:47.273374\t1795647827.273374: Call-Id: a8bf9c00, receive timeout on message Out-of-call UAS:0 without label to jump to (ontimeout attribute): aborting call\n"
	sum, _ = errorSummary(log)
	want := "2 × received 'ACK sip:x SIP/2.0' while pausing (index 6); 1 × received 'SIP/2.0 100 Trying' while expecting '200' (index 8)"
	if sum != want {
		t.Errorf("summary:\n got %q\nwant %q", sum, want)
	}
}

func TestStepVerdictAndReport(t *testing.T) {
	ok := stepResult{Target: "kamailio", Rate: 1000, Calls: 5000, Stats: sippStats{Created: 5000, Success: 5000},
		Wall: 5 * time.Second, TargetCPU: 2500 * time.Millisecond, TargetProcs: 12,
		UACCPU: time.Second, UASCPU: time.Second, P50: 0, P99: 4, Max: 8}
	bad := ok
	bad.Rate, bad.Calls, bad.Stats.Success, bad.Stats.Failed = 2000, 10000, 9990, 10
	uasBad := ok
	uasBad.UASFailed = 1
	if !ok.clean() || bad.clean() || uasBad.clean() {
		t.Fatalf("clean: ok %v bad %v uasBad %v", ok.clean(), bad.clean(), uasBad.clean())
	}
	if got := ok.usPerCall(); got != 500 {
		t.Errorf("µs/call: got %v, want 500", got)
	}
	if got := pct(ok.TargetCPU, ok.Wall); got != 50 {
		t.Errorf("cpu%%: got %v, want 50", got)
	}
	cc := ok
	cc.Target, cc.Rate = "ccswitch", 500
	k500 := ok
	k500.Rate, k500.Calls, k500.Stats.Success = 500, 2500, 2500
	k500.TargetCPU = 1250 * time.Millisecond
	e := &env{calls: []*target{
		{name: "ccswitch", steps: []stepResult{cc, func() stepResult { s := bad; s.Target = "ccswitch"; s.Rate = 1000; return s }()}, stopped: "first failures at 1000/s", failed: true},
		{name: "kamailio", steps: []stepResult{k500, ok, bad}, stopped: "first failures at 2000/s", failed: true},
	}, started: time.Now()}
	r := renderReport(config{command: "go run ./bench/sip", step: 5 * time.Second, maxP99: 50 * time.Millisecond}, e)
	for _, want := range []string{
		"- **ccswitch**: 500 calls/s, ccswitch CPU 50% (12 processes, 500 µs/call)",
		"- **kamailio**: 1000 calls/s",
		"| kamailio | 2000 | 10000 | 9990 | 10 |",
		"**failed**: 10 failed",
		"- CPU per call at 500/s, the highest rate both passed cleanly: ccswitch 500 µs, Kamailio 500 µs (1.00×)",
	} {
		if !strings.Contains(r, want) {
			t.Errorf("report lacks %q:\n%s", want, r)
		}
	}
	if got, want := ratioLines(e), "ratio ccswitch/kamailio calls/s=0.50 cpu/call=1.00\n"; got != want {
		t.Errorf("ratio lines: got %q, want %q", got, want)
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-targets", "kamailio, direct", "-rates", "100,200,9000", "-max-rate", "5000"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.targets) != 2 || len(c.rates) != 2 || c.rates[1] != 200 || !c.lenient["kamailio"] {
		t.Errorf("got %+v", c)
	}
	c, err = parseFlags(nil)
	if err != nil || !c.calls || !c.regs || c.maxP99 != 50*time.Millisecond || c.regUsers != 10000 || !c.memory || c.total > 15*time.Minute {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = parseFlags([]string{"-soak", "30m", "-rate", "800"})
	if err != nil || c.soak != 30*time.Minute || c.soakRate != 800 || c.soakRegRate != 400 {
		t.Errorf("soak: %+v, %v", c, err)
	}
	for _, args := range [][]string{{"-targets", "asterisk"}, {"-rates", "x"}, {"-rates", "9000"}, {"-step", "10ms"}, {"extra"},
		{"-runs", "options"}, {"-runs", ""}, {"-reg-rates", "0"}, {"-max-p99", "-1ms"}, {"-media", "relay"}, {"-reg-port", "5080"},
		{"-e2e", "-soak", "1m"}, {"-e2e", "-e2e-rate", "0"}, {"-soak", "1m", "-rate", "0"}, {"-reg-users", "0"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestHostTicks(t *testing.T) {
	// The first lines of a real /proc/stat of this machine kind.
	busy, steal, err := hostTicks("cpu  45741 0 10847 82423 659 0 534 6118 0 0\ncpu0 22508 0 5131 42188 143 0 147 3023 0 0\n")
	if err != nil || busy != 45741+10847+534 || steal != 6118 {
		t.Errorf("got busy %d steal %d, %v", busy, steal, err)
	}
	if _, _, err := hostTicks("intr 1 2 3\n"); err == nil {
		t.Error("no cpu line: no error")
	}
}

func TestEditDemo(t *testing.T) {
	in := "media:\n  ip: 127.0.0.1\n  rtp_ports: 20000-20999\n\nhttp:\n"
	b, err := editDemo([]byte(in), "20000-29999", "anchor")
	if want := "media:\n  ip: 127.0.0.1\n  rtp_ports: 20000-29999\n\nhttp:\n"; err != nil || string(b) != want {
		t.Errorf("got %q, %v", b, err)
	}
	if _, err := editDemo([]byte("media: {}\n"), "1-2", "anchor"); err == nil {
		t.Error("no rtp_ports line: no error")
	}
	trunk := "trunks:\n  - name: carrier\n    sources: [\"127.0.0.1:5080\"]\n    outbound: sip:127.0.0.1:5080\n\nnumbers: []\n"
	b, err = editDemo([]byte(trunk), "", "passthrough")
	if want := "trunks:\n  - name: carrier\n    sources: [\"127.0.0.1:5080\"]\n    outbound: sip:127.0.0.1:5080\n    media: passthrough\n\nnumbers: []\n"; err != nil || string(b) != want {
		t.Errorf("passthrough: got %q, %v", b, err)
	}
	if _, err := editDemo([]byte("trunks: []\n"), "", "passthrough"); err == nil {
		t.Error("no carrier outbound line: no error")
	}
}
