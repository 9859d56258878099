package acd

import (
	"math"
	"slices"
)

// install makes m the engine's model. At New it builds the runtime
// state; at Apply it rebuilds queues, agents and classes around the live
// tasks, which keep their place (arrival sequence), their reservation
// deadlines and their agents.
func (e *Engine) install(m *model) {
	e.m = m
	e.cur.Store(m)
	e.snapFull = true
	oldQ := e.queueIdx
	oldA := e.agentIdx

	e.queues = make([]*queue, len(m.queues))
	e.queueIdx = make(map[string]*queue, len(m.queues))
	for i := range m.queues {
		qm := &m.queues[i]
		q := &queue{idx: int32(i), m: qm, relax: make([]dlist, len(qm.relax))}
		for s := range q.relax {
			q.relax[s].slot = lnRelax
		}
		q.wait.slot, q.rona.slot, q.wrap.slot = lnWait, lnTimer, lnTimer
		if o := oldQ[qm.name]; o != nil {
			q.stats = o.stats
		}
		e.queues[i] = q
		e.queueIdx[qm.name] = q
	}

	e.agents = make([]*agent, len(m.agents))
	e.agentIdx = make(map[string]*agent, len(m.agents))
	for i := range m.agents {
		am := &m.agents[i]
		a := oldA[am.id]
		if a == nil {
			a = &agent{state: Offline, reported: Offline, since: e.now, idleSince: e.now}
		}
		a.idx, a.m = int32(i), am
		a.id, a.tag, a.capacity, a.blocks = am.id, am.tag, am.capacity, am.blocks
		a.resetClasses()
		a.queues = a.queues[:0]
		a.totalCap = 0
		for _, c := range am.capacity {
			a.totalCap += int(c)
		}
		for _, qn := range am.queues {
			q := e.queueIdx[qn]
			a.queues = append(a.queues, q)
			q.members = append(q.members, a)
		}
		e.agents[i] = a
		e.agentIdx[am.id] = a
	}
	var gone []*agent
	for id, a := range oldA {
		if e.agentIdx[id] == nil {
			a.detached, a.state = true, Offline
			a.mem = [NumChannels][]*member{}
			a.cls = [NumChannels][]*class{}
			a.clsBuf = [len(a.clsBuf)]*class{}
			a.inHeaps = [NumChannels]bool{}
			gone = append(gone, a)
		}
	}
	slices.SortFunc(gone, func(x, y *agent) int { return int(x.idx - y.idx) })

	e.classes = map[classKey]*class{}
	e.reqsets = map[uint64]*reqset{}
	e.emptyRS = &reqset{}
	e.nreqsets = 0
	e.next = math.MaxInt64

	// Re-place live tasks.
	var reroute, endWraps []*task
	for s := int32(0); s < e.nslots; s++ {
		t := e.taskAt(s)
		if t.id == "" {
			continue
		}
		timerDeadline := t.links[lnTimer].deadline
		t.links = [3]link{}
		t.hidx, t.cls = -1, nil
		oldq := t.q
		nq := e.queueIdx[oldq.m.name]
		rs, err := e.internReqs(t.rs.conds)
		ok := nq != nil && err == nil && nq.m.chans&(1<<t.ch) != 0
		switch t.state {
		case tsWaiting, tsReserved:
			if t.state == tsReserved && (!ok || t.agent.detached) {
				t.q = &queue{m: oldq.m} // counters of the old queue no longer matter
				a := e.cancelReservation(t)
				if a.detached {
					a.held.remove(t)
				}
			}
			if !ok {
				t.state = tsFree
				t.q = &queue{m: oldq.m, stats: queueStats{}}
				reason := "queue removed"
				if nq != nil {
					reason = "requirements invalid"
				}
				e.end(t, EventTaskTimedOut, reason)
				continue
			}
			st := t.state
			t.q, t.rs, t.state = nq, rs, tsFree
			t.key = prioKey(t.prio+nq.m.prio) | t.seq
			t.stage = 0
			e.linkWaiting(t)
			if st == tsReserved {
				e.setTS(t, tsReserved)
				nq.rona.insert(t, timerDeadline)
				e.noteDeadline(timerDeadline)
			} else {
				reroute = append(reroute, t)
			}
		case tsAccepted, tsWrapUp:
			if err == nil {
				t.rs = rs
			}
			if nq == nil {
				// The queue went away: the task finishes outside any
				// queue, and its wrap-up ends now.
				t.q = &queue{m: oldq.m, detached: true}
				if t.state == tsWrapUp {
					endWraps = append(endWraps, t)
				}
				continue
			}
			t.q = nq
			if t.state == tsAccepted {
				nq.nBusy++
			} else {
				nq.wrap.insert(t, timerDeadline)
				e.noteDeadline(timerDeadline)
			}
		}
	}
	for _, t := range endWraps {
		e.endWrapUp(t)
	}
	// Pending offers to removed agents go back to their place.
	for _, a := range gone {
		for i := 0; i < a.held.len(); {
			t := a.held.at(i)
			if t.state != tsReserved {
				i++
				continue
			}
			t.unlink(lnTimer)
			e.cancelReservation(t)
			reroute = append(reroute, t)
		}
	}
	slices.SortFunc(reroute, func(x, y *task) int {
		switch {
		case x.key < y.key:
			return -1
		case x.key > y.key:
			return 1
		}
		return 0
	})
	for _, t := range reroute {
		e.setTS(t, tsFree)
		e.route(t)
	}
	for _, a := range e.agents {
		e.agentChanged(a)
	}
	for _, a := range gone {
		e.report(a)
	}
}
