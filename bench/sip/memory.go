package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// memSample is the memory of a server's process tree at one moment.
type memSample struct {
	PSS   int64 // bytes: proportional set size summed over the tree (/proc/PID/smaps_rollup)
	RSS   int64 // bytes: VmRSS summed over the tree (counts shared pages once per process)
	Heap  int64 // bytes: ccswitch's live heap after a forced GC (HeapAlloc); -1 when unknown
	Procs int
}

// memResult is one memory figure: a server's growth while it holds N units (bindings or
// established calls), from a sample before the load to one after it settled.
type memResult struct {
	Target, What  string // "ccswitch", "registration" | "idle call"
	N             int    // units held at the second sample
	Failed        int    // units that failed to establish
	Before, After memSample
	Note, Err     string
}

// per returns the growth per unit of one measure (bytes), NaN when it cannot be computed.
func (m memResult) per(get func(memSample) int64) float64 {
	a, b := get(m.After), get(m.Before)
	if m.N <= 0 || a < 0 || b < 0 || m.Err != "" {
		return math.NaN()
	}
	return float64(a-b) / float64(m.N)
}

// parseSmapsRollup returns the Pss and Rss lines of /proc/PID/smaps_rollup, in bytes.
func parseSmapsRollup(r io.Reader) (pss, rss int64, err error) {
	sc := bufio.NewScanner(r)
	found := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[2] != "kB" {
			continue
		}
		v, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("smaps_rollup %s: %w", f[0], err)
		}
		switch f[0] {
		case "Pss:":
			pss, found = v*1024, found+1
		case "Rss:":
			rss, found = v*1024, found+1
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found < 2 {
		return 0, 0, fmt.Errorf("smaps_rollup: no Pss and Rss lines")
	}
	return pss, rss, nil
}

// memStatLine is one "# Name = value" line of the runtime.MemStats block that
// /debug/pprof/heap?debug=1 ends with.
var memStatLine = regexp.MustCompile(`(?m)^# (\w+) = (\d+)\s*$`)

// parseHeapDebug returns the runtime.MemStats numbers of a /debug/pprof/heap?debug=1 text.
func parseHeapDebug(text string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, m := range memStatLine.FindAllStringSubmatch(text, -1) {
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("heap profile: %s: %w", m[1], err)
		}
		out[m[1]] = v
	}
	if _, ok := out["HeapAlloc"]; !ok {
		return nil, fmt.Errorf("heap profile: no HeapAlloc line")
	}
	return out, nil
}

// goHeap fetches ccswitch's memory statistics from its -pprof listener, after a forced GC
// when gc is set (HeapAlloc is then the live heap).
func goHeap(addr string, gc bool) (map[string]int64, error) {
	url := "http://" + addr + "/debug/pprof/heap?debug=1"
	if gc {
		url += "&gc=1"
	}
	c := http.Client{Timeout: 30 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return parseHeapDebug(string(b))
}

// sampleMem measures a server's process tree (and ccswitch's live heap).
func sampleMem(s *server) memSample {
	m := memSample{Heap: -1}
	if !s.running() {
		return memSample{PSS: -1, RSS: -1, Heap: -1}
	}
	if s.pprof != "" {
		if h, err := goHeap(s.pprof, true); err == nil {
			m.Heap = h["HeapAlloc"]
		}
	}
	for _, pid := range treePIDs(s.proc.pid()) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
		if err != nil {
			continue
		}
		pss, rss, err := parseSmapsRollup(f)
		f.Close()
		if err != nil {
			continue
		}
		m.PSS += pss
		m.RSS += rss
		m.Procs++
	}
	return m
}

