package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stepResult is one target at one rate of calls or registrations.
type stepResult struct {
	Target  string
	Kind    kind
	Rate    int // requested calls (registrations)/s
	Calls   int // requested calls (registrations)
	Stats   sippStats
	Samples int     // setup times measured
	P50     float64 // setup time (INVITE sent → 200 received; first REGISTER → 200), ms, SIPp's clock
	P99     float64
	Max     float64
	MaxP99  float64       // the criterion: a clean step has P99 ≤ MaxP99 ms (0: failures only)
	Wall    time.Duration // life of the UAC process

	TargetCPU   time.Duration // target process tree (all threads and workers)
	TargetProcs int
	UACCPU      time.Duration
	UASCPU      time.Duration
	QuietBefore float64       // neighbours' CPU (% of one core) in the last second before the step
	QuietWait   time.Duration // how long the step waited for the neighbours to calm down
	OthersCPU   time.Duration // host busy (/proc/stat) minus target, UAC and UAS: the neighbours
	StealCPU    time.Duration // host steal time during the step

	RcvbufErrors uint64 // /proc/net/snmp Udp RcvbufErrors delta (whole namespace)
	InErrors     uint64
	TargetDrops  uint64 // /proc/net/udp drops delta of the target's socket
	UASDrops     uint64 // … of the UAS socket
	UACDrops     uint64 // … of the UAC socket (last sample before it closed)
	UASFailed    int    // failed calls counted by the UAS during the step
	Load1        float64

	Attempt     int // 1, or 2… when the rate was repeated after a failure
	ExitCode    int
	Interrupted bool   // the run ended (Ctrl-C, -total) during the step: neither clean nor a failure
	Disturbed   string // something outside the harness killed a process of the step: repeated, not a failure
	Err         string // harness-side problem (timeout, missing files)
	Excerpt     string // the first failure event of the UAC (else the UAS) when the step failed
	UACErrors   string // failure events of the UAC's error log, counted by kind
	UASErrors   string // failure events the UAS logged during the step, counted by kind
}

// clean says whether every requested call succeeded on both SIPp sides and the setup p99
// met the bound: a clean rate is one without a backlog, not only one without failures.
func (s stepResult) clean() bool { return len(s.problems()) == 0 }

// problems says why a step is not clean, in words (empty when it is).
func (s stepResult) problems() []string {
	var p []string
	if s.Disturbed != "" {
		p = append(p, "disturbed")
	}
	if s.Interrupted {
		p = append(p, "interrupted")
	}
	if s.Err != "" {
		p = append(p, "harness: "+oneLine(s.Err, 120))
	}
	if s.Stats.Failed > 0 {
		p = append(p, fmt.Sprintf("%d failed", s.Stats.Failed))
	}
	if s.UASFailed > 0 {
		p = append(p, fmt.Sprintf("%d failed at the UAS", s.UASFailed))
	}
	if s.Stats.Success != s.Calls && s.Stats.Failed == 0 {
		p = append(p, fmt.Sprintf("%d of %d succeeded", s.Stats.Success, s.Calls))
	}
	if s.ExitCode != 0 && s.Stats.Failed == 0 {
		p = append(p, fmt.Sprintf("sipp exit %d", s.ExitCode))
	}
	if s.MaxP99 > 0 && s.Stats.Success > 0 {
		switch {
		case math.IsNaN(s.P99):
			p = append(p, "no setup time measured")
		case s.P99 > s.MaxP99:
			p = append(p, fmt.Sprintf("p99 %s ms > %s ms", ms(s.P99), ms(s.MaxP99)))
		}
	}
	return p
}

func pct(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * cpu.Seconds() / wall.Seconds()
}

