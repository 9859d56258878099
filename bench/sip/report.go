package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
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
	fmt.Fprintf(&w, "## bench/sip: SIP call rate, ccswitch vs Kamailio\n\n")
	fmt.Fprintf(&w, "- command: `%s`\n", strings.TrimSpace(cfg.command))
	fmt.Fprintf(&w, "- date: %s; run took %s\n", m.Date, time.Since(e.started).Round(time.Second))
	fmt.Fprintf(&w, "- commit: %s\n", m.Commit)
	fmt.Fprintf(&w, "- machine: %d CPUs, %s, Linux %s; %s\n", m.NProc, m.CPU, m.Kernel, m.Go)
	fmt.Fprintf(&w, "- tools: %s; kamailio %s\n", m.Sipp, m.Kamailio)
	fmt.Fprintf(&w, "- a call: UAC 127.0.0.1:%d → target → UAS 127.0.0.1:%d: INVITE, 100, 180, 200, ACK, pause %d ms, BYE, 200 (UDP); "+
		"a step places rate × %s calls; setup time = INVITE sent → 200 received at the UAC (SIPp clock, ms, coarse)\n",
		cfg.uacPort, cfg.uasPort, cfg.callMS, cfg.step)
	fmt.Fprintf(&w, "- CPU %%: CPU seconds / step wall time (100%% = one core, %d cores in all); target = process tree (all threads, all Kamailio workers); "+
		"others = host busy time from /proc/stat minus target, UAC and UAS (the neighbours; /proc/stat under-reports on this VM); steal = hypervisor steal\n", m.NProc)
	if cfg.rtpPorts != "" {
		fmt.Fprintf(&w, "- ccswitch config: configs/ccswitch.yaml with `rtp_ports: %s` (-rtp-ports), not the embedded default\n", cfg.rtpPorts)
	} else {
		fmt.Fprintf(&w, "- ccswitch config: the embedded default (configs/ccswitch.yaml)\n")
	}
	if niceness != 0 {
		fmt.Fprintf(&w, "- every target and SIPp process ran at nice %d (-nice), the neighbours at their own\n", niceness)
	}
	fmt.Fprintf(&w, "- failed steps are repeated %d time(s) on a freshly started target before the target stops (-retry); "+
		"before each step the harness waits up to %s for the neighbours' CPU to fall to %.0f%% of a core (-quiet; \"others before\" = last 1 s sample, and the wait)\n\n", cfg.retries, cfg.quietWait, cfg.quiet)

	fmt.Fprintf(&w, "| target | rate/s | calls | ok | failed | UAS failed | retrans | setup p50 ms | p99 ms | max ms | target CPU | µs/call | UAC CPU | UAS CPU | others CPU | steal | others before | RcvbufErrors | drops target/uac/uas | wall s | load1 | result |\n")
	fmt.Fprintf(&w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, t := range e.targets {
		for _, s := range t.steps {
			res := "clean"
			if s.Attempt > 1 {
				res = fmt.Sprintf("clean (attempt %d)", s.Attempt)
			}
			if s.Disturbed != "" {
				res = "disturbed, repeated: " + oneLine(s.Disturbed, 80)
			} else if s.Interrupted {
				res = "interrupted"
			} else if !s.clean() {
				res = "**failed**"
				if s.ExitCode != 0 {
					res += fmt.Sprintf(" (sipp exit %d)", s.ExitCode)
				}
				if s.Attempt > 1 {
					res += fmt.Sprintf(" (attempt %d)", s.Attempt)
				}
			}
			tcpu := "-"
			if s.TargetProcs > 0 {
				tcpu = fmt.Sprintf("%.0f%%", pct(s.TargetCPU, s.Wall))
			}
			fmt.Fprintf(&w, "| %s | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s | %s | %.0f%% | %.0f%% | %.0f%% | %.0f%% | %s | %d | %d/%d/%d | %.1f | %.1f | %s |\n",
				s.Target, s.Rate, s.Calls, s.Stats.Success, s.Stats.Failed, s.UASFailed, s.Stats.Retrans,
				ms(s.P50), ms(s.P99), ms(s.Max), tcpu, ms(s.usPerCall()), pct(s.UACCPU, s.Wall), pct(s.UASCPU, s.Wall),
				pct(s.OthersCPU, s.Wall), pct(s.StealCPU, s.Wall), quietCell(s),
				s.RcvbufErrors, s.TargetDrops, s.UACDrops, s.UASDrops, s.Wall.Seconds(), s.Load1, res)
		}
	}
	var fails []string
	for _, t := range e.targets {
		for _, s := range t.steps {
			if s.clean() || s.Interrupted || s.Disturbed != "" {
				continue
			}
			f := fmt.Sprintf("- %s %d/s (attempt %d):", s.Target, s.Rate, s.Attempt)
			if s.UACErrors != "" {
				f += " UAC: " + oneLine(s.UACErrors, 500) + "."
			}
			if s.UASErrors != "" {
				f += " UAS: " + oneLine(s.UASErrors, 500) + "."
			}
			if s.Err != "" {
				f += " Harness: " + oneLine(s.Err, 300) + "."
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
		fmt.Fprintf(&w, "\n### What failed\n\n%s\n", strings.Join(fails, "\n"))
	}
	fmt.Fprintf(&w, "\n### Highest rate with zero failed calls\n\n")
	bestRate := map[string]int{}
	for _, t := range e.targets {
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
				tcpu = fmt.Sprintf(", %s CPU %.0f%% (%d processes, %s µs/call)", t.name, pct(b.TargetCPU, b.Wall), b.TargetProcs, ms(b.usPerCall()))
			}
			fmt.Fprintf(&w, "- **%s**: %s%d calls/s%s, SIPp UAC %.0f%%, SIPp UAS %.0f%%; setup p50 %s ms, p99 %s ms; stopped: %s\n",
				t.name, bound, b.Rate, tcpu, pct(b.UACCPU, b.Wall), pct(b.UASCPU, b.Wall), ms(b.P50), ms(b.P99), oneLine(t.stopped, 300))
			bestRate[t.name] = b.Rate
		}
	}
	if c, k := bestRate["ccswitch"], bestRate["kamailio"]; c > 0 && k > 0 {
		fmt.Fprintf(&w, "- **ratio ccswitch / Kamailio: %.2f** (%d / %d calls/s, same run)\n", float64(c)/float64(k), c, k)
	}
	if cs, ks, ok := commonClean(e); ok {
		fmt.Fprintf(&w, "- CPU per call at %d calls/s, the highest rate both passed cleanly: ccswitch %s µs, Kamailio %s µs (%.1f×); "+
			"setup p99 ccswitch %s ms, Kamailio %s ms\n",
			cs.Rate, ms(cs.usPerCall()), ms(ks.usPerCall()), cs.usPerCall()/ks.usPerCall(), ms(cs.P99), ms(ks.P99))
	}
	return w.String()
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

// commonClean returns the clean steps of ccswitch and Kamailio at the highest rate both passed.
func commonClean(e *env) (c, k stepResult, ok bool) {
	var ct, kt *target
	for _, t := range e.targets {
		switch t.name {
		case "ccswitch":
			ct = t
		case "kamailio":
			kt = t
		}
	}
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