// rtpPortCount is how many ports an "a-b" range holds (0 if it does not parse).
func rtpPortCount(r string) int {
	a, b, ok := strings.Cut(r, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || hi < lo {
		return 0
	}
	return hi - lo + 1
}

// measureMemory runs the memory phase on fresh servers, before the ladders:
//
//  1. memory per registration: every user registers once (-mem-reg-rate), on ccswitch then on
//     Kamailio's registrar; both are sampled before, and again -settle after ccswitch's last
//     REGISTER (ccswitch keeps each finished REGISTER transaction for Timer J, 32 s: the
//     figure is the bindings', not the transactions');
//  2. memory per idle call (ccswitch only: a proxy without the dialog module keeps nothing per
//     established call), on a freshly restarted ccswitch: -mem-calls calls placed at
//     -mem-call-rate and held; sampled before and -settle after the last call was answered,
//     while all are still up.
//
// The heap figure (live heap after a forced GC) is the state each unit holds; PSS and RSS also
// count what the runtime keeps around it (GOGC headroom, freed pages not yet returned).
func measureMemory(ctx context.Context, cfg config, e *env, tmp string, logf func(string, ...any)) []memResult {
	var out []memResult
	cc, kr := e.server("ccswitch"), e.server("kamailio-registrar")
	type regRun struct {
		srv  *server
		addr string
		res  *memResult
	}
	var runs []regRun
	if cc.running() {
		runs = append(runs, regRun{cc, fmt.Sprintf("127.0.0.1:%d", ccswitchPort), nil})
	}
	if kr.running() {
		runs = append(runs, regRun{kr, fmt.Sprintf("127.0.0.1:%d", kamRegPort), nil})
	}
	var settleFrom time.Time
	for i := range runs {
		r := &runs[i]
		name := r.srv.name
		if name == "kamailio-registrar" {
			name = "kamailio"
		}
		res := memResult{Target: name, What: "registration", Before: sampleMem(r.srv)}
		dir := filepath.Join(tmp, "memory-regs-"+name)
		ok, failed, err := runRegistrations(ctx, cfg, e, r.addr, dir, len(e.users), cfg.memRegRate)
		res.N, res.Failed = ok, failed
		if err != nil {
			res.Err = err.Error()
		}
		logf("memory: %d of %d users registered on %s (%d failed)", ok, len(e.users), name, failed)
		if name == "ccswitch" {
			settleFrom = time.Now()
		}
		r.res = &res
	}
	if len(runs) > 0 {
		wait := time.Until(settleFrom.Add(cfg.settle))
		if settleFrom.IsZero() {
			wait = 2 * time.Second
		}
		logf("memory: waiting %s for transactions to expire before sampling", wait.Round(time.Second))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		for _, r := range runs {
			r.res.After = sampleMem(r.srv)
			out = append(out, *r.res)
		}
	}
	if !cc.running() || ctx.Err() != nil || !cfg.calls {
		return out
	}

	// Idle calls.
	n := cfg.memCalls
	res := memResult{Target: "ccswitch", What: "idle call"}
	if cfg.media != "passthrough" {
		ports := rtpPortCount(cfg.rtpPorts)
		if ports == 0 {
			if b, err := demoConfig(ctx, cfg); err == nil {
				if m := rtpPortsLine.FindSubmatch(b); m != nil {
					ports = rtpPortCount(strings.TrimSpace(strings.TrimPrefix(string(m[0]), string(m[1]))))
				}
			}
		}
		if limit := ports / 4 * 8 / 10; ports > 0 && n > limit {
			n = limit
			res.Note = fmt.Sprintf("anchored media: %d calls, 80 %% of what %d RTP ports hold at 4 per call", n, ports)
		}
	}
	ramp := time.Duration(float64(n)/float64(cfg.memCallRate)*float64(time.Second)) + time.Second
	hold := ramp + cfg.settle + 5*time.Second
	// A fresh ccswitch: the registration phase's garbage would otherwise leave the RSS
	// baseline high and make the runtime's returning of it look like negative growth.
	if err := cc.restart(ctx); err != nil {
		res.Err = "restart: " + err.Error()
		return append(out, res)
	}
	if err := e.startUAS(hold + 30*time.Second); err != nil {
		res.Err = "UAS: " + err.Error()
		return append(out, res)
	}
	defer func() {
		if err := e.startUAS(cfg.recvTimeout); err != nil {
			logf("memory: restarting the UAS: %v", err)
		}
	}()
	res.Before = sampleMem(cc)
	dir := filepath.Join(tmp, "memory-calls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Err = err.Error()
		return append(out, res)
	}
	args := []string{e.sipp, "-sn", "uac", fmt.Sprintf("127.0.0.1:%d", ccswitchPort), "-i", "127.0.0.1",
		"-p", strconv.Itoa(cfg.uacPort), "-s", did, "-d", strconv.Itoa(int(hold / time.Millisecond)),
		"-r", strconv.Itoa(cfg.memCallRate), "-rp", "1000", "-m", strconv.Itoa(n), "-l", strconv.Itoa(n + 100),
		"-buff_size", sippBuf, "-recv_timeout", strconv.Itoa(int(cfg.recvTimeout / time.Millisecond)),
		"-timeout", fmt.Sprintf("%ds", int((hold + 60*time.Second).Seconds())), "-timeout_error",
		"-nostdin", "-aa", "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_err", "-error_file", "errors.log"}
	if err := waitPort(ctx, cfg.uacPort, logf); err != nil {
		res.Err = err.Error()
		return append(out, res)
	}
	uac, err := start("sipp-uac-idle", dir, filepath.Join(dir, "screen.log"), args...)
	if err != nil {
		res.Err = err.Error()
		return append(out, res)
	}
	logf("memory: placing %d calls at %d/s on ccswitch, each held %s", n, cfg.memCallRate, hold.Round(time.Second))
	select {
	case <-ctx.Done():
	case <-uac.done:
	case <-time.After(ramp + cfg.settle):
	}
	st, err := readStatFile(filepath.Join(dir, "stat.csv"))
	res.After = sampleMem(cc)
	switch {
	case err != nil:
		res.Err = "uac stat: " + err.Error()
	case uac.exited():
		res.Err = fmt.Sprintf("the UAC ended before the sample (%v): %d failed", uac.err, st.Failed)
	default:
		res.N, res.Failed = st.Current, st.Failed
		if st.Current != n {
			res.Note = strings.TrimPrefix(res.Note+fmt.Sprintf("; %d of %d calls up at the sample", st.Current, n), "; ")
		}
	}
	logf("memory: %d calls up on ccswitch at the sample (%d failed)", res.N, res.Failed)
	wctx, cancel := context.WithTimeout(ctx, hold+90*time.Second)
	uac.wait(wctx)
	cancel()
	return append(out, res)
}

// runRegistrations registers n users (from the first) at rate/s on addr from the generator's
// port, and returns how many succeeded and failed.
func runRegistrations(ctx context.Context, cfg config, e *env, addr, dir string, n, rate int) (ok, failed int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	inj := filepath.Join(dir, "users.csv")
	if err := writeInjection(inj, e.users, 0); err != nil {
		return 0, 0, err
	}
	if err := waitPort(ctx, cfg.regPort, func(string, ...any) {}); err != nil {
		return 0, 0, err
	}
	secs := n/rate + 30
	args := []string{e.sipp, "-sf", e.regFiles.scenario, addr, "-i", "127.0.0.1", "-p", strconv.Itoa(cfg.regPort),
		"-inf", inj, "-r", strconv.Itoa(rate), "-rp", "1000", "-m", strconv.Itoa(n), "-l", strconv.Itoa(max(2*rate, 1000)),
		"-buff_size", sippBuf, "-recv_timeout", strconv.Itoa(int(cfg.recvTimeout / time.Millisecond)),
		"-timeout", fmt.Sprintf("%ds", secs), "-timeout_error", "-nostdin",
		"-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_err", "-error_file", "errors.log"}
	p, err := start("sipp-reg", dir, filepath.Join(dir, "screen.log"), args...)
	if err != nil {
		return 0, 0, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Duration(secs+10)*time.Second)
	werr := p.wait(wctx)
	cancel()
	st, err := readStatFile(filepath.Join(dir, "stat.csv"))
	if err != nil {
		return 0, 0, err
	}
	if werr != nil && st.Failed == 0 {
		return st.Success, st.Failed, fmt.Errorf("sipp: %v", werr)
	}
	return st.Success, st.Failed, nil
}
