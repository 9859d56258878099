package acd

import (
	"fmt"
	"math"
	"time"
)

func (e *Engine) taskAt(slot int32) *task {
	return &e.chunks[slot/chunk][slot%chunk]
}

func (e *Engine) allocTask() *task {
	var s int32
	if n := len(e.free); n > 0 {
		s = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		if e.nslots >= maxTasks {
			return nil
		}
		if int(e.nslots)%chunk == 0 {
			e.chunks = append(e.chunks, make([]task, chunk))
		}
		s = e.nslots
		e.nslots++
	}
	t := e.taskAt(s)
	*t = task{slot: s, hidx: -1, hgen: t.hgen} // hgen survives: stale heap entries stay stale
	return t
}

func (e *Engine) freeTask(t *task) {
	e.ids.remove(t.idh, t.slot)
	s := t.slot
	*t = task{slot: s, hidx: -1, hgen: t.hgen}
	e.free = append(e.free, s)
}

func (e *Engine) lookupTask(id string) *task {
	s := e.ids.find(e, e.ids.hash(id), id)
	if s < 0 {
		return nil
	}
	return e.taskAt(s)
}

func (e *Engine) lookupRes(r ReservationID) *task {
	s := int32(r & slotMask)
	if s >= e.nslots {
		return nil
	}
	t := e.taskAt(s)
	if t.state != tsReserved || t.res != r {
		return nil
	}
	return t
}

// setTS moves t to state s, keeping the queue's counters.
func (e *Engine) setTS(t *task, s taskState) {
	if q := t.q; q != nil {
		switch t.state {
		case tsWaiting:
			q.nWaiting--
		case tsReserved:
			q.nReserved--
		case tsAccepted:
			q.nBusy--
		}
		switch s {
		case tsWaiting:
			q.nWaiting++
		case tsReserved:
			q.nReserved++
		case tsAccepted:
			q.nBusy++
		}
	}
	t.state = s
}

func prioKey(p int) uint64 {
	p = max(min(p, math.MaxInt16), math.MinInt16)
	return uint64(math.MaxInt16-p) << 48
}

// internReqs returns the interned requirement set for cs, validating it
// against the current model.
func (e *Engine) internReqs(cs []Condition) (*reqset, error) {
	if len(cs) == 0 {
		return e.emptyRS, nil
	}
	h := hashConds(cs)
	for rs := e.reqsets[h]; rs != nil; rs = rs.next {
		if condsEqual(rs.conds, cs) {
			return rs, nil
		}
	}
	for _, c := range cs {
		if err := e.m.checkCondition(c); err != nil {
			return nil, err
		}
	}
	e.nreqsets++
	rs := &reqset{id: e.nreqsets, hash: h, conds: cloneConds(cs), next: e.reqsets[h]}
	e.reqsets[h] = rs
	return rs, nil
}

func (e *Engine) enqueue(c *command) {
	h := e.ids.hash(c.id)
	if e.ids.find(e, h, c.id) >= 0 {
		e.fail(c, fmt.Errorf("enqueue %s: %w", c.id, ErrDuplicateTask))
		return
	}
	var q *queue
	if c.model == e.m {
		q = e.queues[c.qi] // resolved by Enqueue against the same model
	} else {
		q = e.queueIdx[c.arg]
	}
	if q == nil {
		e.fail(c, fmt.Errorf("enqueue %s: queue %q: %w", c.id, c.arg, ErrUnknownQueue))
		return
	}
	if c.ch >= NumChannels || q.m.chans&(1<<c.ch) == 0 {
		e.fail(c, fmt.Errorf("enqueue %s: queue %s: %v: %w", c.id, q.m.name, c.ch, ErrChannel))
		return
	}
	rs, err := e.internReqs(c.reqs)
	if err != nil {
		e.fail(c, fmt.Errorf("enqueue %s: %w", c.id, err))
		return
	}
	t := e.allocTask()
	if t == nil {
		e.fail(c, fmt.Errorf("enqueue %s: %d live tasks: %w", c.id, maxTasks, ErrBusy))
		return
	}
	e.seq++
	t.id, t.tag, t.ch, t.prio, t.rs, t.attrs = c.id, c.tag, c.ch, c.prio, rs, c.attrs
	t.seq, t.arrived = e.seq, e.now
	t.idh = h
	e.ids.insert(h, t.slot)
	e.enterQueue(t, q, EventTaskQueued, nil, nil, nil)
}