func (s stepResult) line() string {
	verdict := "clean"
	switch {
	case s.Interrupted:
		verdict = "INTERRUPTED"
	case s.Disturbed != "":
		verdict = "DISTURBED: " + s.Disturbed
	case !s.clean():
		verdict = "FAILED: " + strings.Join(s.problems(), ", ")
	}
	tcpu := "-"
	if s.TargetProcs > 0 {
		tcpu = fmt.Sprintf("%.0f%%", pct(s.TargetCPU, s.Wall))
	}
	return fmt.Sprintf("%-8s %5d/s %-5s %6d ok %6d fail %5d uas-fail %d retrans %6d | setup p50 %s p99 %s ms | cpu target %s (%s µs/%s) uac %.0f%% uas %.0f%% | others %.0f%% steal %.0f%% (before: %s) | RcvbufErrors +%d drops target/uac/uas %d/%d/%d | wall %.1fs | %s",
		s.Target, s.Rate, s.Kind, s.Calls, s.Stats.Success, s.Stats.Failed, s.UASFailed, s.Stats.Retrans,
		ms(s.P50), ms(s.P99), tcpu, ms(s.usPerCall()), s.Kind.unit(), pct(s.UACCPU, s.Wall), pct(s.UASCPU, s.Wall),
		pct(s.OthersCPU, s.Wall), pct(s.StealCPU, s.Wall), quietCell(s),
		s.RcvbufErrors, s.TargetDrops, s.UACDrops, s.UASDrops, s.Wall.Seconds(), verdict)
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// measure steps the rate of every target, interleaved (all targets at one rate, then the next
// rate) so that the noise of the shared machine falls on both alike. A step that is not clean
// is repeated cfg.retries times on a freshly started target (the machine is shared: a
// neighbour's compile can starve a step); the target stops after a rate that failed every
// attempt.
//
// A rate is started only when the time left holds one step of every target still stepping, so
// that a ladder cut by the budget ends at the same rate for all (a ratio of rates one target
// was never given would mean nothing).
func measure(ctx context.Context, cfg config, e *env, targets []*target, rates []int, tmp string, logf func(string, ...any)) {
	for _, t := range targets { // the other ladder may have left a server stopped
		if t.skip == "" && t.srv != nil && !t.srv.running() {
			if err := t.srv.restart(ctx); err != nil {
				t.skip = fmt.Sprintf("%s did not restart: %v", t.srv.name, err)
			}
		}
	}
	for _, rate := range rates {
		active := 0
		for _, t := range targets {
			if t.skip == "" && t.stopped == "" {
				active++
			}
		}
		if dl, ok := ctx.Deadline(); ok && active > 0 && time.Until(dl) < time.Duration(active)*stepBudget(cfg) {
			for _, t := range targets {
				if t.skip == "" && t.stopped == "" {
					t.stopped = fmt.Sprintf("time budget spent before %d/s", rate)
				}
			}
			logf("%s ladder: time budget spent before %d/s", targets[0].kind, rate)
			break
		}
		for _, t := range targets {
			if t.skip != "" || t.stopped != "" {
				continue
			}
			stepTarget(ctx, cfg, e, t, rate, tmp, logf)
			select {
			case <-ctx.Done():
			case <-time.After(cfg.gap):
			}
		}
	}
	for _, t := range targets {
		if t.skip == "" && t.stopped == "" {
			t.stopped = "rate ladder exhausted without failures"
			if ctx.Err() != nil {
				t.stopped = "time budget spent before the next rate"
			}
		}
	}
}

// stepBudget is the time one step usually takes: the step, the UAC's tail and the UAS's
// statistics line, the gap and the wait for quiet neighbours.
func stepBudget(cfg config) time.Duration {
	return cfg.step + 3*time.Second + cfg.gap + cfg.quietWait
}

// stepTarget runs one rate on one target, with its retries, and sets t.stopped when the target
// is done.
func stepTarget(ctx context.Context, cfg config, e *env, t *target, rate int, tmp string, logf func(string, ...any)) {
	for attempt := 1; ; attempt++ {
		need := cfg.step + cfg.recvTimeout + 5*time.Second
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < need {
			t.stopped = fmt.Sprintf("time budget spent before %d/s", rate)
			if attempt > 1 {
				// It failed this rate; only the retry did not fit.
				t.failed = true
				t.stopped = fmt.Sprintf("failures at %d/s; the retry did not fit in the time budget", rate)
			}
			return
		}
		if ctx.Err() != nil {
			t.stopped = "interrupted"
			return
		}
		// Between steps only our own failure handling stops processes: anything else that died
		// was killed from outside (a neighbour's pkill). Restart it, a bounded number of times.
		uasDead := t.kind == kindCalls && e.uas.exited()
		if (t.proc() != nil && t.proc().exited()) || uasDead {
			t.disturbed++
			if t.disturbed > 3 {
				t.stopped = "disturbed too often (processes killed from outside the harness)"
				return
			}
			if uasDead {
				logf("the UAS exited between steps (%v); restarting it", e.uas.err)
				if err := e.startUAS(cfg.recvTimeout); err != nil {
					t.stopped = "restarting the UAS failed: " + err.Error()
					return
				}
			}
			if p := t.proc(); p != nil && p.exited() {
				logf("%s exited between steps (%v): %s; restarting it", t.srv.name, p.err, oneLine(tail(p.log, 300), 300))
				if err := t.srv.restart(ctx); err != nil {
					t.stopped = fmt.Sprintf("%s exited and did not restart: %v", t.srv.name, err)
					return
				}
			}
		}
		quiet, waited := waitQuiet(ctx, cfg, e)
		dir := filepath.Join(tmp, fmt.Sprintf("%s-%s-%05d-%d", t.name, t.kind, rate, len(t.steps)+1))
		s := runStep(ctx, cfg, e, t, rate, dir)
		s.Attempt = attempt
		s.QuietBefore, s.QuietWait = quiet, waited
		t.steps = append(t.steps, s)
		logf("%s", s.line())
		if s.Interrupted {
			t.stopped = s.Err
			return
		}
		if s.clean() {
			return
		}
		if s.Disturbed != "" {
			// Not the target's fault: restart whatever died and repeat, a bounded number of times.
			t.disturbed++
			if t.disturbed > 3 {
				t.stopped = "disturbed too often (processes killed from outside the harness): " + s.Disturbed
				return
			}
			attempt--
			if p := t.proc(); p != nil {
				p.stop(2 * time.Second)
			}
			if t.kind == kindCalls && e.uas.exited() {
				if err := e.startUAS(cfg.recvTimeout); err != nil {
					t.stopped = "restarting the UAS failed: " + err.Error()
					return
				}
			}
			logf("%s %d/s: disturbed (%s); repeating the step", t.name, rate, s.Disturbed)
			select {
			case <-ctx.Done():
				t.stopped = "interrupted"
				return
			case <-time.After(cfg.recvTimeout + 2*time.Second):
			}
			if t.srv != nil {
				if err := t.srv.restart(ctx); err != nil {
					t.stopped = fmt.Sprintf("restart after a disturbance at %d/s failed: %v", rate, err)
					return
				}
			}
			continue
		}
		if s.UACErrors != "" {
			logf("%s %d/s: UAC failures: %s", t.name, rate, oneLine(s.UACErrors, 600))
		}
		if s.UASErrors != "" {
			logf("%s %d/s: UAS failures: %s", t.name, rate, oneLine(s.UASErrors, 600))
		}
		if s.Excerpt != "" {
			logf("%s %d/s: first failure: %s", t.name, rate, s.Excerpt)
		}
		if s.Err != "" {
			logf("%s %d/s: %s", t.name, rate, s.Err)
		}
		// An overloaded target keeps retransmitting and tearing down calls for seconds; stop it
		// now so that none of that lands in later steps (same UAC port, same UAS).
		if p := t.proc(); p != nil {
			p.stop(2 * time.Second)
		}
		if attempt > cfg.retries {
			t.failed = true
			t.stopped = fmt.Sprintf("first failures at %d/s", rate)
			if attempt > 1 {
				t.stopped = fmt.Sprintf("failures at %d/s in all %d attempts", rate, attempt)
			}
			// The other ladder (or the profile) may need the server again.
			if t.srv != nil {
				if err := t.srv.restart(ctx); err != nil {
					logf("%s: restart after its last failed step: %v", t.srv.name, err)
				}
			}
			return
		}
		// Let the UAS forget the failed calls (recv timeout, 4 s timewait) before repeating.
		wait := cfg.recvTimeout + 2*time.Second
		if cfg.gap > wait {
			wait = cfg.gap
		}
		logf("%s %d/s: repeating the step (attempt %d of %d) in %s", t.name, rate, attempt+1, cfg.retries+1, wait)
		select {
		case <-ctx.Done():
			t.stopped = "interrupted"
			return
		case <-time.After(wait):
		}
		if t.srv != nil {
			if err := t.srv.restart(ctx); err != nil {
				t.stopped = fmt.Sprintf("restart after failures at %d/s failed: %v", rate, err)
				return
			}
		}
	}
}

// sippArgs is the SIPp command line of a step of t: calls from the trunk's source port to
// the DID, or registrations (the digest scenario, injection file inj) from the generator's.
func sippArgs(cfg config, e *env, t *target, rate, n int, inj string) []string {
	timeout := cfg.step + cfg.recvTimeout + 5*time.Second
	// SIPp -l: at most two seconds of calls open at once (a call lasts ~callMS when healthy).
	limit := max(rate*2, 1000)
	args := append([]string{e.sipp}, t.scenario...)
	args = append(args, t.addr, "-i", "127.0.0.1")
	if t.kind == kindRegs {
		args = append(args, "-p", strconv.Itoa(cfg.regPort), "-inf", inj)
	} else {
		args = append(args, "-p", strconv.Itoa(cfg.uacPort), "-s", did, "-d", strconv.Itoa(cfg.callMS))
	}
	return append(args,
		"-r", strconv.Itoa(rate), "-rp", "1000", "-m", strconv.Itoa(n), "-l", strconv.Itoa(limit),
		"-buff_size", sippBuf,
		"-recv_timeout", strconv.Itoa(int(cfg.recvTimeout/time.Millisecond)),
		"-timeout", fmt.Sprintf("%ds", int(timeout.Seconds())), "-timeout_error",
		"-nostdin", "-aa",
		"-trace_stat", "-stf", "stat.csv", "-fd", "1",
		"-trace_rtt", "-rtt_freq", "1",
		"-trace_err", "-error_file", "errors.log")
}

// runStep places rate×step calls (registrations) at rate per second from a fresh SIPp UAC and
// measures everything around it.
func runStep(ctx context.Context, cfg config, e *env, t *target, rate int, dir string) stepResult {
	calls := int(float64(rate) * cfg.step.Seconds())
	s := stepResult{Target: t.name, Kind: t.kind, Rate: rate, Calls: calls, P50: math.NaN(), P99: math.NaN(), Max: math.NaN(),
		MaxP99: float64(cfg.maxP99) / float64(time.Millisecond)}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.Err = err.Error()
		return s
	}
	uacPort := cfg.uacPort
	inj := ""
	if t.kind == kindRegs {
		uacPort = cfg.regPort
		inj = filepath.Join(dir, "users.csv")
		if err := writeInjection(inj, e.users, t.next); err != nil {
			s.Err = err.Error()
			return s
		}
		t.next = (t.next + calls) % len(e.users)
		if err := waitPort(ctx, uacPort, func(string, ...any) {}); err != nil {
			s.Err = err.Error()
			return s
		}
	}
	timeout := cfg.step + cfg.recvTimeout + 5*time.Second
	args := sippArgs(cfg, e, t, rate, calls, inj)

	isCall := t.kind == kindCalls
	var uasFailed0 int
	var uasErrLog string
	var uasErr0 int64
	if isCall {
		uasFailed0 = uasFailed(e)
		uasErrLog = filepath.Join(e.uasDir, "errors.log")
		uasErr0 = fileSize(uasErrLog)
	}
	snmp0 := udpCounters()
	drops0 := socketDrops()
	tport := portOf(t.addr)
	var tcpu0, ucpu0 time.Duration
	if p := t.proc(); p != nil {
		tcpu0, _ = treeCPU(p.pid())
	}
	if isCall {
		ucpu0, _ = treeCPU(e.uas.pid())
	}
	s.Load1 = loadAvg1()
	busy0, steal0 := hostCPU()

	t0 := time.Now()
	uac, err := start("sipp-uac", dir, filepath.Join(dir, "screen.log"), args...)
	if err != nil {
		s.Err = err.Error()
		return s
	}
	// The UAC's socket closes with it: sample its drops while it runs.
	sampled := make(chan uint64, 1)
	go func() {
		var last uint64
		for {
			select {
			case <-uac.done:
				sampled <- last
				return
			case <-time.After(250 * time.Millisecond):
				if d := socketDrops(); d != nil {
					last = d[uacPort]
				}
			}
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	werr := uac.wait(wctx)
	cancel()
	s.UACDrops = <-sampled
	drops1 := socketDrops()
	s.TargetDrops = sub(drops1[tport], drops0[tport])
	if isCall {
		s.UASDrops = sub(drops1[cfg.uasPort], drops0[cfg.uasPort])
	}
	s.Wall = time.Since(t0)
	if p := t.proc(); p != nil {
		var tcpu time.Duration
		tcpu, s.TargetProcs = treeCPU(p.pid())
		s.TargetCPU = max(tcpu-tcpu0, 0)
	}
	if isCall {
		ucpu, _ := treeCPU(e.uas.pid())
		s.UASCPU = max(ucpu-ucpu0, 0)
	}
	s.UACCPU = uac.exitCPU()
	busy1, steal1 := hostCPU()
	s.StealCPU = steal1 - steal0
	if others := busy1 - busy0 - s.TargetCPU - s.UACCPU - s.UASCPU; others > 0 {
		s.OthersCPU = others
	}
	snmp1 := udpCounters()
	s.RcvbufErrors = sub(snmp1["RcvbufErrors"], snmp0["RcvbufErrors"])
	s.InErrors = sub(snmp1["InErrors"], snmp0["InErrors"])

	var ee *exec.ExitError
	switch {
	case werr == nil:
	case ctx.Err() != nil:
		s.Interrupted = true
		s.ExitCode = -1
		s.Err = "interrupted: " + context.Cause(ctx).Error()
		return s
	case errors.As(werr, &ee):
		s.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			s.Disturbed = fmt.Sprintf("the UAC was killed by %v from outside the harness", ws.Signal())
		}
	default:
		s.ExitCode = -1
		s.Err = "uac: " + werr.Error()
	}

	switch {
	case t.proc() != nil && t.proc().exited():
		s.Disturbed = fmt.Sprintf("%s exited during the step (%v): killed from outside the harness?", t.srv.name, t.proc().err)
	case isCall && e.uas.exited():
		s.Disturbed = fmt.Sprintf("the UAS exited during the step (%v)", e.uas.err)
	}

	st, err := readStatFile(filepath.Join(dir, "stat.csv"))
	s.Stats = st
	if err != nil && s.Err == "" {
		s.Err = "uac stat: " + err.Error()
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv")); len(files) == 1 {
		v, err := readRTTFile(files[0])
		if err != nil && s.Err == "" {
			s.Err = "uac rtt: " + err.Error()
		}
		s.Samples = len(v)
		s.P50, s.P99, s.Max = percentile(v, 50), percentile(v, 99), percentile(v, 100)
	}
	if isCall {
		// The UAS writes its statistics every second: give it one more line.
		time.Sleep(1100 * time.Millisecond)
		s.UASFailed = uasFailed(e) - uasFailed0
	}
	if !s.clean() {
		sum, ex := errorSummary(readFrom(filepath.Join(dir, "errors.log"), 0))
		s.UACErrors, s.Excerpt = sum, oneLine(ex, 700)
		if isCall {
			sum, ex = errorSummary(readFrom(uasErrLog, uasErr0))
			s.UASErrors = sum
			if s.Excerpt == "" {
				s.Excerpt = oneLine(ex, 700)
			}
		}
	}
	return s
}

// portOf returns the port of host:port, 0 if there is none.
func portOf(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	p, _ := strconv.Atoi(addr[i+1:])
	return p
}

// usPerCall is the target's CPU per successful call, in microseconds.
func (s stepResult) usPerCall() float64 {
	if s.Stats.Success == 0 || s.TargetProcs == 0 {
		return math.NaN()
	}
	return float64(s.TargetCPU.Microseconds()) / float64(s.Stats.Success)
}

// uasFailed is the UAS's cumulative failed-call count from its last statistics line.
func uasFailed(e *env) int {
	st, err := readStatFile(filepath.Join(e.uasDir, "stat.csv"))
	if err != nil {
		return 0
	}
	return st.Failed
}

// sippEvent splits a SIPp error log into events: each starts with SIPp's timestamp
// "YYYY-MM-DD<TAB>hh:mm:ss.micro<TAB>epoch: ".
var sippEvent = regexp.MustCompile(`\d{4}-\d\d-\d\d\t\d\d:\d\d:\d\d\.\d+\t\d+\.\d+: `)

// Failure events worth counting, and how to name them.
var (
	evUnexpected = regexp.MustCompile(`while (expecting '?[A-Za-z0-9]*'?|pausing|waiting[a-z ]*) \(index (\d+)\), received '([^\r\n]*)`)
	evTimeout    = regexp.MustCompile(`receive timeout on message [^:]*:(\d+)`)
)

// errorSummary counts the failure events of a SIPp error log (text written after offset),
// e.g. "3 × received 'SIP/2.0 100 Trying' while expecting '200' (index 8)", most frequent
// first, and returns the first such event in full as an example.
func errorSummary(text string) (summary, example string) {
	locs := sippEvent.FindAllStringIndex(text, -1)
	counts := map[string]int{}
	for i, l := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		ev := text[l[1]:end]
		var key string
		if m := evUnexpected.FindStringSubmatch(ev); m != nil {
			key = fmt.Sprintf("received '%s' while %s (index %s)", strings.TrimSpace(m[3]), m[1], m[2])
		} else if m := evTimeout.FindStringSubmatch(ev); m != nil {
			key = fmt.Sprintf("receive timeout at index %s", m[1])
		} else {
			continue // dead-call messages, warnings, automatic answers: not failures
		}
		if strings.Contains(ev, "Out-of-call") {
			continue // SIPp's own out-of-call handler (a trunk health OPTIONS): no call failed
		}
		if counts[key] == 0 && example == "" {
			example = strings.Join(strings.Fields(ev), " ")
		}
		counts[key]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", counts[k], k)
	}
	return strings.Join(parts, "; "), example
}

