// Command routing benchmarks the acd queue engine against a plain
// mutex-and-scan implementation of the same routing rules, and prints
// one line per scenario:
//
//	routing agents=10000 skills=50 waiting=100000 p50=1.2us p99=4.8us p999=9.1us decisions/s=812000 allocs/decision=0
//
// A decision is one reservation. decisions/s and allocs/decision come
// from a steady state in which every reservation is accepted and
// completed at once, and a new task replaces it, so the agent (waiting
// > 0) or the task (waiting == 0) triggers the next decision; the
// engine and this driver run on one goroutine (-procs 1 by default).
// p50/p99/p999 are probed one at a time from a producer goroutine: from
// submitting the command that makes a decision possible (Complete, which
// frees an agent, when tasks wait; Enqueue when agents are idle) to the
// reservation event in the sink. The baseline's latency is its deciding
// call. See RESULTS.md.
//
// The same routing end to end — a carrier's INVITE to the agent's phone ringing, a webhook
// POST to the desktop's offer, through the real binary — is `go run ./bench/sip -e2e`, which
// prints this engine-only figure beside its own.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"
)

func main() {
	agents := flag.Int("agents", 0, "run one scenario with this many agents (with -skills, -waiting)")
	skills := flag.Int("skills", 50, "skills (and queues) in the -agents scenario")
	waiting := flag.Int("waiting", 100000, "tasks waiting in the -agents scenario")
	dur := flag.Duration("duration", 2*time.Second, "steady-state time per scenario and implementation")
	inflight := flag.Int("inflight", 1, "decisions in flight in the engine's steady state")
	probes := flag.Int("probes", 20000, "latency probes per scenario")
	procs := flag.Int("procs", 1, "GOMAXPROCS")
	seed := flag.Uint64("seed", 1, "workload seed")
	noBase := flag.Bool("nobaseline", false, "skip the baseline")
	verbose := flag.Bool("v", false, "also print steady-state loop latency and decision counts")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the engine runs to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile (every allocation) to this file")
	flag.IntVar(&ringSize, "ring", ringSize, "engine command ring size")
	flag.DurationVar(&snapEvery, "snapshot", 0, "engine snapshot period (0: the engine default, 100ms)")
	flag.StringVar(&loopProfile, "loopprofile", "", "write a CPU profile of the engine's steady-state loops only (no setup, probes or baseline) to this file")
	flag.Parse()
	if *memprofile != "" {
		runtime.MemProfileRate = 1
		defer func() {
			f, err := os.Create(*memprofile)
			if err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	runtime.GOMAXPROCS(*procs)

	scenarios := []scenario{{100, 5, 1000}, {10000, 50, 100000}, {10000, 50, 0}}
	if *agents > 0 {
		scenarios = []scenario{{*agents, *skills, *waiting}}
	}
	for _, sc := range scenarios {
		w := newWorkload(sc, *seed)
		r, err := runEngine(w, *dur, *inflight, *probes)
		if err != nil {
			fmt.Fprintf(os.Stderr, "routing %v: %v\n", sc, err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
		print("routing", sc, r, *verbose)
		if *noBase {
			continue
		}
		b := runBaseline(w, *dur)
		print("baseline", sc, b, *verbose)
		fmt.Printf("ratio %v decisions/s=%.1fx p99=%.1fx\n", sc, r.perSec/b.perSec, float64(b.p99)/float64(max(r.p99, 1)))
	}
}

func print(name string, sc scenario, r result, verbose bool) {
	fmt.Printf("%s %v p50=%s p99=%s p999=%s decisions/s=%.0f allocs/decision=%s\n", name, sc,
		fmtUs(r.p50), fmtUs(r.p99), fmtUs(r.p999), r.perSec, strconv.FormatFloat(r.allocs, 'g', 2, 64))
	if verbose {
		fmt.Printf("  %s steady-state: %d decisions, %.0f decisions per CPU-second, trigger-to-reservation p50=%s p99=%s\n",
			name, r.decisions, r.perCPUSec, fmtUs(r.loop50), fmtUs(r.loop99))
	}
}

func fmtUs(d time.Duration) string {
	v := float64(d) / 1e3
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "us"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "us"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "us"
}