// enterQueue puts t in q as a new arrival in that queue, keeping its
// place (arrival sequence), and routes it.
func (e *Engine) enterQueue(t *task, q *queue, kind EventKind, from *queue, excl, holder *agent) {
	t.q = q
	t.state = tsFree
	t.key = prioKey(t.prio+q.m.prio) | t.seq
	t.queuedAt = e.now
	t.stage = 0
	t.nexcl = 0
	if excl != nil {
		t.exclude(excl)
	}
	t.maxWait = false
	q.stats.entered++
	e.linkWaiting(t)
	ev := Event{Kind: kind, Task: t.id, TaskTag: t.tag, Queue: q.m.name, Channel: t.ch, Wait: e.waited(t)}
	if from != nil {
		ev.Queue, ev.Target = from.m.name, q.m.name
	}
	if holder != nil {
		ev.Agent, ev.AgentTag = holder.id, holder.tag
	}
	e.emit(ev)
	e.route(t)
}

// linkWaiting links t into its queue's wait and relaxation lists, with
// the stage due at the current time (steps already due apply at once).
func (e *Engine) linkWaiting(t *task) {
	q := t.q
	md := q.m.maxWait
	if md == 0 {
		md = math.MaxInt64 / 4
	}
	q.wait.insert(t, t.queuedAt+md)
	e.noteDeadline(t.queuedAt + md)
	for int(t.stage) < len(q.m.relax) && t.queuedAt+q.m.relax[t.stage].after <= e.now {
		t.stage++
	}
	if int(t.stage) < len(q.m.relax) {
		d := t.queuedAt + q.m.relax[t.stage].after
		q.relax[t.stage].insert(t, d)
		e.noteDeadline(d)
	}
}

func (e *Engine) noteDeadline(d int64) {
	if d < e.next {
		e.next = d
	}
}

func (e *Engine) waited(t *task) time.Duration { return time.Duration(e.now - t.arrived) }

// route offers t to the best routable agent of its class, or leaves it
// waiting there.
func (e *Engine) route(t *task) {
	c := e.classFor(t)
	t.cls = c
	if m := e.bestAgent(c, t); m != nil {
		a := m.a
		if e.onDecision != nil {
			e.onDecision(t, a, false)
		}
		e.reserve(t, a)
		e.refreshAgent(a)
		e.report(a)
		return
	}
	e.setTS(t, tsWaiting)
	c.tasks.push(t)
}

// bestAgent returns the best routable member of c that t does not
// exclude, or nil.
func (e *Engine) bestAgent(c *class, t *task) *member {
	m := c.agents.peek()
	if m == nil || t.nexcl == 0 || !t.excludes(m.a) {
		return m
	}
	// Rare: set aside excluded agents, then restore them.
	sc := e.scratchM[:0]
	for m != nil && t.excludes(m.a) {
		c.agents.remove(m)
		sc = append(sc, m)
		m = c.agents.peek()
	}
	for _, x := range sc {
		c.agents.push(x)
	}
	clear(sc)
	e.scratchM = sc[:0]
	return m
}

