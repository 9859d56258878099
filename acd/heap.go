package acd

// taskHeap orders waiting tasks by key (priority band, then arrival
// sequence); the lowest key is the best. Tasks mostly arrive in key
// order (same priority, increasing sequence), so entries pushed in order
// go to a FIFO run (q from qh, ascending keys), where the best is taken
// in O(1) from one cache line; the others (requeued, transferred or
// relaxed tasks, higher priorities) go to a 4-ary heap (e). The best
// entry is the lower of the two heads. Entries are 16 bytes: key, task
// slot and heap generation, so neither sifting nor the GC touches tasks.
// Removal is lazy: it bumps the task's heap generation, which makes its
// entry stale; stale entries are dropped when they reach a head, or all
// at once when they are many. An entry's excl bit caches t.nexcl > 0.
// topKey and topExcl copy the best entry's key and excl (MaxUint64 when
// empty), so that an agent comparing the heads of its classes reads only
// the class.
type taskHeap struct {
	topKey  uint64
	topExcl bool
	stale   int
	qh      int       // head of the FIFO run
	q       []tentry  // FIFO run: q[qh:], ascending keys
	e       []tentry  // 4-ary heap
	slab    *[][]task // the engine's task chunks, to resolve slots
}

type tentry struct {
	key uint64
	ref uint32 // task slot | exclBit
	gen uint32
}

const exclBit = 1 << 31

func (x *tentry) slot() int32 { return int32(x.ref &^ exclBit) }
func (x *tentry) excl() bool  { return x.ref&exclBit != 0 }

// task returns the task x refers to (maybe reused since, if x is stale).
func (h *taskHeap) task(x *tentry) *task {
	s := x.slot()
	return &(*h.slab)[s/chunk][s%chunk]
}

func (h *taskHeap) valid(x *tentry) bool {
	t := h.task(x)
	return t.hgen == x.gen && t.hidx >= 0
}

// head returns the entry with the lowest key (maybe stale), or nil.
func (h *taskHeap) head() *tentry {
	switch {
	case h.qh < len(h.q) && (len(h.e) == 0 || h.q[h.qh].key <= h.e[0].key):
		return &h.q[h.qh]
	case len(h.e) > 0:
		return &h.e[0]
	}
	return nil
}

// entries returns the FIFO run and the heap, for scans.
func (h *taskHeap) entries() (run, heap []tentry) { return h.q[h.qh:], h.e }

func (h *taskHeap) setTop() {
	x := h.head()
	if x == nil {
		h.topKey, h.topExcl = ^uint64(0), false
		return
	}
	h.topKey, h.topExcl = x.key, x.excl()
}

func (h *taskHeap) size() int { return len(h.q) - h.qh + len(h.e) }

func (h *taskHeap) len() int { return h.size() - h.stale }

func (h *taskHeap) push(t *task) {
	t.hgen++
	t.hidx = 0
	ref := uint32(t.slot)
	if t.nexcl > 0 {
		ref |= exclBit
	}
	x := tentry{key: t.key, ref: ref, gen: t.hgen}
	if n := len(h.q); n == h.qh || x.key >= h.q[n-1].key {
		if n == h.qh && n > 0 {
			h.q, h.qh = h.q[:0], 0
		}
		h.q = append(h.q, x)
	} else {
		h.e = append(h.e, x)
		h.up(len(h.e) - 1)
	}
	h.setTop()
}

// remove takes t out of the heap (lazily).
func (h *taskHeap) remove(t *task) {
	t.hgen++
	t.hidx = -1
	if x := h.head(); x != nil && x.slot() == t.slot {
		// t's entry, or a stale one of its slot: either way the stale
		// count stays right (one stale entry leaves, t's becomes stale).
		h.popTop()
		return
	}
	h.stale++
	if h.stale > 32 && h.stale > h.size()/2 {
		h.compact()
	}
}

// top drops stale entries from the heads and returns the best entry, or nil.
func (h *taskHeap) top() *tentry {
	for {
		x := h.head()
		if x == nil || h.valid(x) {
			return x
		}
		h.popTop()
		h.stale--
	}
}

// popTop drops the head entry.
func (h *taskHeap) popTop() {
	if h.qh < len(h.q) && (len(h.e) == 0 || h.q[h.qh].key <= h.e[0].key) {
		h.qh++
		switch {
		case h.qh == len(h.q):
			h.q, h.qh = h.q[:0], 0
		case h.qh >= 256 && 2*h.qh >= len(h.q):
			n := copy(h.q, h.q[h.qh:])
			h.q, h.qh = h.q[:n], 0
		}
		h.setTop()
		return
	}
	n := len(h.e) - 1
	h.e[0] = h.e[n]
	h.e[n] = tentry{}
	h.e = h.e[:n]
	if n > 0 {
		h.down(0)
	}
	h.setTop()
}

