package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

const (
	modeSetup int32 = iota
	modeLoop
	modeStop
	modeProbe
)

type probeEv struct {
	kind  acd.EventKind
	res   acd.ReservationID
	task  string
	agent string
	at    int64
}

// loopProfile, if set, receives a CPU profile of the first scenario's
// steady-state loop (-loopprofile).
var (
	loopProfile  string
	loopProfiled bool
)

// driver runs the engine and is its Sink. In loop mode it drives the
// steady state from the sink itself, on the engine goroutine: every
// reservation is accepted, its task completed at once (freeing the
// agent, which triggers the next decision) and replaced by a new task
// with the same ID, so the number waiting stays constant.
type driver struct {
	e       *acd.Engine
	w       *workload
	qnames  []string
	base    time.Time
	mode    atomic.Int32
	byAgent bool // latency key: agent (waiting > 0) or task (waiting == 0)

	// Owned by the engine goroutine while the engine runs.
	reserved  []acd.Event
	tasks     []acd.Task // by task number, as last enqueued
	cur       []string   // by agent number: the task it holds
	held      []held     // by agent number: the task it holds, in one line
	pushAt    []int64    // by agent (waiting > 0) or task number
	lat       []int64    // trigger-to-reservation latencies, a ring
	nlat      int
	n         int
	next      int
	rr        int // rotation over agents
	deadline  int64
	failed    int
	stopped   []string
	stopped1  chan struct{}
	probe     chan probeEv
	lastError error
}

// num parses the number at the end of "agent-12" or "task-345".
func num(id string) int {
	n := 0
	for i := 0; i < len(id); i++ {
		if c := id[i]; c >= '0' && c <= '9' {
			n = n*10 + int(c-'0')
		}
	}
	return n
}

func (d *driver) now() int64 { return int64(time.Since(d.base)) }

func (d *driver) Event(ev acd.Event) {
	switch ev.Kind {
	case acd.EventCommandFailed:
		d.failed++
		d.lastError = ev.Err
		return
	case acd.EventReservationCreated:
		d.cur[ev.AgentTag] = ev.Task
		d.held[ev.AgentTag] = held{id: ev.Task, tag: ev.TaskTag, res: ev.Reservation}
	}
	switch d.mode.Load() {
	case modeSetup:
		if ev.Kind == acd.EventReservationCreated {
			d.reserved = append(d.reserved, ev)
		}
	case modeLoop:
		if ev.Kind != acd.EventReservationCreated {
			return
		}
		now := d.now()
		key := ev.TaskTag
		if d.byAgent {
			key = ev.AgentTag
		}
		if t0 := d.pushAt[key]; t0 > 0 {
			d.lat[d.nlat&(len(d.lat)-1)] = now - t0 // the last len(d.lat) samples
			d.nlat++
			d.pushAt[key] = 0
		}
		d.n++
		d.must(d.e.Accept(ev.Reservation))
		if d.n&255 == 0 && now >= d.deadline {
			d.mode.Store(modeStop)
			d.stopped = append(d.stopped, ev.Task)
			close(d.stopped1)
			return
		}
		if !d.byAgent {
			d.must(d.e.Complete(ev.Task))
			d.pushAt[key] = d.now()
			d.must(d.e.Enqueue(d.replacement(ev.TaskTag)))
			d.next++
			return
		}
		// Free the next agent of a fixed rotation over all agents, so that
		// consecutive decisions involve different agents (as in the
		// baseline), and replace its task.
		b := -1
		for range len(d.held) {
			d.rr = (d.rr + 7919) % len(d.held)
			if d.held[d.rr].res != 0 {
				b = d.rr
				break
			}
		}
		if b < 0 {
			return
		}
		h := &d.held[b]
		d.cur[b] = ""
		d.pushAt[b] = now
		d.must(d.e.CompleteReservation(h.res))
		d.must(d.e.Enqueue(d.w.task(int(h.tag), h.id, int(h.tag), d.qnames)))
		h.res = 0
		d.next++
	case modeStop:
		if ev.Kind == acd.EventReservationCreated {
			d.must(d.e.Accept(ev.Reservation))
			d.stopped = append(d.stopped, ev.Task)
		}
	case modeProbe:
		if ev.Kind == acd.EventReservationCreated || d.byAgent && ev.Kind == acd.EventTaskQueued || !d.byAgent && ev.Kind == acd.EventWrapUpEnded {
			select {
			case d.probe <- probeEv{kind: ev.Kind, res: ev.Reservation, task: ev.Task, agent: ev.Agent, at: d.now()}:
			default: // never: one probe is in flight at a time
				d.failed++
			}
		}
	}
}