// bestTaskFor returns the best waiting task of c that does not exclude
// a, or nil. The top is checked first; when it excludes a (rare) the
// heap is scanned.
func (e *Engine) bestTaskFor(c *class, a *agent) *task {
	top := c.tasks.top()
	if top == nil {
		return nil
	}
	if !top.excl() || !c.tasks.task(top).excludes(a) {
		return c.tasks.task(top)
	}
	var best *tentry
	run, heap := c.tasks.entries()
	for _, es := range [2][]tentry{run, heap} {
		for i := range es {
			x := &es[i]
			if (best == nil || x.key < best.key) && c.tasks.valid(x) && !c.tasks.task(x).excludes(a) {
				best = x
			}
		}
	}
	if best == nil {
		return nil
	}
	return c.tasks.task(best)
}

func (e *Engine) classFor(t *task) *class {
	if int(t.q.idx) < len(t.rs.byQueue) {
		if cs := t.rs.byQueue[t.q.idx]; cs != nil {
			if c := cs[t.ch][t.stage]; c != nil {
				return c
			}
		}
	}
	k := classKey{q: t.q.idx, rs: t.rs.id, ch: t.ch, stage: t.stage}
	c := e.classes[k]
	if c == nil {
		c = e.newClass(k, t.q, t.rs)
	}
	if len(t.rs.byQueue) < len(e.queues) {
		t.rs.byQueue = append(t.rs.byQueue, make([]*classSlots, len(e.queues)-len(t.rs.byQueue))...)
	}
	if t.rs.byQueue[t.q.idx] == nil {
		t.rs.byQueue[t.q.idx] = new(classSlots)
	}
	t.rs.byQueue[t.q.idx][t.ch][t.stage] = c
	return c
}

func (e *Engine) newClass(k classKey, q *queue, rs *reqset) *class {
	conds := q.m.effective(rs.conds, int(k.stage))
	c := &class{key: k, q: q, rs: rs}
	c.tasks.slab = &e.chunks
	c.tasks.setTop()
	rs.nclasses++
	seen := map[int32]bool{}
	for _, x := range conds {
		cc, err := e.m.compileCond(x)
		if err != nil { // validated before; unreachable
			panic(fmt.Sprintf("acd: compile %v: %v", x, err))
		}
		c.conds = append(c.conds, cc)
		if e.m.skills[cc.skill].typ == Proficiency && !seen[cc.skill] {
			seen[cc.skill] = true
			c.score = append(c.score, cc.skill)
		}
	}
	e.classes[k] = c
	q.classes = append(q.classes, c)
	for _, a := range q.members {
		if a.m.capacity[k.ch] == 0 || !c.matches(a) {
			continue
		}
		m := &member{a: a, c: c, score: memberScore(a, c)}
		c.agents.add(m)
		c.members = append(c.members, m)
		a.mem[k.ch] = append(a.mem[k.ch], m)
		a.cls[k.ch] = append(a.cls[k.ch], c)
		if a.routable(k.ch) {
			m.rank = e.rank(m)
			c.agents.push(m)
			a.inHeaps[k.ch] = true
		}
	}
	return c
}

func (c *class) matches(a *agent) bool {
	for i := range c.conds {
		if !c.conds[i].match(a.m.vals) {
			return false
		}
	}
	return true
}

func (e *Engine) rank(m *member) int64 {
	a := m.a
	info := AgentInfo{IdleSince: a.idleSince, LastOffer: a.lastOffer, Load: a.active + a.wrap}
	if a.totalCap > 0 {
		info.Occupancy = info.Load * 1000 / a.totalCap
	}
	info.Score = int(m.score)
	return m.c.q.m.strategy.Rank(info)
}

// memberScore is a's proficiency over the skills c's conditions name.
func memberScore(a *agent, c *class) int32 {
	var n int32
	for _, s := range c.score {
		if v := a.m.vals[s]; v > 0 {
			n += int32(v)
		}
	}
	return n
}