// readFrom returns the text of a file from offset on ("" when there is none).
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 64<<20))
	return string(b)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// sub is a-b for counters that may have restarted (then 0).
func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// oursCPU is the CPU time of every process the harness keeps running between steps: the UAS
// and every server's tree.
func oursCPU(e *env) time.Duration {
	var d time.Duration
	if e.uas != nil {
		d, _ = treeCPU(e.uas.pid())
	}
	for _, s := range e.servers {
		if s.running() {
			c, _ := treeCPU(s.proc.pid())
			d += c
		}
	}
	return d
}

// waitQuiet samples the neighbours' CPU (host busy minus ours) over 1 s windows until it is at
// most cfg.quiet % of one core or cfg.quietWait has passed. It returns the last sample and how
// long it waited.
func waitQuiet(ctx context.Context, cfg config, e *env) (float64, time.Duration) {
	if cfg.quiet <= 0 {
		return math.NaN(), 0
	}
	t0 := time.Now()
	for {
		b0, _ := hostCPU()
		o0 := oursCPU(e)
		w0 := time.Now()
		select {
		case <-ctx.Done():
			return math.NaN(), time.Since(t0)
		case <-time.After(time.Second):
		}
		b1, _ := hostCPU()
		o1 := oursCPU(e)
		others := pct(b1-b0-(o1-o0), time.Since(w0))
		if others < 0 {
			others = 0
		}
		if others <= cfg.quiet || time.Since(t0) >= cfg.quietWait {
			return others, time.Since(t0)
		}
	}
}