// held is the task an agent holds.
type held struct {
	id  string
	tag uint64
	res acd.ReservationID
}

// replacement is the task that replaces one just completed when no task
// waits: the next task of the stream. (With tasks waiting, the loop
// re-enqueues the same task: same ID, queue and requirements, as task k
// of the stream got ID k at setup, so what waits stays the same.) The
// driver finds its records by the events' tags, as a sink with integer
// handles does, not by parsing IDs.
func (d *driver) replacement(tag uint64) acd.Task {
	return d.w.task(d.next, d.w.ids[tag], int(tag), d.qnames)
}

func (d *driver) must(err error) {
	if err != nil {
		d.failed++
		d.lastError = err
	}
}

func retry(f func() error) {
	for {
		err := f()
		if !errors.Is(err, acd.ErrBusy) {
			if err != nil {
				panic(err)
			}
			return
		}
		runtime.Gosched()
	}
}

type result struct {
	p50, p99, p999 time.Duration
	perSec         float64
	perCPUSec      float64 // decisions per second of process CPU time
	allocs         float64
	decisions      int
	loop50, loop99 time.Duration
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentiles(lat []int64) (p50, p99, p999 time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) time.Duration { return time.Duration(lat[min(len(lat)-1, int(q*float64(len(lat))))]) }
	return at(0.50), at(0.99), at(0.999)
}