// reserve offers t to a.
func (e *Engine) reserve(t *task, a *agent) {
	e.setTS(t, tsReserved)
	e.resSeq++
	e.offerSeq++
	t.res = ReservationID(e.resSeq<<slotBits | uint64(t.slot))
	t.agent = a
	a.load[t.ch]++
	a.active++
	a.lastOffer = e.offerSeq
	e.touch(a)
	a.held.add(t)
	d := e.now + t.q.m.rona
	t.q.rona.insert(t, d)
	e.noteDeadline(d)
	e.emit(Event{Kind: EventReservationCreated, Task: t.id, TaskTag: t.tag, Agent: a.id, AgentTag: a.tag, Queue: t.q.m.name,
		Channel: t.ch, Reservation: t.res, Timeout: e.nowT.Add(time.Duration(t.q.m.rona)), Wait: e.waited(t)})
}

// release takes t off its agent's load; the caller refreshes the agent.
func (e *Engine) release(t *task) *agent {
	a := t.agent
	t.agent = nil
	e.touch(a)
	a.load[t.ch]--
	switch t.state {
	case tsReserved, tsAccepted:
		a.active--
	case tsWrapUp:
		a.wrap--
	}
	a.dropHeld(t)
	if a.active == 0 && a.wrap == 0 {
		a.idleSince = e.now
	}
	return a
}

// agentChanged gives a available agent its best tasks, then updates the
// class heaps and reports its state.
func (e *Engine) agentChanged(a *agent) {
	e.tryAgent(a)
	e.refreshAgent(a)
	e.report(a)
}

// tryAgent reserves to a the best tasks it can take across all its
// queues and channels, by (priority, arrival).
func (e *Engine) tryAgent(a *agent) {
	for a.state == Available && !a.detached {
		var best *task
		var bestC *class // best is the valid top of bestC's heap
		bestKey := uint64(math.MaxUint64)
		blocked := a.blocked()
		for ch := Channel(0); ch < NumChannels; ch++ {
			if !a.open(ch, blocked) {
				continue
			}
			for _, c := range a.cls[ch] {
				// The class caches its top key: an empty heap or a
				// worse top costs one read of the class. With no stale
				// entry the top is valid, so no task is read unless it
				// is chosen.
				if c.tasks.topKey >= bestKey {
					continue
				}
				if c.tasks.topExcl || c.tasks.stale > 0 && !c.tasks.valid(c.tasks.head()) {
					t := e.bestTaskFor(c, a)
					if t == nil || t.key >= bestKey {
						continue
					}
					best, bestC, bestKey = t, nil, t.key
					continue
				}
				best, bestC, bestKey = nil, c, c.tasks.topKey
			}
		}
		if bestC != nil {
			best = bestC.tasks.task(bestC.tasks.head())
		}
		if best == nil {
			return
		}
		best.cls.tasks.remove(best)
		if e.onDecision != nil {
			e.onDecision(best, a, true)
		}
		e.reserve(best, a)
	}
}

// refreshAgent makes a's presence in class heaps match its routability
// and rank.
func (e *Engine) refreshAgent(a *agent) {
	var blocked uint8
	if a.state == Available && !a.detached {
		blocked = a.blocked()
	}
	for ch := Channel(0); ch < NumChannels; ch++ {
		ok := a.state == Available && !a.detached && a.open(ch, blocked)
		if !ok && !a.inHeaps[ch] {
			continue // nothing to take out: skip touching the members
		}
		a.inHeaps[ch] = ok
		for _, m := range a.mem[ch] {
			switch {
			case ok:
				r := e.rank(m)
				if !m.c.agents.has(m) {
					m.rank = r
					m.c.agents.push(m)
				} else if r != m.rank {
					m.c.agents.rerank(m, r)
				}
			case m.c.agents.has(m):
				m.c.agents.remove(m)
			}
		}
	}
}

// report emits EventAgentState if a's derived state or reason changed.
func (e *Engine) report(a *agent) {
	e.touch(a)
	s := a.derived()
	r := ""
	if s == NotReady || s == RONA {
		r = a.reason
	}
	if s == a.reported && r == a.repReason {
		return
	}
	a.reported, a.repReason, a.since = s, r, e.now
	e.emit(Event{Kind: EventAgentState, Agent: a.id, AgentTag: a.tag, State: s, Reason: r})
}

