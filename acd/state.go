package acd

import (
	"hash/maphash"
	"slices"
)

type taskState uint8

const (
	tsFree taskState = iota
	tsWaiting
	tsReserved
	tsAccepted
	tsWrapUp
)

// Link slots of a task in deadline lists.
const (
	lnRelax = iota // queue.relax[stage]
	lnWait         // queue.wait: every waiting or reserved task, by queuedAt
	lnTimer        // queue.rona while reserved, queue.wrap while in wrap-up
)

// maxStages bounds the relaxation stages of a queue (steps + 1).
const maxStages = 16

const (
	slotBits = 24
	slotMask = 1<<slotBits - 1
	maxTasks = 1 << slotBits
	chunk    = 4096
)

type link struct {
	prev, next *task
	list       *dlist
	deadline   int64
}

type task struct {
	id       string
	tag      uint64
	idh      uint32 // e.ids.hash(id), so that freeing the task does not read the ID again
	slot     int32
	state    taskState
	ch       Channel
	stage    uint8
	nexcl    uint8
	maxWait  bool // max wait passed while reserved
	prio     int
	hidx     int32  // 0 while in a class heap, -1 otherwise
	hgen     uint32 // heap generation; see taskHeap
	seq      uint64
	key      uint64
	arrived  int64
	queuedAt int64
	q        *queue
	rs       *reqset
	cls      *class
	agent    *agent
	res      ReservationID
	attrs    map[string]string
	excl     [4]int32  // agents that refused this task in this queue
	exclEp   [4]uint32 // their epochs then: an exclusion ends when the agent's epoch moves
	links    [3]link
}

func (t *task) excludes(a *agent) bool {
	for i := 0; i < int(t.nexcl); i++ {
		if t.excl[i] == a.idx && t.exclEp[i] == a.epoch {
			return true
		}
	}
	return false
}

func (t *task) exclude(a *agent) {
	if t.excludes(a) {
		return
	}
	for i := 0; i < int(t.nexcl); i++ {
		if t.excl[i] == a.idx { // an expired exclusion of the same agent: renew it in place
			t.exclEp[i] = a.epoch
			return
		}
	}
	if int(t.nexcl) < len(t.excl) {
		t.excl[t.nexcl], t.exclEp[t.nexcl] = a.idx, a.epoch
		t.nexcl++
		return
	}
	copy(t.excl[:], t.excl[1:])
	copy(t.exclEp[:], t.exclEp[1:])
	t.excl[len(t.excl)-1], t.exclEp[len(t.excl)-1] = a.idx, a.epoch
}

// reqset is an interned list of task requirements.
type reqset struct {
	id    int32
	hash  uint64
	conds []Condition
	next  *reqset // same hash
	// nclasses counts the classes built on this set; a set without
	// classes is dropped from the intern table by the sweep.
	nclasses int
	// byQueue caches the classes of this requirement set by queue index,
	// channel and stage, in front of Engine.classes.
	byQueue []*classSlots
}

type classSlots [NumChannels][maxStages]*class

type classKey struct {
	q     int32
	rs    int32
	ch    Channel
	stage uint8
}

// class groups the waiting tasks of one queue that share channel,
// requirements and relaxation stage, with the agents that satisfy them.
type class struct {
	tasks   taskHeap  // first: tryAgent reads its top key and stale count
	agents  agentHeap // routable members only
	key     classKey
	q       *queue
	rs      *reqset
	idle    bool  // had no task at the last sweep
	idleAt  int64 // since then
	conds   []ccond
	score   []int32 // proficiency skills named by conds
	members []*member
}

// member is an agent's eligibility for a class.
type member struct {
	a     *agent
	c     *class
	rank  int64
	li    int32 // index in the class's agent heap (agentHeap.ms)
	score int32 // memberScore, fixed for the life of the class
}

type agent struct {
	// Hot: read or written by every decision. id, capacity and blocks
	// copy m's, so that a decision does not touch the model.
	idx       int32
	state     AgentState // presence: Offline, Available, NotReady, RONA
	reported  AgentState
	detached  bool // removed by Apply
	snapDirty bool // listed in Engine.dirtyAgents
	load      [NumChannels]uint16
	capacity  [NumChannels]uint16
	blocks    [NumChannels]uint8 // channel -> mask of channels it blocks
	off       ChannelSet         // channels the agent is signed out of (SetChannels)
	inHeaps   [NumChannels]bool  // false: no member of the channel is in a class heap
	active    int                // reserved + accepted
	wrap      int
	idleSince int64
	since     int64 // of the reported state
	lastOffer uint64
	totalCap  int
	cls       [NumChannels][]*class // mem[ch][i].c, flat for tryAgent
	// clsBuf backs the first classes of cls (split between the channels
	// the agent serves), so that tryAgent finds them in the agent's own
	// cache lines; append moves a longer list to the heap.
	clsBuf [8]*class
	id     string
	tag    uint64
	held   heldSet
	mem    [NumChannels][]*member

	// Cold.
	pub       AgentState // derived state counted in its queues' byState
	m         *agentModel
	reason    string
	repReason string
	misses    int
	queues    []*queue
	// epoch moves when the agent comes back (to Available from another presence) or ends
	// the wrap-up of its last contact; the exclusions it earned by missing tasks end then
	// (invariant 8), so a task that only this agent can take is offered to it again.
	epoch uint32
}