func (h *taskHeap) compact() {
	run := h.q[:0]
	for _, x := range h.q[h.qh:] {
		if h.valid(&x) {
			run = append(run, x)
		}
	}
	h.q, h.qh = run, 0
	live := h.e[:0]
	for _, x := range h.e {
		if h.valid(&x) {
			live = append(live, x)
		}
	}
	clear(h.e[len(live):])
	h.e, h.stale = live, 0
	for i := (len(h.e) - 2) / 4; i >= 0 && len(h.e) > 1; i-- { // last parent first
		h.down(i)
	}
	h.setTop()
}

func (h *taskHeap) up(i int) {
	e := h.e
	x := e[i]
	for i > 0 {
		p := (i - 1) / 4
		if e[p].key <= x.key {
			break
		}
		e[i] = e[p]
		i = p
	}
	e[i] = x
}

func (h *taskHeap) down(i int) {
	e := h.e
	n := len(e)
	x := e[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+4, n); j++ {
			if e[j].key < e[m].key {
				m = j
			}
		}
		if x.key <= e[m].key {
			break
		}
		e[i] = e[m]
		i = m
	}
	e[i] = x
}

// agentHeap orders the routable members of a class by strategy rank,
// then agent declaration order. It is 4-ary; rank and order live in the
// 16-byte entries, and each member's position in pos (by the member's
// index li in the class), so neither comparisons nor sifting touch the
// members (which are separate allocations, cold at 10,000 agents).
type agentHeap struct {
	e   []aentry
	pos []int32   // by member index: position in e, or -1
	ms  []*member // by member index
}

type aentry struct {
	rank int64
	idx  int32 // agent declaration order
	li   int32 // member index
}

func (x *aentry) less(y *aentry) bool {
	if x.rank != y.rank {
		return x.rank < y.rank
	}
	return x.idx < y.idx
}

// add registers m as a member (not in the heap).
func (h *agentHeap) add(m *member) {
	m.li = int32(len(h.ms))
	h.ms = append(h.ms, m)
	h.pos = append(h.pos, -1)
}

func (h *agentHeap) has(m *member) bool { return h.pos[m.li] >= 0 }

func (h *agentHeap) len() int { return len(h.e) }

func (h *agentHeap) peek() *member {
	if len(h.e) == 0 {
		return nil
	}
	return h.ms[h.e[0].li]
}

func (h *agentHeap) push(m *member) {
	h.e = append(h.e, aentry{rank: m.rank, idx: m.a.idx, li: m.li})
	h.pos[m.li] = int32(len(h.e) - 1)
	h.up(len(h.e) - 1)
}

func (h *agentHeap) remove(m *member) {
	i := int(h.pos[m.li])
	n := len(h.e) - 1
	if i != n {
		h.e[i] = h.e[n]
		h.pos[h.e[i].li] = int32(i)
	}
	h.e[n] = aentry{}
	h.e = h.e[:n]
	h.pos[m.li] = -1
	if i != n {
		h.fix(i)
	}
}

// rerank sets m's rank and restores the order.
func (h *agentHeap) rerank(m *member, r int64) {
	m.rank = r
	i := int(h.pos[m.li])
	h.e[i].rank = r
	h.fix(i)
}

func (h *agentHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h *agentHeap) up(i int) {
	e := h.e
	x := e[i]
	for i > 0 {
		p := (i - 1) / 4
		if !x.less(&e[p]) {
			break
		}
		e[i] = e[p]
		h.pos[e[i].li] = int32(i)
		i = p
	}
	e[i] = x
	h.pos[x.li] = int32(i)
}

func (h *agentHeap) down(i0 int) bool {
	e := h.e
	i, n := i0, len(e)
	x := e[i]
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+4, n); j++ {
			if e[j].less(&e[m]) {
				m = j
			}
		}
		if !e[m].less(&x) {
			break
		}
		e[i] = e[m]
		h.pos[e[i].li] = int32(i)
		i = m
	}
	e[i] = x
	h.pos[x.li] = int32(i)
	return i > i0
}

// dlist is an intrusive list of tasks sorted by deadline, through one
// of the task's links. Deadlines mostly arrive in order, so insertion
// walks back from the tail and is O(1) in the common case.
type dlist struct {
	head, tail *task
	slot       uint8
	n          int
}

func (l *dlist) insert(t *task, deadline int64) {
	ln := &t.links[l.slot]
	ln.deadline, ln.list = deadline, l
	p := l.tail
	for p != nil && p.links[l.slot].deadline > deadline {
		p = p.links[l.slot].prev
	}
	ln.prev = p
	if p == nil {
		ln.next = l.head
		l.head = t
	} else {
		ln.next = p.links[l.slot].next
		p.links[l.slot].next = t
	}
	if ln.next == nil {
		l.tail = t
	} else {
		ln.next.links[l.slot].prev = t
	}
	l.n++
}

func (l *dlist) remove(t *task) {
	ln := &t.links[l.slot]
	if ln.prev == nil {
		l.head = ln.next
	} else {
		ln.prev.links[l.slot].next = ln.next
	}
	if ln.next == nil {
		l.tail = ln.prev
	} else {
		ln.next.links[l.slot].prev = ln.prev
	}
	*ln = link{}
	l.n--
}

// unlink removes t from whatever list holds its link s.
func (t *task) unlink(s int) {
	if l := t.links[s].list; l != nil {
		l.remove(t)
	}
}