func (e *Engine) accept(c *command) {
	t := e.lookupRes(c.res)
	if t == nil {
		e.fail(c, fmt.Errorf("accept %d: %w", c.res, ErrNoReservation))
		return
	}
	q, a := t.q, t.agent
	t.unlink(lnTimer)
	t.unlink(lnRelax)
	t.unlink(lnWait)
	e.setTS(t, tsAccepted)
	a.misses = 0
	w := e.now - t.queuedAt
	q.stats.answered++
	q.stats.answerNs += w
	if w <= q.m.sl {
		q.stats.answeredInSL++
	}
	e.emit(Event{Kind: EventReservationAccepted, Task: t.id, TaskTag: t.tag, Agent: a.id, AgentTag: a.tag, Queue: q.m.name,
		Channel: t.ch, Reservation: t.res, Wait: e.waited(t)})
}

func (e *Engine) reject(c *command) {
	t := e.lookupRes(c.res)
	if t == nil {
		e.fail(c, fmt.Errorf("reject %d: %w", c.res, ErrNoReservation))
		return
	}
	t.q.stats.rejected++
	e.miss(t, EventReservationRejected)
}

// miss handles a rejected or unanswered reservation: the task goes back
// to its place, excluding this agent, and the agent may go to RONA.
func (e *Engine) miss(t *task, kind EventKind) {
	t.unlink(lnTimer)
	q := t.q
	a := e.release(t)
	e.emit(Event{Kind: kind, Task: t.id, TaskTag: t.tag, Agent: a.id, AgentTag: a.tag, Queue: q.m.name, Channel: t.ch, Reservation: t.res, Wait: e.waited(t)})
	t.res = 0
	t.exclude(a)
	a.misses++
	if q.m.ronaMisses > 0 && a.misses >= q.m.ronaMisses && a.state == Available {
		a.state, a.reason, a.misses = RONA, "rona", 0
		e.touch(a)
	}
	e.refreshAgent(a)
	e.requeue(t)
	e.agentChanged(a)
}

// requeue puts a task whose reservation ended back at its place.
func (e *Engine) requeue(t *task) {
	e.setTS(t, tsFree)
	if t.maxWait {
		e.maxWaitPassed(t)
		return
	}
	e.route(t)
}

func (e *Engine) cancel(c *command) {
	t := e.lookupTask(c.id)
	if t == nil {
		e.fail(c, fmt.Errorf("cancel %s: %w", c.id, ErrUnknownTask))
		return
	}
	switch t.state {
	case tsWaiting:
		t.cls.tasks.remove(t)
	case tsReserved:
		a := e.cancelReservation(t)
		defer e.agentChanged(a)
	default:
		e.fail(c, fmt.Errorf("cancel %s: accepted or completed: %w", c.id, ErrTaskState))
		return
	}
	t.q.stats.abandoned++
	e.end(t, EventTaskAbandoned, "")
}

// cancelReservation withdraws t's pending reservation without counting
// a miss; the caller decides where t goes and refreshes the agent.
func (e *Engine) cancelReservation(t *task) *agent {
	t.unlink(lnTimer)
	a := e.release(t)
	e.emit(Event{Kind: EventReservationCanceled, Task: t.id, TaskTag: t.tag, Agent: a.id, AgentTag: a.tag, Queue: t.q.m.name, Channel: t.ch, Reservation: t.res})
	t.res = 0
	e.setTS(t, tsFree)
	e.refreshAgent(a) // before anything is routed again
	return a
}

// end emits the terminal event of a task that holds no agent and frees it.
func (e *Engine) end(t *task, kind EventKind, reason string) {
	t.unlink(lnRelax)
	t.unlink(lnWait)
	t.unlink(lnTimer)
	e.setTS(t, tsFree)
	e.emit(Event{Kind: kind, Task: t.id, TaskTag: t.tag, Queue: t.q.m.name, Channel: t.ch, Wait: e.waited(t), Reason: reason})
	e.freeTask(t)
}