// runEngine measures the engine: a steady-state loop for dur with
// inflight agents cycling (throughput, allocations), then probes
// one-at-a-time latencies from a producer goroutine (submit of the
// triggering command to the reservation event in the sink).
func runEngine(w *workload, dur time.Duration, inflight, probes int) (result, error) {
	d := &driver{w: w, base: time.Now(), byAgent: w.sc.waiting > 0,
		cur: make([]string, w.sc.agents), held: make([]held, w.sc.agents),
		pushAt: make([]int64, max(w.sc.agents, len(w.ids))), tasks: make([]acd.Task, len(w.ids)), probe: make(chan probeEv, 8), stopped1: make(chan struct{})}
	for i := range w.sc.skills {
		d.qnames = append(d.qnames, fmt.Sprintf("q%d", i))
	}
	cfg := w.config()
	cfg.Sink = d
	cfg.RingSize = ringSize
	cfg.SnapshotEvery = snapEvery
	e, err := acd.New(cfg)
	if err != nil {
		return result{}, err
	}
	d.e = e
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error)
	go func() { runDone <- e.Run(ctx) }()
	defer func() { cancel(); <-runDone }()
	sync := func() {
		if err := e.Sync(ctx); err != nil {
			panic(err)
		}
	}

	// Setup: everyone logged in; with waiting > 0, every agent busy with
	// an accepted task and w.sc.waiting tasks waiting.
	for a := range w.sc.agents {
		retry(func() error { return e.AgentLogin(fmt.Sprintf("agent-%d", a)) })
	}
	sync()
	used := 0
	if w.sc.waiting > 0 {
		enq := func() {
			t := w.task(used, w.ids[used], used, d.qnames)
			d.tasks[num(t.ID)] = t
			retry(func() error { return e.Enqueue(t) })
			used++
		}
		for used < w.sc.agents+w.sc.waiting {
			enq()
		}
		sync()
		for used-len(d.reserved) < w.sc.waiting {
			enq()
			sync()
		}
		for _, ev := range d.reserved {
			retry(func() error { return e.Accept(ev.Reservation) })
		}
		sync()
	}
	if w.sc.waiting == 0 {
		// Warm up: one task of each kind (queue, requirement) creates the
		// engine's classes before the measurement, as any running system
		// has them.
		for i := range 2 * w.sc.skills {
			t := acd.Task{ID: w.ids[i], Queue: d.qnames[i/2], Channel: acd.Voice}
			if i%2 == 1 {
				t.Requirements = w.reqs[i/2]
			}
			retry(func() error { return e.Enqueue(t) })
		}
		sync()
		for _, ev := range d.reserved {
			retry(func() error { return e.Accept(ev.Reservation) })
			retry(func() error { return e.Complete(ev.Task) })
		}
		d.reserved = nil
		sync()
	}
	if s := e.Snapshot(); w.sc.waiting > 0 {
		waiting := 0
		for _, q := range s.Queues {
			waiting += q.Waiting
		}
		if waiting != w.sc.waiting {
			return result{}, fmt.Errorf("setup: %d waiting, want %d", waiting, w.sc.waiting)
		}
	}
	// Written before the loop, so that the loop does not page-fault on fresh memory.
	d.lat = make([]int64, 1<<21)
	for i := range d.lat {
		d.lat[i] = 1
	}
	d.next = used

	// Steady-state loop.
	var kick []string
	if d.byAgent {
		for a := range w.sc.agents {
			if d.cur[a] != "" && len(kick) < inflight {
				kick = append(kick, fmt.Sprintf("agent-%d", a))
			}
		}
	} else {
		kick = w.ids[:inflight]
		used = inflight
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	d.deadline = d.now() + int64(dur)
	profiling := false
	if loopProfile != "" && !loopProfiled {
		if f, err := os.Create(loopProfile); err == nil && pprof.StartCPUProfile(f) == nil {
			profiling, loopProfiled = true, true
			defer f.Close()
		}
	}
	d.mode.Store(modeLoop)
	for _, k := range kick {
		if d.byAgent {
			task := d.cur[num(k)]
			retry(func() error { return e.Complete(task) })
			retry(func() error { return e.Enqueue(d.tasks[num(task)]) })
		} else {
			retry(func() error { return e.Enqueue(w.task(used, k, num(k), d.qnames)) })
		}
	}
	select {
	case <-d.stopped1:
	case <-time.After(dur + 5*time.Second):
		sync()
		s := e.Snapshot()
		for _, q := range s.Queues {
			fmt.Printf("%s waiting=%d reserved=%d busy=%d agents=%v\n", q.Name, q.Waiting, q.Reserved, q.Busy, q.Agents)
		}
		return result{}, fmt.Errorf("loop stalled after %d decisions (failed %d: %v)", d.n, d.failed, d.lastError)
	}
	elapsed := time.Since(start)
	if profiling {
		pprof.StopCPUProfile()
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	sync()
	r := result{decisions: d.n, perSec: float64(d.n) / elapsed.Seconds(), perCPUSec: float64(d.n) / cpu.Seconds(),
		allocs: float64(m1.Mallocs-m0.Mallocs) / float64(d.n)}
	r.loop50, r.loop99, _ = percentiles(d.lat[:min(d.nlat, len(d.lat))])
	if d.failed > 0 {
		return r, fmt.Errorf("%d commands failed: %v", d.failed, d.lastError)
	}

	// Probes.
	if !d.byAgent {
		for _, task := range d.stopped {
			retry(func() error { return e.Complete(task) })
		}
	}
	sync()
	d.mode.Store(modeProbe)
	lat := make([]int64, 0, probes)
	// One timer for every wait: a time.After per wait made garbage, and the collections it
	// caused landed in the probes' tail (the engine holds 100,000 tasks to mark).
	timeout := time.NewTimer(time.Hour)
	defer timeout.Stop()
	wait := func(k acd.EventKind) (probeEv, error) {
		timeout.Reset(2 * time.Second)
		for {
			select {
			case ev := <-d.probe:
				if ev.kind == k {
					return ev, nil
				}
			case <-timeout.C:
				return probeEv{}, fmt.Errorf("probe: no %v", k)
			}
		}
	}
	var agents []int
	for a, task := range d.cur {
		if task != "" {
			agents = append(agents, a)
		}
	}
	for i := range probes {
		if d.byAgent {
			// An agent finishes; the engine picks its best waiting task.
			agent := agents[(i*7919)%len(agents)]
			task := d.cur[agent]
			t0 := d.now()
			retry(func() error { return e.Complete(task) })
			ev, err := wait(acd.EventReservationCreated)
			if err != nil {
				return r, err
			}
			lat = append(lat, ev.at-t0)
			retry(func() error { return e.Accept(ev.res) })
			retry(func() error { return e.Enqueue(d.tasks[num(task)]) })
			if _, err := wait(acd.EventTaskQueued); err != nil {
				return r, err
			}
		} else {
			// A task arrives; the engine picks the best idle agent.
			k := inflight + i%(len(w.ids)-inflight)
			task := w.ids[k]
			t0 := d.now()
			retry(func() error { return e.Enqueue(w.task(i, task, k, d.qnames)) })
			ev, err := wait(acd.EventReservationCreated)
			if err != nil {
				return r, err
			}
			lat = append(lat, ev.at-t0)
			retry(func() error { return e.Accept(ev.res) })
			retry(func() error { return e.Complete(task) })
			if _, err := wait(acd.EventWrapUpEnded); err != nil {
				return r, err
			}
		}
	}
	r.p50, r.p99, r.p999 = percentiles(lat)
	return r, nil
}

var ringSize = 1 << 16

var snapEvery time.Duration
