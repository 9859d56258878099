package acd

import "time"

// Snapshot is a consistent view of the engine, published after commands
// take effect (at most once per Config.SnapshotEvery, and on Sync).
// Readers get it with Engine.Snapshot without locking; it is immutable.
// Counters are cumulative since New.
type Snapshot struct {
	Time   time.Time
	Seq    uint64
	Queues []QueueStats
	Agents []AgentStatus
}

// QueueStats are the real-time figures of one queue.
type QueueStats struct {
	Name string
	// Waiting tasks (not offered), Reserved (offered, ringing) and Busy
	// (accepted, in progress) right now.
	Waiting, Reserved, Busy int
	// LongestWait is the wait of the oldest task waiting or reserved,
	// counted from when it entered this queue.
	LongestWait time.Duration
	// Agents counts the queue's agents by state (index by AgentState).
	Agents [NumAgentStates]int

	Entered      int64 // tasks that entered the queue (enqueue, transfer, overflow)
	Answered     int64 // reservations accepted
	AnsweredInSL int64
	Abandoned    int64 // cancelled before acceptance
	TimedOut     int64 // max wait with no overflow
	Overflowed   int64
	Transferred  int64
	Completed    int64
	Rejected     int64
	RONA         int64 // reservations that timed out

	// ServiceLevel is AnsweredInSL / (Answered + Abandoned + TimedOut),
	// or 1 when that is 0. The same definition holds for every channel.
	ServiceLevel float64
	// AvgSpeedOfAnswer is the mean wait in this queue of answered tasks.
	AvgSpeedOfAnswer time.Duration
}

// AgentStatus is one agent's state.
type AgentStatus struct {
	ID     string
	Name   string
	State  AgentState
	Reason string
	Since  time.Time
	// Load counts tasks held (reserved, accepted or in wrap-up) per channel.
	Load     [NumChannels]int
	Capacity [NumChannels]int
	// Channels are the channels the agent is signed in on (SetChannels).
	Channels ChannelSet
}

// Queue returns the named queue's figures.
func (s *Snapshot) Queue(name string) (QueueStats, bool) {
	for i := range s.Queues {
		if s.Queues[i].Name == name {
			return s.Queues[i], true
		}
	}
	return QueueStats{}, false
}

// Agent returns the agent's status.
func (s *Snapshot) Agent(id string) (AgentStatus, bool) {
	for i := range s.Agents {
		if s.Agents[i].ID == id {
			return s.Agents[i], true
		}
	}
	return AgentStatus{}, false
}

// touch marks a's snapshot entry for the next publication. Every change
// to what AgentStatus shows (state, reason, since, load) calls it.
func (e *Engine) touch(a *agent) {
	if !a.snapDirty {
		a.snapDirty = true
		e.dirtyAgents = append(e.dirtyAgents, a)
	}
}

// publish builds and stores a new snapshot. Queue figures are built
// afresh (one entry per queue); agent entries are copied from the
// previous snapshot and rebuilt only for the agents touched since, and
// the queues' agents-by-state tallies are kept incrementally, so that a
// publication does not read every agent (at 10,000 agents that took
// milliseconds, a stall in the decision path every SnapshotEvery).
// After install (Apply, New) everything is rebuilt.
func (e *Engine) publish() {
	e.dirty = false
	e.lastPub = e.now
	e.snapSeq++
	prev := e.snap.Load()
	s := &Snapshot{Time: e.nowT, Seq: e.snapSeq, Queues: make([]QueueStats, len(e.queues))}
	if e.snapFull || prev == nil || len(prev.Agents) != len(e.agents) {
		e.snapFull = false
		s.Agents = make([]AgentStatus, len(e.agents))
		for _, q := range e.queues {
			q.byState = [NumAgentStates]int{}
		}
		for i, a := range e.agents {
			s.Agents[i] = e.agentStatus(a)
			a.pub = a.derived()
			for _, q := range a.queues {
				q.byState[a.pub]++
			}
		}
	} else {
		s.Agents = make([]AgentStatus, len(prev.Agents))
		copy(s.Agents, prev.Agents)
		for _, a := range e.dirtyAgents {
			if int(a.idx) >= len(e.agents) || e.agents[a.idx] != a {
				continue // removed by Apply
			}
			s.Agents[a.idx] = e.agentStatus(a)
			if d := a.derived(); d != a.pub {
				for _, q := range a.queues {
					q.byState[a.pub]--
					q.byState[d]++
				}
				a.pub = d
			}
		}
	}
	for _, a := range e.dirtyAgents {
		a.snapDirty = false
	}
	clear(e.dirtyAgents)
	e.dirtyAgents = e.dirtyAgents[:0]
	for i, q := range e.queues {
		s.Queues[i] = e.queueStats(q)
	}
	if e.onPublish != nil {
		e.onPublish(s)
	}
	e.snap.Store(s)
}

func (e *Engine) queueStats(q *queue) QueueStats {
	st := q.stats
	qs := QueueStats{Name: q.m.name, Waiting: q.nWaiting, Reserved: q.nReserved, Busy: q.nBusy,
		Entered: st.entered, Answered: st.answered, AnsweredInSL: st.answeredInSL,
		Abandoned: st.abandoned, TimedOut: st.timedOut, Overflowed: st.overflowed,
		Transferred: st.transferred, Completed: st.completed, Rejected: st.rejected, RONA: st.rona,
		ServiceLevel: 1, Agents: q.byState}
	if h := q.wait.head; h != nil {
		qs.LongestWait = time.Duration(e.now - h.queuedAt)
	}
	if d := st.answered + st.abandoned + st.timedOut; d > 0 {
		qs.ServiceLevel = float64(st.answeredInSL) / float64(d)
	}
	if st.answered > 0 {
		qs.AvgSpeedOfAnswer = time.Duration(st.answerNs / st.answered)
	}
	return qs
}

func (e *Engine) agentStatus(a *agent) AgentStatus {
	as := AgentStatus{ID: a.id, Name: a.m.name, State: a.derived(), Since: e.epoch.Add(time.Duration(a.since)),
		Channels: AllChannels &^ a.off}
	if as.State == NotReady || as.State == RONA {
		as.Reason = a.reason
	}
	for c := range NumChannels {
		as.Load[c] = int(a.load[c])
		as.Capacity[c] = int(a.capacity[c])
	}
	return as
}
