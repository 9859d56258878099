package main

import (
	"runtime"
	"sync"
	"time"
)

// baseline is the plain implementation of the same routing rules: one
// mutex around everything, and every decision scans the waiting tasks
// (an agent becomes free) or the agents (a task arrives). Same
// eligibility (queue served, level >= 1, level >= 6 for senior tasks),
// same order (arrival for tasks, longest idle for agents).
type baseline struct {
	mu      sync.Mutex
	w       *workload
	agents  []blAgent
	waiting []blTask
	seq     int64
	clock   int64
}

type blAgent struct {
	busy      bool
	idleSince int64
	task      blTask
}

type blTask struct {
	seq    int64
	queue  int
	senior bool
}

func (b *baseline) eligible(a int, t blTask) bool {
	lvl := b.w.agentSkills[a][t.queue] // serves the queue iff it has the skill
	return lvl >= 1 && (!t.senior || lvl >= 6)
}

// free makes agent a available and gives it the best waiting task.
func (b *baseline) free(a int) (blTask, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.clock++
	ag := &b.agents[a]
	ag.busy, ag.idleSince = false, b.clock
	best := -1
	for i, t := range b.waiting {
		if b.eligible(a, t) && (best < 0 || t.seq < b.waiting[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return blTask{}, false
	}
	ag.busy, ag.task = true, b.waiting[best]
	last := len(b.waiting) - 1
	b.waiting[best] = b.waiting[last]
	b.waiting = b.waiting[:last]
	return ag.task, true
}

// enqueue gives task n to the longest-idle eligible agent, or queues it.
func (b *baseline) enqueue(n int) int {
	i := n & (len(b.w.taskQueue) - 1)
	return b.enqueueTask(blTask{queue: int(b.w.taskQueue[i]), senior: b.w.taskSenior[i]})
}

func (b *baseline) enqueueTask(t blTask) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	t.seq = b.seq
	best := -1
	for a := range b.agents {
		if !b.agents[a].busy && b.eligible(a, t) && (best < 0 || b.agents[a].idleSince < b.agents[best].idleSince) {
			best = a
		}
	}
	if best < 0 {
		b.waiting = append(b.waiting, t)
		return -1
	}
	b.agents[best].busy, b.agents[best].task = true, t
	return best
}

// runBaseline runs the same steady state as runEngine on one goroutine:
// with waiting > 0 an agent frees and takes the best waiting task, and a
// new task arrives; with waiting == 0 a task arrives and takes the best
// idle agent, who then frees. Latency is that of the deciding call.
func runBaseline(w *workload, dur time.Duration) result {
	b := &baseline{w: w, agents: make([]blAgent, w.sc.agents)}
	n := 0
	if w.sc.waiting > 0 {
		for len(b.waiting) < w.sc.waiting {
			b.enqueue(n)
			n++
		}
	}
	lat := make([]int64, 0, 1<<20)
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	decisions := 0
	for a := 0; time.Since(start) < dur; a = (a + 7919) % w.sc.agents {
		if w.sc.waiting > 0 {
			t0 := time.Now()
			t, ok := b.free(a)
			d := time.Since(t0)
			if ok {
				lat = append(lat, int64(d))
				decisions++
				b.enqueueTask(t) // same replacement rule as the engine's driver
			}
		} else {
			t0 := time.Now()
			got := b.enqueue(n)
			d := time.Since(t0)
			n++
			if got >= 0 {
				lat = append(lat, int64(d))
				decisions++
				b.free(got)
			}
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	r := result{decisions: decisions, perSec: float64(decisions) / elapsed.Seconds(), perCPUSec: float64(decisions) / cpu.Seconds(),
		allocs: float64(m1.Mallocs-m0.Mallocs) / float64(max(decisions, 1))}
	r.p50, r.p99, r.p999 = percentiles(lat)
	r.loop50, r.loop99 = r.p50, r.p99
	return r
}
