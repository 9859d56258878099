package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// -soak D: ccswitch under a steady mix for D — calls (-rate, the ladder's call: trunk → DID →
// the SIPp UAS, -call-ms long), registrations (-reg-rate, digest, the -reg-users cycling) and
// webhooks (-text-rate, each a new conversation that a desk accepts and closes) — while its
// RSS and every failure count are sampled. It passes with 0 failures of any kind and a flat
// RSS: the least-squares growth of RSS over the last -flat-window (or the last half of a
// shorter run) is at most -flat-pct % of the window's mean RSS.

// soakSample is one sample of the soak.
type soakSample struct {
	At                         time.Duration // since the load started
	RSS                        int64         // bytes (VmRSS)
	HeapAlloc, HeapSys         int64         // bytes, without forcing a GC; -1 when unknown
	Live                       int64         // bytes: the heap after a forced GC, once a minute; -1 otherwise
	CPU                        time.Duration // ccswitch's CPU since the load started
	Calls, CallsFailed, UASFai int
	Regs, RegsFailed           int
	Posted, Offered, Refused   int
}

// flatness fits RSS over the samples in the window (the last window of the run, or its last
// half when the run is shorter) and returns the fitted growth over the window, the window's
// mean RSS and whether growth ≤ pct % of the mean.
func flatness(samples []soakSample, window time.Duration, pct float64) (growth, mean float64, used time.Duration, flat bool) {
	if len(samples) < 3 {
		return math.NaN(), math.NaN(), 0, false
	}
	end := samples[len(samples)-1].At
	if end/2 < window {
		window = end / 2
	}
	var xs, ys []float64
	for _, s := range samples {
		if s.At >= end-window {
			xs = append(xs, s.At.Seconds())
			ys = append(ys, float64(s.RSS))
		}
	}
	if len(xs) < 3 {
		return math.NaN(), math.NaN(), window, false
	}
	slope, m := leastSquares(xs, ys)
	growth = slope * window.Seconds()
	return growth, m, window, growth <= pct/100*m
}

// leastSquares returns the slope of the least-squares line through (x, y) and the mean of y.
func leastSquares(x, y []float64) (slope, meanY float64) {
	n := float64(len(x))
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, sy / n
	}
	return (n*sxy - sx*sy) / d, sy / n
}

// vmRSS reads VmRSS of /proc/PID/status, in bytes (-1 if unknown).
func vmRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			v, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return v * 1024
			}
		}
	}
	return -1
}

// perMinuteP99 groups RTT samples by minute of their date and returns each minute's p99 (ms).
func perMinuteP99(v, dates []float64) []float64 {
	var out []float64
	var cur []float64
	minute := 0
	for i := range v {
		m := int(dates[i] / 60000)
		for m > minute {
			out = append(out, percentile(cur, 99))
			cur, minute = nil, minute+1
		}
		cur = append(cur, v[i])
	}
	if len(cur) > 0 {
		out = append(out, percentile(cur, 99))
	}
	return out
}