func (e *Engine) transfer(c *command) {
	t := e.lookupTask(c.id)
	if t == nil {
		e.fail(c, fmt.Errorf("transfer %s: %w", c.id, ErrUnknownTask))
		return
	}
	q2 := e.queueIdx[c.arg]
	if q2 == nil {
		e.fail(c, fmt.Errorf("transfer %s: queue %q: %w", c.id, c.arg, ErrUnknownQueue))
		return
	}
	if q2.m.chans&(1<<t.ch) == 0 {
		e.fail(c, fmt.Errorf("transfer %s: queue %s: %v: %w", c.id, c.arg, t.ch, ErrChannel))
		return
	}
	var a, excl *agent
	switch t.state {
	case tsWaiting:
		t.cls.tasks.remove(t)
	case tsReserved:
		a = e.cancelReservation(t)
	case tsAccepted:
		a = e.release(t)
		e.refreshAgent(a)
		excl = a // the agent passed it on: do not offer it back
	default:
		e.fail(c, fmt.Errorf("transfer %s: completed: %w", c.id, ErrTaskState))
		return
	}
	e.setTS(t, tsFree)
	t.unlink(lnRelax)
	t.unlink(lnWait)
	from := t.q
	from.stats.transferred++
	e.enterQueue(t, q2, EventTaskTransferred, from, excl, excl)
	if a != nil {
		e.agentChanged(a)
	}
}

func (e *Engine) complete(c *command) {
	var t *task
	if c.id == "" {
		// CompleteReservation: the slot is in the reservation, no ID lookup.
		if s := int32(c.res & slotMask); c.res != 0 && s < e.nslots {
			t = e.taskAt(s)
		}
		if t == nil || t.res != c.res || t.state != tsAccepted {
			e.fail(c, fmt.Errorf("complete reservation %d: %w", c.res, ErrNoReservation))
			return
		}
	} else if t = e.lookupTask(c.id); t == nil {
		e.fail(c, fmt.Errorf("complete %s: %w", c.id, ErrUnknownTask))
		return
	}
	if t.state != tsAccepted {
		e.fail(c, fmt.Errorf("complete %s: not accepted: %w", c.id, ErrTaskState))
		return
	}
	q, a := t.q, t.agent
	q.stats.completed++
	e.touch(a)
	e.emit(Event{Kind: EventTaskCompleted, Task: t.id, TaskTag: t.tag, Agent: a.id, AgentTag: a.tag, Queue: q.m.name, Channel: t.ch, Wait: e.waited(t)})
	if q.m.wrapUp > 0 && !q.detached {
		e.setTS(t, tsWrapUp)
		a.active--
		a.wrap++
		d := e.now + q.m.wrapUp
		q.wrap.insert(t, d)
		e.noteDeadline(d)
		e.report(a)
		return
	}
	e.setTS(t, tsWrapUp)
	a.active--
	a.wrap++
	e.endWrapUp(t)
}

func (e *Engine) endWrapUpCmd(c *command) {
	t := e.lookupTask(c.id)
	if t == nil || t.state != tsWrapUp {
		e.fail(c, fmt.Errorf("end wrap-up %s: %w", c.id, ErrUnknownTask))
		return
	}
	e.endWrapUp(t)
}

func (e *Engine) endWrapUp(t *task) {
	t.unlink(lnTimer)
	a := e.release(t)
	if a.active == 0 && a.wrap == 0 {
		a.epoch++ // free again: the tasks it missed before may come back to it (invariant 8)
	}
	e.emit(Event{Kind: EventWrapUpEnded, Task: t.id, TaskTag: t.tag, Agent: a.id, AgentTag: a.tag, Queue: t.q.m.name, Channel: t.ch})
	e.freeTask(t)
	e.agentChanged(a)
}