// heldSet is the tasks an agent holds (reserved, accepted or in
// wrap-up). The first few live inline, so that the common agent (voice
// capacity 1) needs no separate cache line for them.
type heldSet struct {
	n   int32
	inl [2]*task
	ext []*task // items len(inl)..n-1
}

func (h *heldSet) len() int { return int(h.n) }

func (h *heldSet) at(i int) *task {
	if i < len(h.inl) {
		return h.inl[i]
	}
	return h.ext[i-len(h.inl)]
}

func (h *heldSet) set(i int, t *task) {
	if i < len(h.inl) {
		h.inl[i] = t
		return
	}
	h.ext[i-len(h.inl)] = t
}

func (h *heldSet) add(t *task) {
	if int(h.n) < len(h.inl) {
		h.inl[h.n] = t
	} else {
		h.ext = append(h.ext, t)
	}
	h.n++
}

func (h *heldSet) index(t *task) int {
	for i := range int(h.n) {
		if h.at(i) == t {
			return i
		}
	}
	return -1
}

func (h *heldSet) contains(t *task) bool { return h.index(t) >= 0 }

// remove drops t (order is not kept).
func (h *heldSet) remove(t *task) {
	i := h.index(t)
	if i < 0 {
		return
	}
	last := int(h.n) - 1
	h.set(i, h.at(last))
	if last >= len(h.inl) {
		h.ext[last-len(h.inl)] = nil
		h.ext = h.ext[:last-len(h.inl)]
	} else {
		h.inl[last] = nil
	}
	h.n--
}

// resetClasses empties a's class lists, backing them with clsBuf.
func (a *agent) resetClasses() {
	a.mem = [NumChannels][]*member{}
	a.cls = [NumChannels][]*class{}
	a.clsBuf = [len(a.clsBuf)]*class{}
	a.inHeaps = [NumChannels]bool{}
	n := 0
	for c := range NumChannels {
		if a.capacity[c] > 0 {
			n++
		}
	}
	if n == 0 {
		return
	}
	share, at := len(a.clsBuf)/n, 0
	for c := range NumChannels {
		if a.capacity[c] > 0 {
			a.cls[c] = a.clsBuf[at : at : at+share]
			at += share
		}
	}
}

func (a *agent) blocked() uint8 {
	var b uint8
	for c := Channel(0); c < NumChannels; c++ {
		if a.load[c] > 0 {
			b |= a.blocks[c]
		}
	}
	return b
}

func (a *agent) routable(c Channel) bool {
	return a.state == Available && !a.detached && a.open(c, a.blocked())
}

// open reports whether a may take one more task on c, given the channels blocked by what it
// holds: signed in on c, below capacity, not blocked.
func (a *agent) open(c Channel, blocked uint8) bool {
	return a.off&(1<<c) == 0 && a.load[c] < a.capacity[c] && blocked&(1<<c) == 0
}

func (a *agent) derived() AgentState {
	switch {
	case a.active > 0:
		return Busy
	case a.wrap > 0:
		return WrapUp
	}
	return a.state
}

func (a *agent) dropHeld(t *task) { a.held.remove(t) }

type queueStats struct {
	entered, answered, answeredInSL, abandoned, timedOut int64
	overflowed, transferred, completed, rejected, rona   int64
	answerNs                                             int64
}

type queue struct {
	idx                        int32
	m                          *queueModel
	relax                      []dlist
	wait, rona, wrap           dlist
	members                    []*agent
	classes                    []*class
	nWaiting, nReserved, nBusy int
	byState                    [NumAgentStates]int // members by derived state at the last publication
	stats                      queueStats
	detached                   bool
}

var reqSeed = maphash.MakeSeed()

func hashConds(cs []Condition) uint64 {
	var h maphash.Hash
	h.SetSeed(reqSeed)
	for i := range cs {
		c := &cs[i]
		h.WriteString(c.Skill)
		h.WriteByte(byte(c.Op))
		h.WriteString(c.Value)
		for _, v := range c.Values {
			h.WriteByte(0)
			h.WriteString(v)
		}
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

func condsEqual(a, b []Condition) bool {
	return slices.EqualFunc(a, b, func(x, y Condition) bool {
		return x.Skill == y.Skill && x.Op == y.Op && x.Value == y.Value && slices.Equal(x.Values, y.Values)
	})
}

func cloneConds(cs []Condition) []Condition {
	out := slices.Clone(cs)
	for i := range out {
		out[i].Values = slices.Clone(out[i].Values)
	}
	return out
}