func runSoak(ctx context.Context, cfg config, tmp string, stdout io.Writer, logf func(string, ...any)) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench/sip -soak:", err)
		return 1
	}
	sipp, err := lookTool("sipp")
	if err != nil {
		return fail(err)
	}
	users := makeUsers(cfg.regUsers)
	ndesks := max(2, int(math.Ceil(cfg.soakTextRate/2)))
	desks, err := makeDeskAgents(ndesks, "soakdesk")
	if err != nil {
		return fail(err)
	}
	sb := make([]byte, 16)
	rand.Read(sb)
	waSecret := hex.EncodeToString(sb)
	conf, err := benchConfig(ctx, cfg, tmp, users, map[string]string{"21-soak-text.yaml": textConfig(desks, waSecret)})
	if err != nil {
		return fail(err)
	}
	bin, err := buildCcswitch(ctx, cfg, tmp, logf)
	if err != nil {
		return fail(err)
	}
	rf, err := writeRegFiles(tmp, users)
	if err != nil {
		return fail(err)
	}
	for _, p := range []int{cfg.uacPort, cfg.uasPort, cfg.regPort} {
		if err := waitPort(ctx, p, logf); err != nil {
			return fail(err)
		}
	}
	uasDir := filepath.Join(tmp, "soak-uas")
	os.MkdirAll(uasDir, 0o755)
	if _, err := start("sipp-uas", uasDir, filepath.Join(uasDir, "screen.log"), sipp, "-sn", "uas", "-i", "127.0.0.1",
		"-p", strconv.Itoa(cfg.uasPort), "-buff_size", sippBuf, "-nostdin", "-trace_stat", "-stf", "stat.csv", "-fd", "1",
		"-trace_err", "-error_file", "errors.log", "-recv_timeout", strconv.Itoa(int(cfg.recvTimeout/time.Millisecond))); err != nil {
		return fail(err)
	}
	cc, pp, err := startCcswitch(ctx, bin, conf, filepath.Join(tmp, "ccswitch-soak"), logf)
	if err != nil {
		return fail(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", ccswitchHTTP)
	tr := newTextTracker()
	dctx, dcancel := context.WithCancel(ctx)
	var dwg sync.WaitGroup
	defer func() { dcancel(); dwg.Wait() }()
	for _, a := range desks {
		d, err := newDesk(base, a)
		if err == nil {
			err = d.start(dctx, tr, &dwg)
		}
		if err != nil {
			return fail(err)
		}
	}

	// The load.
	timeout := fmt.Sprintf("%ds", int((cfg.soak + 2*time.Minute).Seconds()))
	callDir, regDir := filepath.Join(tmp, "soak-calls"), filepath.Join(tmp, "soak-regs")
	os.MkdirAll(callDir, 0o755)
	os.MkdirAll(regDir, 0o755)
	ncalls := int(math.Round(cfg.soakRate * cfg.soak.Seconds()))
	calls, err := start("sipp-calls", callDir, filepath.Join(callDir, "screen.log"), sipp, "-sn", "uac",
		fmt.Sprintf("127.0.0.1:%d", ccswitchPort), "-i", "127.0.0.1", "-p", strconv.Itoa(cfg.uacPort), "-s", did,
		"-d", strconv.Itoa(cfg.callMS), "-r", strconv.Itoa(int(math.Round(cfg.soakRate*10))), "-rp", "10000",
		"-m", strconv.Itoa(ncalls), "-l", strconv.Itoa(max(int(cfg.soakRate*4), 1000)), "-buff_size", sippBuf,
		"-recv_timeout", strconv.Itoa(int(cfg.recvTimeout/time.Millisecond)), "-timeout", timeout, "-timeout_error",
		"-nostdin", "-aa", "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "100",
		"-trace_err", "-error_file", "errors.log")
	if err != nil {
		return fail(err)
	}
	var regs *process
	nregs := int(math.Round(cfg.soakRegRate * cfg.soak.Seconds()))
	if nregs > 0 {
		inj := filepath.Join(regDir, "users.csv")
		if err := writeInjection(inj, users, 0); err != nil {
			return fail(err)
		}
		regs, err = start("sipp-regs", regDir, filepath.Join(regDir, "screen.log"), sipp, "-sf", rf.scenario,
			fmt.Sprintf("127.0.0.1:%d", ccswitchPort), "-i", "127.0.0.1", "-p", strconv.Itoa(cfg.regPort), "-inf", inj,
			"-r", strconv.Itoa(int(math.Round(cfg.soakRegRate*10))), "-rp", "10000", "-m", strconv.Itoa(nregs),
			"-l", strconv.Itoa(max(int(cfg.soakRegRate*4), 1000)), "-buff_size", sippBuf,
			"-recv_timeout", strconv.Itoa(int(cfg.recvTimeout/time.Millisecond)), "-timeout", timeout, "-timeout_error",
			"-nostdin", "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_rtt", "-rtt_freq", "100",
			"-trace_err", "-error_file", "errors.log")
		if err != nil {
			return fail(err)
		}
	}
	logf("soak: %s of %.0f calls/s (%d ms each), %.0f registrations/s (%d users), %.1f webhooks/s (%d desks) on ccswitch pid %d",
		cfg.soak, cfg.soakRate, cfg.callMS, cfg.soakRegRate, len(users), cfg.soakTextRate, len(desks), cc.pid())
	wh := &webhook{url: base + "/webhooks/whatsapp", secret: waSecret, client: &http.Client{Timeout: 15 * time.Second}}
	t0 := time.Now()
	cpu0, _ := treeCPU(cc.pid())
	whDone := make(chan int, 1)
	go func() { whDone <- wh.postAt(ctx, cfg.soakTextRate, cfg.soak, 1, tr) }()

	var samples []soakSample
	sample := func() soakSample {
		s := soakSample{At: time.Since(t0), RSS: vmRSS(cc.pid()), HeapAlloc: -1, HeapSys: -1, Live: -1}
		if h, err := goHeap(pp, false); err == nil {
			s.HeapAlloc, s.HeapSys = h["HeapAlloc"], h["HeapSys"]
		}
		c, _ := treeCPU(cc.pid())
		s.CPU = c - cpu0
		if st, err := readStatFile(filepath.Join(callDir, "stat.csv")); err == nil {
			s.Calls, s.CallsFailed = st.Success, st.Failed
		}
		if st, err := readStatFile(filepath.Join(uasDir, "stat.csv")); err == nil {
			s.UASFai = st.Failed
		}
		if st, err := readStatFile(filepath.Join(regDir, "stat.csv")); err == nil {
			s.Regs, s.RegsFailed = st.Success, st.Failed
		}
		tr.mu.Lock()
		s.Posted, s.Offered, s.Refused = tr.posted, len(tr.lat), tr.refused
		tr.mu.Unlock()
		return s
	}
	printEvery := max(1, int(time.Minute/cfg.soakSample))
	posted := -1
	tick := time.NewTicker(cfg.soakSample)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
		case <-tick.C:
		case posted = <-whDone:
		}
		if ctx.Err() != nil {
			break
		}
		s := sample()
		if i%printEvery == 0 {
			// Once a minute, the live heap (a forced GC: a few ms of ccswitch's CPU): RSS
			// alone cannot tell a leak from the GC's headroom filling up.
			if h, err := goHeap(pp, true); err == nil {
				s.Live = h["HeapAlloc"]
			}
		}
		samples = append(samples, s)
		if i%printEvery == 0 {
			logf("soak %s: rss %s heap %s live %s cpu %.0f%% | calls ok %d failed %d uas-failed %d | regs ok %d failed %d | webhooks %d offered %d refused %d",
				s.At.Round(time.Second), mib(s.RSS), mib(s.HeapAlloc), mib(s.Live), pct(s.CPU, s.At), s.Calls, s.CallsFailed, s.UASFai,
				s.Regs, s.RegsFailed, s.Posted, s.Offered, s.Refused)
		}
		if calls.exited() && (regs == nil || regs.exited()) && posted >= 0 {
			break
		}
	}
	if cc.exited() {
		fmt.Fprintf(stdout, "ccswitch exited during the soak: %v: %s\n", cc.err, tail(cc.log, 1500))
	}
	for i := 0; i < 100 && tr.missing() > 0 && ctx.Err() == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	last := sample()

	growth, mean, window, flat := flatness(samples, cfg.soakWindow, cfg.soakFlat)
	csv := filepath.Join(tmp, "soak-samples.csv")
	if err := writeSoakCSV(csv, samples); err != nil {
		logf("soak: %v", err)
	}
	cst, _ := readStatFile(filepath.Join(callDir, "stat.csv"))
	rst, _ := readStatFile(filepath.Join(regDir, "stat.csv"))
	ust, _ := readStatFile(filepath.Join(uasDir, "stat.csv"))
	missing := tr.missing()
	textFailed := tr.refused + missing
	fmt.Fprintf(stdout, "\n## bench/sip -soak\n\n- command: `%s`; ccswitch CPU %.0f%% of a core over %s\n", strings.TrimSpace(cfg.command), pct(last.CPU, last.At), last.At.Round(time.Second))
	fmt.Fprintf(stdout, "- calls: %d placed, ok %d, failed %d, failed at the UAS %d (retransmissions %d)\n", ncalls, cst.Success, cst.Failed, ust.Failed, cst.Retrans)
	fmt.Fprintf(stdout, "- registrations: %d, ok %d, failed %d (retransmissions %d)\n", nregs, rst.Success, rst.Failed, rst.Retrans)
	fmt.Fprintf(stdout, "- webhooks: %d posted, refused %d, never offered %d; offer latency %s\n", tr.posted, tr.refused, missing, latencyLine(tr.lat))
	if len(tr.errs) > 0 {
		fmt.Fprintf(stdout, "- text errors: %v\n", tr.errs)
	}
	for _, f := range []struct{ name, dir string }{{"calls", callDir}, {"registrations", regDir}, {"UAS", uasDir}} {
		if b, _ := os.ReadFile(filepath.Join(f.dir, "errors.log")); len(b) > 0 {
			if sum, ex := errorSummary(string(b)); sum != "" {
				fmt.Fprintf(stdout, "- %s failures: %s; first: %s\n", f.name, sum, oneLine(ex, 300))
			}
		}
	}
	for _, f := range []struct{ name, dir string }{{"call setup", callDir}, {"registration", regDir}} {
		files, _ := filepath.Glob(filepath.Join(f.dir, "*_rtt.csv"))
		if len(files) != 1 {
			continue
		}
		fh, err := os.Open(files[0])
		if err != nil {
			continue
		}
		v, d, _ := parseRTTDated(fh, 1)
		fh.Close()
		var cells []string
		for _, p := range perMinuteP99(v, d) {
			cells = append(cells, ms(p))
		}
		fmt.Fprintf(stdout, "- %s p99 per minute (ms; every call, SIPp writes them 100 at a time): %s\n", f.name, strings.Join(cells, " "))
	}
	fmt.Fprintf(stdout, "- RSS per minute (MiB):")
	for i, s := range samples {
		if (i+1)%printEvery == 0 {
			fmt.Fprintf(stdout, " %.0f", float64(s.RSS)/(1<<20))
		}
	}
	fmt.Fprintf(stdout, "\n- live heap per minute (MiB, after a forced GC):")
	for _, s := range samples {
		if s.Live >= 0 {
			fmt.Fprintf(stdout, " %.1f", float64(s.Live)/(1<<20))
		}
	}
	fmt.Fprintf(stdout, "\n- RSS after the load ended: %s; every sample: %s (kept with -keep)", mib(last.RSS), csv)
	fmt.Fprintf(stdout, "\n- flat: the least-squares RSS growth over the last %s is at most %.1f %% of that window's mean RSS\n", window.Round(time.Second), cfg.soakFlat)
	failed := cst.Failed + ust.Failed + rst.Failed + textFailed
	if cst.Success+cst.Failed < ncalls || (regs != nil && rst.Success+rst.Failed < nregs) {
		failed += (ncalls - cst.Success - cst.Failed) + (nregs - rst.Success - rst.Failed)
	}
	verdict := "PASS"
	if failed > 0 || !flat || cc.exited() {
		verdict = "FAIL"
	}
	flatWord := "flat"
	if !flat {
		flatWord = "NOT flat"
	}
	fmt.Fprintf(stdout, "\nsoak %s calls/s=%.0f registrations/s=%.0f webhooks/s=%.1f failed calls=%d registrations=%d webhooks=%d rss start=%s end=%s growth=%+.1fMiB over %s (%.1f%% of mean, %s) verdict=%s\n",
		cfg.soak, cfg.soakRate, cfg.soakRegRate, cfg.soakTextRate, cst.Failed+ust.Failed+(ncalls-cst.Success-cst.Failed), rst.Failed+(nregs-rst.Success-rst.Failed), textFailed,
		mib(firstRSS(samples)), mib(lastRSS(samples)), growth/(1<<20), window.Round(time.Second), 100*growth/mean, flatWord, verdict)
	if verdict != "PASS" {
		return 1
	}
	return 0
}

func lastRSS(s []soakSample) int64 {
	if len(s) == 0 {
		return -1
	}
	return s[len(s)-1].RSS
}

// writeSoakCSV writes every sample, one line each.
func writeSoakCSV(path string, samples []soakSample) error {
	var w strings.Builder
	w.WriteString("seconds,rss_bytes,heap_alloc,heap_sys,live_heap,cpu_seconds,calls_ok,calls_failed,uas_failed,regs_ok,regs_failed,webhooks,offered,refused\n")
	for _, s := range samples {
		fmt.Fprintf(&w, "%.1f,%d,%d,%d,%d,%.2f,%d,%d,%d,%d,%d,%d,%d,%d\n", s.At.Seconds(), s.RSS, s.HeapAlloc, s.HeapSys, s.Live,
			s.CPU.Seconds(), s.Calls, s.CallsFailed, s.UASFai, s.Regs, s.RegsFailed, s.Posted, s.Offered, s.Refused)
	}
	return os.WriteFile(path, []byte(w.String()), 0o644)
}

func firstRSS(s []soakSample) int64 {
	if len(s) == 0 {
		return -1
	}
	return s[0].RSS
}