func (e *Engine) setAgentState(c *command, s AgentState) {
	a := e.agentIdx[c.id]
	if a == nil {
		e.fail(c, fmt.Errorf("%s %s: %w", cmdNames[c.kind], c.id, ErrUnknownAgent))
		return
	}
	prev := a.state
	e.touch(a)
	a.state = s
	a.reason = ""
	if s == NotReady {
		a.reason = c.arg
	}
	if s == Available && prev != Available {
		a.misses = 0
		a.epoch++
		if a.active == 0 && a.wrap == 0 {
			a.idleSince = e.now
		}
	}
	if s != Available {
		e.refreshAgent(a) // out of the heaps before its tasks are re-routed
		// Withdraw pending offers: an agent who is no longer ready does not let them ring
		// out (which would also count as misses); their tasks go back to their place.
		for i := 0; i < a.held.len(); {
			t := a.held.at(i)
			if t.state != tsReserved {
				i++
				continue
			}
			e.cancelReservation(t)
			e.requeue(t)
		}
	}
	e.agentChanged(a)
}

// setAgentChannels signs the agent in on c.chans only; pending offers on the other channels
// go back to their place, not counted as misses (invariant 8).
func (e *Engine) setAgentChannels(c *command) {
	a := e.agentIdx[c.id]
	if a == nil {
		e.fail(c, fmt.Errorf("%s %s: %w", cmdNames[c.kind], c.id, ErrUnknownAgent))
		return
	}
	off := AllChannels &^ c.chans
	if off == a.off {
		return
	}
	added := a.off &^ off
	e.touch(a)
	a.off = off
	e.refreshAgent(a) // out of the heaps of the channels left before their tasks are re-routed
	for i := 0; i < a.held.len(); {
		t := a.held.at(i)
		if t.state != tsReserved || off&(1<<t.ch) == 0 {
			i++
			continue
		}
		e.cancelReservation(t)
		e.requeue(t)
	}
	if added != 0 {
		a.epoch++ // signed in anew: tasks it missed before may come back to it (invariant 8)
	}
	e.agentChanged(a)
}

// maxWaitPassed moves a waiting (not reserved) task to its overflow
// queue or ends it timed out.
func (e *Engine) maxWaitPassed(t *task) {
	q := t.q
	if t.state == tsWaiting {
		t.cls.tasks.remove(t)
	}
	e.setTS(t, tsFree)
	if q2 := e.queueIdx[q.m.overflow]; q2 != nil && q2.m.chans&(1<<t.ch) != 0 {
		t.unlink(lnRelax)
		t.unlink(lnWait)
		q.stats.overflowed++
		e.enterQueue(t, q2, EventTaskOverflowed, q, nil, nil)
		return
	}
	q.stats.timedOut++
	e.end(t, EventTaskTimedOut, "max wait")
}

// fireTimers runs every deadline that is due, earliest first (ties: in
// queue order, then relaxation, max wait, RONA, wrap-up), so a late
// engine catches up in the order things were due. Then it sets e.next
// to the earliest pending deadline. O(lists) per timer; timers are rare
// next to commands.
func (e *Engine) fireTimers() {
	e.armed = math.MaxInt64
	const (
		kRelax = iota
		kWait
		kRONA
		kWrap
	)
	for {
		var (
			q0         *queue
			kind, step int
			d0         int64 = math.MaxInt64
		)
		for _, q := range e.queues {
			for s := range q.relax {
				if h := q.relax[s].head; h != nil && h.links[lnRelax].deadline < d0 {
					q0, kind, step, d0 = q, kRelax, s, h.links[lnRelax].deadline
				}
			}
			if h := q.wait.head; h != nil && h.links[lnWait].deadline < d0 {
				q0, kind, d0 = q, kWait, h.links[lnWait].deadline
			}
			if h := q.rona.head; h != nil && h.links[lnTimer].deadline < d0 {
				q0, kind, d0 = q, kRONA, h.links[lnTimer].deadline
			}
			if h := q.wrap.head; h != nil && h.links[lnTimer].deadline < d0 {
				q0, kind, d0 = q, kWrap, h.links[lnTimer].deadline
			}
		}
		if d0 > e.now {
			e.next = d0
			return
		}
		switch kind {
		case kRelax:
			e.relaxStep(q0.relax[step].head, step)
		case kWait:
			t := q0.wait.head
			q0.wait.remove(t)
			if t.state == tsReserved {
				t.maxWait = true // decided when the reservation ends
				continue
			}
			e.maxWaitPassed(t)
		case kRONA:
			q0.stats.rona++
			e.miss(q0.rona.head, EventReservationTimedOut)
		case kWrap:
			e.endWrapUp(q0.wrap.head)
		}
	}
}

