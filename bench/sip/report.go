package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// machineInfo is recorded with every report.
type machineInfo struct {
	Date, Commit, CPU, Kernel, Sipp, Kamailio, Go string
	NProc                                         int
}

func probeMachine(cfg config, sipp string) machineInfo {
	m := machineInfo{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), NProc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	git := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12")
	git.Dir = cfg.repo
	if b, err := git.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(b))
	}
	if b, _ := exec.Command(sipp, "-v").CombinedOutput(); len(b) > 0 { // sipp -v exits non-zero
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "SIPp v") {
				m.Sipp = strings.TrimSpace(l)
			}
		}
	}
	if k, err := exec.LookPath("kamailio"); err == nil {
		if b, err := exec.Command(k, "-v").Output(); err == nil {
			m.Kamailio, _, _ = strings.Cut(strings.TrimPrefix(string(b), "version: "), "\n")
		}
	}
	return m
}

// best is a target's highest clean rate and that step; ok is false when no step was clean.
func best(t *target) (stepResult, bool) {
	var b stepResult
	ok := false
	for _, s := range t.steps {
		if s.clean() && (!ok || s.Rate > b.Rate) {
			b, ok = s, true
		}
	}
	return b, ok
}

// renderReport is the final report, in markdown.
func renderReport(cfg config, e *env) string {
	var w strings.Builder
	m := e.machine
	fmt.Fprintf(&w, "## bench/sip: ccswitch vs Kamailio — call rate, registration rate, memory\n\n")
	fmt.Fprintf(&w, "- command: `%s`\n", strings.TrimSpace(cfg.command))
	fmt.Fprintf(&w, "- date: %s; run took %s\n", m.Date, time.Since(e.started).Round(time.Second))
	fmt.Fprintf(&w, "- commit: %s\n", m.Commit)
	fmt.Fprintf(&w, "- machine: %d CPUs, %s, Linux %s; %s\n", m.NProc, m.CPU, m.Kernel, m.Go)
	fmt.Fprintf(&w, "- tools: %s; kamailio %s\n", m.Sipp, m.Kamailio)
	crit := "0 failed and p99 ≤ " + ms(float64(cfg.maxP99)/float64(time.Millisecond)) + " ms"
	if cfg.maxP99 == 0 {
		crit = "0 failed (no latency bound: -max-p99 0)"
	}
	fmt.Fprintf(&w, "- **clean step** (both targets judged alike): every requested call (registration) succeeded, %s. "+
		"Setup time is SIPp's RTD 1 of every call (-trace_rtt -rtt_freq 1): INVITE sent → 200 received; for a registration, first REGISTER → 200 (both transactions). "+
		"SIPp reads CLOCK_MONOTONIC_COARSE: resolution %s here (clock_getres), so a p99 is exact to one tick\n", crit, clockResText())
	if len(e.calls) > 0 {
		fmt.Fprintf(&w, "- a call: UAC 127.0.0.1:%d → target → UAS 127.0.0.1:%d: INVITE, 100, 180, 200, ACK, pause %d ms, BYE, 200 (UDP); "+
			"a step places rate × %s calls\n", cfg.uacPort, cfg.uasPort, cfg.callMS, cfg.step)
	}
	if len(e.regs) > 0 {
		fmt.Fprintf(&w, "- a registration: SIPp 127.0.0.1:%d → REGISTER, 401 (digest, qop=auth), REGISTER with Authorization, 200 (UDP), Expires 3600; "+
			"%d users with a password each, each step continuing where the last stopped. ccswitch: its registrar (the binding synced to pebble before the 200, as always), "+
			"the users in the bench config; the generator's source is exempted from sip.limits.source_rate by a static-contact user (`%s`), every other limit at its default. "+
			"Kamailio: registrar + auth, credentials in an htable loaded from db_text, usrloc in memory, 8 children, stateless replies\n",
			cfg.regPort, cfg.regUsers, regSourceExtension)
	}
	fmt.Fprintf(&w, "- CPU %%: CPU seconds / step wall time (100%% = one core, %d cores in all); target = process tree (all threads, all Kamailio workers); "+
		"others = host busy time from /proc/stat minus target, UAC and UAS (the neighbours; /proc/stat under-reports on this VM); steal = hypervisor steal\n", m.NProc)
	if e.server("ccswitch") != nil {
		fmt.Fprintf(&w, "- ccswitch config: configs/ccswitch.yaml of the tree under test (media %s", cfg.media)
		if cfg.rtpPorts != "" {
			fmt.Fprintf(&w, ", `rtp_ports: %s`", cfg.rtpPorts)
		}
		fmt.Fprintf(&w, ") plus the registration users; abuse limits (sip.limits) at their defaults\n")
	}
	if niceness != 0 {
		fmt.Fprintf(&w, "- every target and SIPp process ran at nice %d (-nice), the neighbours at their own\n", niceness)
	}
	fmt.Fprintf(&w, "- failed steps are repeated %d time(s) on a freshly started target before the target stops (-retry); "+
		"before each step the harness waits up to %s for the neighbours' CPU to fall to %.0f%% of a core (-quiet; \"others before\" = last 1 s sample, and the wait)\n", cfg.retries, cfg.quietWait, cfg.quiet)

	for _, ladder := range []struct {
		title   string
		targets []*target
	}{{"Calls", e.calls}, {"Registrations", e.regs}} {
		if len(ladder.targets) == 0 {
			continue
		}
		unit := ladder.targets[0].kind.unit()
		fmt.Fprintf(&w, "\n### %s\n\n", ladder.title)
		fmt.Fprintf(&w, "| target | rate/s | %ss | ok | failed | UAS failed | retrans | p50 ms | p99 ms | max ms | target CPU | µs/%s | UAC CPU | UAS CPU | others CPU | steal | others before | RcvbufErrors | drops target/uac/uas | wall s | load1 | result |\n", unit, unit)
		fmt.Fprintf(&w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		for _, t := range ladder.targets {
			for _, s := range t.steps {
				fmt.Fprintf(&w, "| %s | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %s | %d | %d/%d/%d | %.1f | %.1f | %s |\n",
					s.Target, s.Rate, s.Calls, s.Stats.Success, s.Stats.Failed, s.UASFailed, s.Stats.Retrans,
					ms(s.P50), ms(s.P99), ms(s.Max), cpuCell(s), ms(s.usPerCall()), pct(s.UACCPU, s.Wall), pct(s.UASCPU, s.Wall),
					pct(s.OthersCPU, s.Wall), pct(s.StealCPU, s.Wall), quietCell(s),
					s.RcvbufErrors, s.TargetDrops, s.UACDrops, s.UASDrops, s.Wall.Seconds(), s.Load1, resultCell(s))
			}
		}
		var fails []string
		for _, t := range ladder.targets {
			for _, s := range t.steps {
				if s.clean() || s.Interrupted || s.Disturbed != "" {
					continue
				}
				f := fmt.Sprintf("- %s %d/s (attempt %d): %s.", s.Target, s.Rate, s.Attempt, strings.Join(s.problems(), ", "))
				if s.UACErrors != "" {
					f += " UAC: " + oneLine(s.UACErrors, 500) + "."
				}
				if s.UASErrors != "" {
					f += " UAS: " + oneLine(s.UASErrors, 500) + "."
				}
				if pct(s.UACCPU, s.Wall) >= 85 || pct(s.UASCPU, s.Wall) >= 85 {
					f += fmt.Sprintf(" SIPp near one core (UAC %.0f%%, UAS %.0f%%): the generator may be the limit.", pct(s.UACCPU, s.Wall), pct(s.UASCPU, s.Wall))
				}
				if s.Excerpt != "" {
					f += " First: `" + strings.ReplaceAll(oneLine(s.Excerpt, 400), "`", "'") + "`"
				}
				fails = append(fails, f)
			}
		}
		if len(fails) > 0 {
			fmt.Fprintf(&w, "\nWhat failed:\n\n%s\n", strings.Join(fails, "\n"))
		}
		fmt.Fprintf(&w, "\nHighest clean rate:\n\n")
		for _, t := range ladder.targets {
			switch b, ok := best(t); {
			case t.skip != "":
				fmt.Fprintf(&w, "- **%s**: not measured: %s\n", t.name, oneLine(t.skip, 600))
			case !ok:
				fmt.Fprintf(&w, "- **%s**: no clean step (%s)\n", t.name, oneLine(t.stopped, 300))
			default:
				bound := ""
				if !t.failed {
					bound = "≥ " // the ceiling was not reached
				}
				tcpu := ""
				if b.TargetProcs > 0 {
					tcpu = fmt.Sprintf(", %s CPU %.0f%% (%s, %s µs/%s)", t.name, pct(b.TargetCPU, b.Wall), plural(b.TargetProcs, "process", "processes"), ms(b.usPerCall()), unit)
				}
				fmt.Fprintf(&w, "- **%s**: %s%d %ss/s%s, SIPp UAC %.0f%%, SIPp UAS %.0f%%; p50 %s ms, p99 %s ms; stopped: %s\n",
					t.name, bound, b.Rate, unit, tcpu, pct(b.UACCPU, b.Wall), pct(b.UASCPU, b.Wall), ms(b.P50), ms(b.P99), oneLine(t.stopped, 300))
			}
		}
		if c, k := pair(ladder.targets); c != nil && k != nil {
			_, cok := best(c)
			_, kok := best(k)
			switch {
			case !cok || !kok:
			case !c.failed && !k.failed:
				fmt.Fprintf(&w, "- the rate ratio is not a ratio of ceilings: neither target failed before the ladder or the budget ended\n")
			case !c.failed:
				fmt.Fprintf(&w, "- the rate ratio is a lower bound: ccswitch did not fail before the ladder or the budget ended\n")
			case !k.failed:
				fmt.Fprintf(&w, "- the rate ratio is an upper bound: Kamailio did not fail before the ladder or the budget ended\n")
			}
		}
		if cs, ks, ok := commonClean(ladder.targets); ok {
			fmt.Fprintf(&w, "- CPU per %s at %d/s, the highest rate both passed cleanly: ccswitch %s µs, Kamailio %s µs (%.2f×); "+
				"p99 ccswitch %s ms, Kamailio %s ms\n",
				unit, cs.Rate, ms(cs.usPerCall()), ms(ks.usPerCall()), cs.usPerCall()/ks.usPerCall(), ms(cs.P99), ms(ks.P99))
		}
	}

	if len(e.memory) > 0 {
		fmt.Fprintf(&w, "\n### Memory\n\n")
		fmt.Fprintf(&w, "Growth of the target while it holds N units, from a sample before the load to one %s after it (finished transactions expired). "+
			"heap = ccswitch's live heap after a forced GC (HeapAlloc, `/debug/pprof/heap?gc=1` of its -pprof listener); "+
			"PSS = proportional set size summed over the process tree (`/proc/PID/smaps_rollup`; Kamailio's shared memory counted once); "+
			"RSS alike, shared pages once per process. Kamailio's per-call figure is not measured: a proxy without the dialog module keeps nothing per established call.\n\n", cfg.settle)
		fmt.Fprintf(&w, "| target | per | N held | failed | heap / unit | PSS / unit | RSS / unit | heap before → after | PSS before → after | processes | note |\n")
		fmt.Fprintf(&w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |\n")
		for _, r := range e.memory {
			note := r.Note
			if r.Err != "" {
				note = strings.TrimPrefix(note+"; error: "+oneLine(r.Err, 300), "; ")
			}
			fmt.Fprintf(&w, "| %s | %s | %d | %d | %s | %s | %s | %s → %s | %s → %s | %d | %s |\n", r.Target, r.What, r.N, r.Failed,
				bytesCell(r.per(func(m memSample) int64 { return m.Heap })), bytesCell(r.per(func(m memSample) int64 { return m.PSS })),
				bytesCell(r.per(func(m memSample) int64 { return m.RSS })),
				mib(r.Before.Heap), mib(r.After.Heap), mib(r.Before.PSS), mib(r.After.PSS), r.After.Procs, note)
		}
	}
	if len(e.profiles) > 0 {
		fmt.Fprintf(&w, "\n### Profiles (-profile)\n\n")
		for _, p := range e.profiles {
			fmt.Fprintf(&w, "- %s\n", p)
		}
		fmt.Fprintf(&w, "\nRead them with `go tool pprof -top %s/ccswitch FILE` (or `-http :0`).\n", cfg.profile)
	}
	return w.String()
}

func cpuCell(s stepResult) string {
	if s.TargetProcs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", pct(s.TargetCPU, s.Wall))
}

func resultCell(s stepResult) string {
	switch {
	case s.Disturbed != "":
		return "disturbed, repeated: " + oneLine(s.Disturbed, 80)
	case s.Interrupted:
		return "interrupted"
	case s.clean() && s.Attempt > 1:
		return fmt.Sprintf("clean (attempt %d)", s.Attempt)
	case s.clean():
		return "clean"
	}
	res := "**failed**: " + strings.Join(s.problems(), ", ")
	if s.Attempt > 1 {
		res += fmt.Sprintf(" (attempt %d)", s.Attempt)
	}
	return res
}

// bytesCell prints a per-unit byte figure.
func bytesCell(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f B", v)
}

// mib prints a byte count in MiB, "-" when unknown.
func mib(v int64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func quietCell(s stepResult) string {
	if math.IsNaN(s.QuietBefore) {
		return "-"
	}
	return fmt.Sprintf("%.0f%% (%.0fs)", s.QuietBefore, s.QuietWait.Seconds())
}

// pair returns the ccswitch and Kamailio targets of a ladder.
func pair(targets []*target) (c, k *target) {
	for _, t := range targets {
		switch t.name {
		case "ccswitch":
			c = t
		case "kamailio":
			k = t
		}
	}
	return c, k
}

// commonClean returns the clean steps of ccswitch and Kamailio at the highest rate both passed.
func commonClean(targets []*target) (c, k stepResult, ok bool) {
	ct, kt := pair(targets)
	if ct == nil || kt == nil {
		return c, k, false
	}
	for _, cs := range ct.steps {
		for _, ks := range kt.steps {
			if cs.Rate == ks.Rate && cs.clean() && ks.clean() && cs.TargetProcs > 0 && ks.TargetProcs > 0 && (!ok || cs.Rate > c.Rate) {
				c, k, ok = cs, ks, true
			}
		}
	}
	return c, k, ok
}

// ratioLines are the last lines the bench prints, one per comparison:
//
//	ratio ccswitch/kamailio calls/s=R cpu/call=C
//	ratio ccswitch/kamailio registrations/s=R
//
// R is ccswitch's highest clean rate over Kamailio's; C is ccswitch's CPU per call over
// Kamailio's at the highest rate both passed. A figure that cannot be computed (a target with
// no clean step, not measured, or no rate both passed) is "n/a"; the report says why.
func ratioLines(e *env) string {
	var w strings.Builder
	rate := func(targets []*target) string {
		c, k := pair(targets)
		if c == nil || k == nil {
			return "n/a"
		}
		cb, cok := best(c)
		kb, kok := best(k)
		if !kok || kb.Rate == 0 {
			return "n/a"
		}
		if !cok {
			return "0.00"
		}
		return fmt.Sprintf("%.2f", float64(cb.Rate)/float64(kb.Rate))
	}
	if len(e.calls) > 0 {
		cpu := "n/a"
		if cs, ks, ok := commonClean(e.calls); ok && ks.usPerCall() > 0 {
			cpu = fmt.Sprintf("%.2f", cs.usPerCall()/ks.usPerCall())
		}
		fmt.Fprintf(&w, "ratio ccswitch/kamailio calls/s=%s cpu/call=%s\n", rate(e.calls), cpu)
	}
	if len(e.regs) > 0 {
		fmt.Fprintf(&w, "ratio ccswitch/kamailio registrations/s=%s\n", rate(e.regs))
	}
	return w.String()
}

// clockRes is the resolution of CLOCK_MONOTONIC_COARSE, the clock SIPp 3.6 times responses
// with (0 if unknown).
func clockRes() time.Duration {
	const clockMonotonicCoarse = 6
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETRES, clockMonotonicCoarse, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

func clockResText() string {
	if r := clockRes(); r > 0 {
		return r.String()
	}
	return "unknown"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
