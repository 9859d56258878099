package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// scenario is one benchmark size.
type scenario struct {
	agents, skills, waiting int
}

func (s scenario) String() string {
	return fmt.Sprintf("agents=%d skills=%d waiting=%d", s.agents, s.skills, s.waiting)
}

// workload is the same routing problem for the engine and the baseline:
// skills s0..sN-1 (proficiency), one queue per skill requiring
// `s<i> >= 1`; each agent has three skills at levels 1–10 and serves
// their queues, voice capacity 1; a task goes to a random queue and one
// in four also requires `s<i> >= 6`. Longest idle first.
type workload struct {
	sc          scenario
	agentSkills [][]int8 // [agent][skill], -1 if absent
	agentQueues [][]int
	taskQueue   []uint16 // random queue per task number (cyclic)
	taskSenior  []bool   // task requires level >= 6
	ids         []string
	reqs        [][]acd.Condition // [queue]: the extra `s<i> >= 6`
}

func newWorkload(sc scenario, seed uint64) *workload {
	r := rand.New(rand.NewPCG(seed, uint64(sc.agents)))
	w := &workload{sc: sc}
	per := min(3, sc.skills)
	for range sc.agents {
		sk := make([]int8, sc.skills)
		for i := range sk {
			sk[i] = -1
		}
		var qs []int
		for len(qs) < per {
			s := r.IntN(sc.skills)
			if sk[s] >= 0 {
				continue
			}
			sk[s] = int8(1 + r.IntN(10))
			qs = append(qs, s)
		}
		w.agentSkills = append(w.agentSkills, sk)
		w.agentQueues = append(w.agentQueues, qs)
	}
	n := 1 << 16
	for range n {
		w.taskQueue = append(w.taskQueue, uint16(r.IntN(sc.skills)))
		w.taskSenior = append(w.taskSenior, r.IntN(4) == 0)
	}
	for i := range sc.skills {
		w.reqs = append(w.reqs, acd.MustParseConditions(fmt.Sprintf("s%d >= 6", i)))
	}
	// Enough task IDs for every live task; an ID is reused only after its
	// task ended.
	for i := range sc.agents + sc.waiting + 1024 {
		w.ids = append(w.ids, fmt.Sprintf("task-%d", i))
	}
	return w
}

func (w *workload) config() acd.Config {
	var cfg acd.Config
	for i := range w.sc.skills {
		name := fmt.Sprintf("s%d", i)
		cfg.Skills = append(cfg.Skills, acd.SkillDef{Name: name, Type: acd.Proficiency})
		cfg.Queues = append(cfg.Queues, acd.QueueDef{Name: fmt.Sprintf("q%d", i), Channels: []acd.Channel{acd.Voice},
			Requirements: []string{name + " >= 1"}, Strategy: "longest-idle", RONATimeout: time.Hour})
	}
	for a := range w.sc.agents {
		ad := acd.AgentDef{ID: fmt.Sprintf("agent-%d", a), Skills: map[string]string{}, Capacity: map[acd.Channel]int{acd.Voice: 1},
			Tag: uint64(a)}
		for _, s := range w.agentQueues[a] {
			ad.Skills[fmt.Sprintf("s%d", s)] = fmt.Sprint(w.agentSkills[a][s])
			ad.Queues = append(ad.Queues, fmt.Sprintf("q%d", s))
		}
		cfg.Agents = append(cfg.Agents, ad)
	}
	return cfg
}

// task returns the n-th task of the stream with ID w.ids[k] (given as
// id), tagged k.
func (w *workload) task(n int, id string, k int, queueNames []string) acd.Task {
	i := n & (len(w.taskQueue) - 1)
	q := w.taskQueue[i]
	t := acd.Task{ID: id, Tag: uint64(k), Queue: queueNames[q], Channel: acd.Voice}
	if w.taskSenior[i] {
		t.Requirements = w.reqs[q]
	}
	return t
}