// relaxStep applies relaxation step s to t.
func (e *Engine) relaxStep(t *task, s int) {
	q := t.q
	q.relax[s].remove(t)
	t.stage = uint8(s + 1)
	if s+1 < len(q.m.relax) {
		d := t.queuedAt + q.m.relax[s+1].after
		q.relax[s+1].insert(t, d)
		e.noteDeadline(d)
	}
	e.emit(Event{Kind: EventTaskRelaxed, Task: t.id, TaskTag: t.tag, Queue: q.m.name, Channel: t.ch, Stage: int(t.stage), Wait: e.waited(t)})
	if t.state == tsWaiting {
		t.cls.tasks.remove(t)
		e.setTS(t, tsFree)
		e.route(t)
	}
}

const (
	// classIdleTTL is how long a class may stay without tasks before the
	// sweep drops it; sweepEvery is how often the sweep runs.
	classIdleTTL = int64(time.Minute)
	sweepEvery   = int64(10 * time.Second)
)

// sweepClasses drops classes that have had no task for classIdleTTL, so
// that a stream of one-off requirement sets does not grow the engine's
// memory and every agent's class lists without bound. A dropped class is
// rebuilt by the next task that needs it.
func (e *Engine) sweepIfDue() {
	if e.now-e.lastSweep >= sweepEvery {
		e.sweepClasses()
	}
}

func (e *Engine) sweepClasses() {
	e.lastSweep = e.now
	for _, c := range e.classes {
		switch {
		case c.tasks.len() > 0:
			c.idle = false
		case !c.idle:
			c.idle, c.idleAt = true, e.now
		case e.now-c.idleAt >= classIdleTTL:
			e.dropClass(c)
		}
	}
}

func (e *Engine) dropClass(c *class) {
	ch := c.key.ch
	for _, m := range c.members {
		if c.agents.has(m) {
			c.agents.remove(m)
		}
		a := m.a
		for i, x := range a.mem[ch] {
			if x == m {
				last := len(a.mem[ch]) - 1
				a.mem[ch][i], a.cls[ch][i] = a.mem[ch][last], a.cls[ch][last]
				a.mem[ch][last], a.cls[ch][last] = nil, nil
				a.mem[ch], a.cls[ch] = a.mem[ch][:last], a.cls[ch][:last]
				break
			}
		}
	}
	delete(e.classes, c.key)
	if qs := c.rs.byQueue; int(c.key.q) < len(qs) && qs[c.key.q] != nil {
		qs[c.key.q][ch][c.key.stage] = nil
	}
	q := c.q
	for i, x := range q.classes {
		if x == c {
			last := len(q.classes) - 1
			q.classes[i], q.classes[last] = q.classes[last], nil
			q.classes = q.classes[:last]
			break
		}
	}
	rs := c.rs
	if rs.nclasses--; rs.nclasses == 0 && rs != e.emptyRS {
		// Tasks still holding rs keep it; a new task with the same
		// requirements interns a new set.
		if head := e.reqsets[rs.hash]; head == rs {
			if rs.next == nil {
				delete(e.reqsets, rs.hash)
			} else {
				e.reqsets[rs.hash] = rs.next
			}
		} else {
			for p := head; p != nil; p = p.next {
				if p.next == rs {
					p.next = rs.next
					break
				}
			}
		}
	}
}
