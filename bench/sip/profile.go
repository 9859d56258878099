package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// profileRate is the rate a kind is profiled at: the highest clean step, else the lowest rate
// tried (the load at which it already failed).
func profileRate(t *target) (int, bool) {
	if b, ok := best(t); ok {
		return b.Rate, true
	}
	low := 0
	for _, s := range t.steps {
		if low == 0 || s.Rate < low {
			low = s.Rate
		}
	}
	return low, false
}

// captureProfiles runs one more step of each ccswitch ladder at its profile rate, on a freshly
// started ccswitch, while fetching from its -pprof listener: a CPU profile and an allocation
// profile (delta) covering the step, and the in-use heap near its end. The step is logged but
// is not part of the ladder (profiling costs some CPU). The files go to cfg.profile, with a
// copy of the binary for `go tool pprof -list`.
func captureProfiles(ctx context.Context, cfg config, e *env, tmp string, logf func(string, ...any)) []string {
	var out []string
	if err := os.MkdirAll(cfg.profile, 0o755); err != nil {
		return []string{"-profile: " + err.Error()}
	}
	if e.ccBin != "" {
		if err := copyFile(e.ccBin, filepath.Join(cfg.profile, "ccswitch")); err != nil {
			out = append(out, "copy of the binary: "+err.Error())
		}
	}
	for _, t := range append(append([]*target(nil), e.calls...), e.regs...) {
		if t.name != "ccswitch" || t.skip != "" {
			continue
		}
		rate, clean := profileRate(t)
		if rate == 0 {
			continue
		}
		if ctx.Err() != nil {
			out = append(out, fmt.Sprintf("%s %s: not profiled: time budget spent", t.name, t.kind))
			continue
		}
		if err := t.srv.restart(ctx); err != nil {
			out = append(out, fmt.Sprintf("%s %s: restart: %v", t.name, t.kind, err))
			continue
		}
		if t.kind == kindRegs {
			t.next = 0 // fresh registrar: the step registers new bindings, as the ladder's first did
		}
		secs := int(cfg.step.Seconds())
		base := filepath.Join(cfg.profile, fmt.Sprintf("ccswitch-%s-%d", t.kind, rate))
		var wg sync.WaitGroup
		errs := make([]error, 4)
		fetch := func(i int, path, file string, delay time.Duration) {
			defer wg.Done()
			select {
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			case <-time.After(delay):
			}
			errs[i] = fetchTo(ctx, "http://"+t.srv.pprof+path, file)
		}
		wg.Add(3)
		go fetch(0, fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs), base+"-cpu.pprof", 0)
		go fetch(1, fmt.Sprintf("/debug/pprof/allocs?seconds=%d", secs), base+"-allocs.pprof", 0)
		go fetch(2, "/debug/pprof/heap", base+"-heap.pprof", cfg.step-500*time.Millisecond)
		perfOut := ""
		if perf, err := exec.LookPath("perf"); err == nil {
			perfOut = base + ".perf.data"
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[3] = perfRecord(ctx, perf, t.srv.proc.pid(), cfg.step, perfOut)
			}()
		}
		cpu0, _ := treeCPU(t.srv.proc.pid())
		s := runStep(ctx, cfg, e, t, rate, filepath.Join(tmp, fmt.Sprintf("profile-%s-%d", t.kind, rate)))
		wg.Wait()
		cpu1, _ := treeCPU(t.srv.proc.pid())
		logf("profile step (not part of the ladder): %s", s.line())
		what := "highest clean rate"
		if !clean {
			what = "no clean rate: lowest rate tried"
		}
		line := fmt.Sprintf("%s %s at %d/s (%s; the step: %d ok, %d failed, p99 %s ms): %s-{cpu,allocs,heap}.pprof",
			t.name, t.kind, rate, what, s.Stats.Success, s.Stats.Failed, ms(s.P99), base)
		for i, n := range []string{"cpu", "allocs", "heap", "perf"} {
			if errs[i] != nil {
				line += fmt.Sprintf("; %s: %v", n, errs[i])
			}
		}
		// Go's CPU profiler under-samples ccswitch badly on this VM (its per-thread timers
		// fire on scheduler ticks only while the thread runs; short bursts are missed): say
		// how much of the CPU it saw, and keep perf's view beside it.
		if d, err := profileDuration(base + "-cpu.pprof"); err == nil {
			line += fmt.Sprintf("; the CPU profile holds %s of samples for %s of CPU in /proc over the step", d.Round(10*time.Millisecond), (cpu1 - cpu0).Round(10*time.Millisecond))
		}
		if perfOut != "" && errs[3] == nil {
			line += fmt.Sprintf("; perf: %s (sampled by the kernel, not under-sampled; top symbols in %s-perf-top.txt)", perfOut, base)
			if err := perfTop(ctx, perfOut, base+"-perf-top.txt"); err != nil {
				line += "; perf report: " + err.Error()
			}
		}
		out = append(out, line)
	}
	return out
}

// perfRecord samples pid's stacks with perf for d.
func perfRecord(ctx context.Context, perf string, pid int, d time.Duration, out string) error {
	cmd := exec.CommandContext(ctx, perf, "record", "-F", "999", "-g", "-p", strconv.Itoa(pid), "-o", out, "--", "sleep", strconv.Itoa(int(d.Seconds())))
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("perf record: %v: %s", err, oneLine(string(b), 200))
	}
	return nil
}

// perfTop writes perf's flat top symbols of a recording to file.
func perfTop(ctx context.Context, data, file string) error {
	cmd := exec.CommandContext(ctx, "perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "symbol", "--percent-limit", "0.5", "-g", "none")
	b, err := cmd.Output()
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// profileDuration is the total of a CPU profile's samples, as `go tool pprof -top` states it
// ("Total samples = 180ms").
func profileDuration(file string) (time.Duration, error) {
	b, err := exec.Command("go", "tool", "pprof", "-top", file).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("go tool pprof: %v", err)
	}
	return parseTotalSamples(string(b))
}

var totalSamples = regexp.MustCompile(`Total samples = ([0-9.]+[a-zµ]*s)`)

// parseTotalSamples reads "Total samples = 1.36s" of pprof's text output.
func parseTotalSamples(text string) (time.Duration, error) {
	m := totalSamples.FindStringSubmatch(text)
	if m == nil {
		return 0, fmt.Errorf("pprof: no total samples line")
	}
	return time.ParseDuration(strings.Replace(m[1], "µ", "u", 1))
}

// fetchTo writes the body of a GET to file.
func fetchTo(ctx context.Context, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
		return fmt.Errorf("%s: %s", res.Status, oneLine(string(b), 200))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
