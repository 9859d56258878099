package acd

import (
	"errors"
	"fmt"
	"slices"
)

// check verifies the engine's structural invariants (doc.go 1, 3, 4, 5)
// by walking all state. It is O(tasks × agents) and for tests only.
func (e *Engine) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var nWait, nRes, nBusy = map[*queue]int{}, map[*queue]int{}, map[*queue]int{}
	var load = map[*agent][NumChannels]int{}
	for s := int32(0); s < e.nslots; s++ {
		t := e.taskAt(s)
		if t.id == "" {
			continue
		}
		if e.ids.find(e, e.ids.hash(t.id), t.id) != s {
			bad("inv2: task %s not indexed", t.id)
		}
		switch t.state {
		case tsWaiting:
			nWait[t.q]++
			n := 0
			if t.cls != nil {
				run, heap := t.cls.tasks.entries()
				for _, x := range append(slices.Clip(run), heap...) {
					if x.slot() == t.slot && t.cls.tasks.valid(&x) {
						n++
						if x.key != t.key || x.excl() != (t.nexcl > 0) {
							bad("task %s heap entry key/excl stale", t.id)
						}
					}
				}
			}
			if n != 1 || t.hidx != 0 {
				bad("inv1: waiting task %s in its class heap %d times", t.id, n)
			}
			if t.agent != nil {
				bad("inv1: waiting task %s has agent", t.id)
			}
			if t.links[lnWait].list != &t.q.wait {
				bad("task %s not in wait list", t.id)
			}
		case tsReserved:
			nRes[t.q]++
			if t.hidx >= 0 {
				bad("inv1: reserved task %s still in a class heap", t.id)
			}
			if t.agent == nil || !t.agent.held.contains(t) {
				bad("inv1: reserved task %s not held by its agent", t.id)
			}
			if l := t.links[lnTimer]; l.list != &t.q.rona || l.deadline > e.now+t.q.m.rona {
				bad("inv4: reserved task %s has no RONA deadline within %v", t.id, t.q.m.rona)
			}
		case tsAccepted, tsWrapUp:
			if t.state == tsAccepted {
				nBusy[t.q]++
			}
			if t.hidx >= 0 || t.agent == nil || !t.agent.held.contains(t) {
				bad("inv1: task %s state %d not held by an agent", t.id, t.state)
			}
			if t.state == tsWrapUp && t.links[lnTimer].list != &t.q.wrap {
				bad("task %s in wrap-up without timer", t.id)
			}
		default:
			bad("inv1: live task %s in state %d", t.id, t.state)
		}
		if t.agent != nil {
			l := load[t.agent]
			l[t.ch]++
			load[t.agent] = l
		}
	}
	if e.ids.len()+len(e.free) != int(e.nslots) {
		bad("inv2: %d indexed + %d free != %d slots", e.ids.len(), len(e.free), e.nslots)
	}
	for _, q := range e.queues {
		if q.nWaiting != nWait[q] || q.nReserved != nRes[q] || q.nBusy != nBusy[q] {
			bad("queue %s counters %d/%d/%d, want %d/%d/%d", q.m.name, q.nWaiting, q.nReserved, q.nBusy, nWait[q], nRes[q], nBusy[q])
		}
	}
	for _, a := range e.agents {
		l := load[a]
		active, wrap := 0, 0
		for i := range a.held.len() {
			t := a.held.at(i)
			if t.state == tsWrapUp {
				wrap++
			} else {
				active++
			}
		}
		if active != a.active || wrap != a.wrap {
			bad("agent %s active/wrap %d/%d, want %d/%d", a.m.id, a.active, a.wrap, active, wrap)
		}
		for c := range NumChannels {
			if int(a.load[c]) != l[c] {
				bad("agent %s load %v %d, want %d", a.m.id, c, a.load[c], l[c])
			}
			if a.load[c] > a.m.capacity[c] {
				bad("inv3: agent %s above capacity on %v: %d > %d", a.m.id, c, a.load[c], a.m.capacity[c])
			}
		}
		for c := range NumChannels {
			r := a.routable(c)
			for _, m := range a.mem[c] {
				in := m.c.agents.has(m)
				if r != in {
					bad("agent %s routable(%v)=%v but in heap=%v", a.m.id, c, r, in)
				}
				if m.c.agents.ms[m.li] != m {
					bad("agent %s member index broken", a.m.id)
				}
				if p := m.c.agents.pos[m.li]; in && (m.c.agents.e[p].li != m.li || m.c.agents.e[p].rank != m.rank || m.c.agents.e[p].idx != a.idx) {
					bad("agent %s heap index broken", a.m.id)
				}
			}
		}
	}
	for _, c := range e.classes {
		stale := 0
		run, heap := c.tasks.entries()
		for i, te := range run {
			if i > 0 && run[i-1].key > te.key {
				bad("class task run order")
			}
		}
		for i, te := range heap {
			if i > 0 && heap[(i-1)/4].key > te.key {
				bad("class task heap order")
			}
		}
		for _, te := range append(slices.Clip(run), heap...) {
			if !c.tasks.valid(&te) {
				stale++
				continue
			}
			if t := c.tasks.task(&te); t.state != tsWaiting || t.cls != c {
				bad("inv1: task %s in class heap in state %d", t.id, t.state)
			}
		}
		if want := (taskHeap{e: c.tasks.e, q: c.tasks.q, qh: c.tasks.qh}); true {
			want.setTop()
			if want.topKey != c.tasks.topKey || want.topExcl != c.tasks.topExcl {
				bad("class heap top cache %x/%v, want %x/%v", c.tasks.topKey, c.tasks.topExcl, want.topKey, want.topExcl)
			}
		}
		if stale != c.tasks.stale {
			bad("class heap has %d stale entries, counted %d", stale, c.tasks.stale)
		}
		for i := range c.agents.e {
			m := c.agents.ms[c.agents.e[i].li]
			if i > 0 && c.agents.e[i].less(&c.agents.e[(i-1)/4]) {
				bad("class agent heap order")
			}
			for _, te := range append(slices.Clip(run), heap...) {
				if t := c.tasks.task(&te); c.tasks.valid(&te) && !t.excludes(m.a) {
					bad("inv5: routable agent %s eligible for waiting task %s", m.a.m.id, t.id)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// oracle checks one decision by brute force over all agents or tasks,
// without the class index (doc.go 3, 6, 7). It runs before the
// reservation is made.
func (e *Engine) oracle(t *task, a *agent, agentSide bool) error {
	eligible := func(u *task, b *agent) bool {
		if !b.routable(u.ch) || u.excludes(b) || !slices.Contains(b.queues, u.q) {
			return false
		}
		for _, x := range u.q.m.effective(u.rs.conds, int(u.stage)) {
			cc, err := e.m.compileCond(x)
			if err != nil || !cc.match(b.m.vals) {
				return false
			}
		}
		return true
	}
	if !eligible(t, a) {
		return fmt.Errorf("inv3/6: agent %s not eligible for task %s", a.m.id, t.id)
	}
	if t.stage > 0 && e.now-t.queuedAt < t.q.m.relax[t.stage-1].after {
		return fmt.Errorf("inv7: task %s at stage %d after %v", t.id, t.stage, e.now-t.queuedAt)
	}
	if agentSide {
		for s := int32(0); s < e.nslots; s++ {
			u := e.taskAt(s)
			if u != t && u.id != "" && u.state == tsWaiting && u.key < t.key && eligible(u, a) {
				return fmt.Errorf("inv6: agent %s took %s (key %x) before %s (key %x)", a.m.id, t.id, t.key, u.id, u.key)
			}
		}
		return nil
	}
	ra := e.rank(&member{a: a, c: t.cls, score: memberScore(a, t.cls)})
	for _, b := range e.agents {
		if b == a || !eligible(t, b) {
			continue
		}
		if rb := e.rank(&member{a: b, c: t.cls, score: memberScore(b, t.cls)}); rb < ra || rb == ra && b.idx < a.idx {
			return fmt.Errorf("inv6: task %s went to %s (rank %d) before %s (rank %d)", t.id, a.m.id, ra, b.m.id, rb)
		}
	}
	return nil
}

// checkSnapshot compares a published snapshot, built incrementally, with
// one built from scratch (doc.go 9 is checked by the snapshot tests).
func (e *Engine) checkSnapshot(s *Snapshot) error {
	for i, a := range e.agents {
		if want := e.agentStatus(a); s.Agents[i] != want {
			return fmt.Errorf("snapshot: agent %s %+v, want %+v", a.m.id, s.Agents[i], want)
		}
	}
	for i, q := range e.queues {
		var want [NumAgentStates]int
		for _, a := range q.members {
			want[a.derived()]++
		}
		if s.Queues[i].Agents != want {
			return fmt.Errorf("snapshot: queue %s agents by state %v, want %v", q.m.name, s.Queues[i].Agents, want)
		}
	}
	if len(s.Agents) != len(e.agents) {
		return fmt.Errorf("snapshot: %d agents, want %d", len(s.Agents), len(e.agents))
	}
	return nil
}
