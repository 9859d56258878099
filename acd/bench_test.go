package acd_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// benchSink drives a steady state from the sink, on the engine's own
// goroutine: each reservation is accepted, its task completed at once
// (the agent frees and triggers the next decision) and enqueued again,
// so the number waiting stays constant.
type benchSink struct {
	e     *acd.Engine
	tasks []acd.Task // by the number in the ID "t<n>"
	drive bool
	left  int
	last  time.Time
	lat   []time.Duration
	res   []acd.ReservationID
	held  []string // tasks reserved during setup
	cur   []string // by agent number: the task it holds
	rr    int
	idle  bool // waiting == 0: each decision is an Enqueue
	fails int
}

func (s *benchSink) Event(ev acd.Event) {
	switch ev.Kind {
	case acd.EventCommandFailed:
		s.fails++
	case acd.EventReservationCreated:
		if !s.drive {
			s.res = append(s.res, ev.Reservation)
			s.held = append(s.held, ev.Task)
			s.cur[taskNum(ev.Agent)] = ev.Task
			return
		}
		now := time.Now()
		s.lat = append(s.lat, now.Sub(s.last))
		s.last = now
		_ = s.e.Accept(ev.Reservation)
		s.cur[taskNum(ev.Agent)] = ev.Task
		if s.left--; s.left <= 0 {
			return
		}
		if s.idle {
			_ = s.e.Complete(ev.Task)
			_ = s.e.Enqueue(s.tasks[taskNum(ev.Task)])
			return
		}
		// Free the next busy agent of a rotation over all agents, so that
		// consecutive decisions involve different agents.
		for range len(s.cur) {
			s.rr = (s.rr + 7919) % len(s.cur)
			if task := s.cur[s.rr]; task != "" {
				s.cur[s.rr] = ""
				_ = s.e.Complete(task)
				_ = s.e.Enqueue(s.tasks[taskNum(task)])
				return
			}
		}
	}
}

// BenchmarkRouting measures one routing decision (a reservation) in a
// steady state where agents, all busy, free up one at a time (in a
// rotation over all agents) and pick the best of the waiting tasks
// across their queues; with waiting=0, tasks arrive and take the best
// idle agent. One op = one
// decision plus the Accept, Complete and Enqueue that surround it.
// p99-ns is the 99th percentile of the time between two decisions.
func BenchmarkRouting(b *testing.B) {
	for _, sc := range []struct{ agents, skills, waiting int }{{100, 5, 1000}, {10000, 50, 100000}, {10000, 50, 0}} {
		b.Run(fmt.Sprintf("agents=%d/waiting=%d", sc.agents, sc.waiting), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			var cfg acd.Config
			for i := range sc.skills {
				cfg.Skills = append(cfg.Skills, acd.SkillDef{Name: fmt.Sprintf("s%d", i), Type: acd.Proficiency})
				cfg.Queues = append(cfg.Queues, acd.QueueDef{Name: fmt.Sprintf("q%d", i), Requirements: []string{fmt.Sprintf("s%d >= 1", i)}, RONATimeout: time.Hour})
			}
			var skillsOf [][]int
			for a := range sc.agents {
				ad := acd.AgentDef{ID: fmt.Sprintf("a%d", a), Skills: map[string]string{}, Capacity: map[acd.Channel]int{acd.Voice: 1}}
				var sk []int
				for len(sk) < 3 {
					if s := r.IntN(sc.skills); !slices.Contains(sk, s) {
						sk = append(sk, s)
						ad.Skills[fmt.Sprintf("s%d", s)] = fmt.Sprint(1 + r.IntN(10))
						ad.Queues = append(ad.Queues, fmt.Sprintf("q%d", s))
					}
				}
				skillsOf = append(skillsOf, sk)
				cfg.Agents = append(cfg.Agents, ad)
			}
			sink := &benchSink{tasks: make([]acd.Task, sc.agents+sc.waiting), cur: make([]string, sc.agents), idle: sc.waiting == 0}
			cfg.Sink, cfg.RingSize = sink, 1<<17
			e, err := acd.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			sink.e = e
			for a := range sc.agents {
				_ = e.AgentLogin(fmt.Sprintf("a%d", a))
			}
			acd.Drain(e)
			n := sc.agents + sc.waiting
			if sc.waiting == 0 {
				n = 0 // all agents idle: each decision is an Enqueue taking the best agent
				sink.tasks[0] = acd.Task{ID: "t0", Queue: "q0", Channel: acd.Voice}
				sink.held = []string{"t0"}
			}
			for i := range n {
				q := r.IntN(sc.skills)
				t := acd.Task{ID: fmt.Sprintf("t%d", i), Queue: fmt.Sprintf("q%d", q), Channel: acd.Voice}
				if r.IntN(4) == 0 {
					t.Requirements = acd.MustParseConditions(fmt.Sprintf("s%d >= 6", q))
				}
				sink.tasks[i] = t
				if err := e.Enqueue(t); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 0 {
					acd.Drain(e)
				}
			}
			acd.Drain(e)
			for _, res := range sink.res {
				_ = e.Accept(res)
			}
			acd.Drain(e)
			if s := e.Snapshot(); sc.waiting > 0 && len(sink.res) < sc.agents*9/10 || sink.fails > 0 {
				b.Fatalf("setup: %d reserved, %d failed, %+v", len(sink.res), sink.fails, s.Queues[0])
			}
			sink.drive, sink.left = true, b.N
			sink.lat = make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			cpu0 := cpuNs()
			b.ResetTimer()
			sink.last = time.Now()
			// Free one agent; from then on each decision triggers the next.
			kick := sink.held[0]
			if sc.waiting > 0 {
				for a, task := range sink.cur {
					if task != "" {
						kick, sink.cur[a] = task, ""
						break
					}
				}
				_ = e.Complete(kick)
			}
			_ = e.Enqueue(sink.tasks[taskNum(kick)])
			acd.Drain(e)
			b.StopTimer()
			b.ReportMetric(float64(cpuNs()-cpu0)/float64(b.N), "cpu-ns/op")
			if sink.fails > 0 || len(sink.lat) < b.N {
				b.Fatalf("%d failures, %d decisions of %d", sink.fails, len(sink.lat), b.N)
			}
			slices.Sort(sink.lat)
			b.ReportMetric(float64(sink.lat[len(sink.lat)*99/100]), "p99-ns")
		})
	}
}

// cpuNs is the process's user+system CPU time: the steadier figure on a
// shared machine.
func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func taskNum(id string) int {
	n := 0
	for i := 1; i < len(id); i++ {
		n = n*10 + int(id[i]-'0')
	}
	return n
}
