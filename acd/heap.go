package acd

// taskHeap orders waiting tasks by key (priority band, then arrival
// sequence); the lowest key is the best. Keys are kept in the entries,
// so sifting compares without touching the tasks; each task keeps its
// index. excl caches t.nexcl > 0.
type taskHeap []tentry

type tentry struct {
	key  uint64
	t    *task
	excl bool
}

func (h taskHeap) peek() *task {
	if len(h) == 0 {
		return nil
	}
	return h[0].t
}

func (h *taskHeap) push(t *task) {
	*h = append(*h, tentry{key: t.key, t: t, excl: t.nexcl > 0})
	t.hidx = int32(len(*h) - 1)
	h.up(len(*h) - 1)
}

func (h *taskHeap) remove(t *task) {
	s := *h
	i := int(t.hidx)
	n := len(s) - 1
	if i != n {
		s[i] = s[n]
		s[i].t.hidx = int32(i)
	}
	s[n] = tentry{}
	*h = s[:n]
	t.hidx = -1
	if i != n {
		if !h.down(i) {
			h.up(i)
		}
	}
}

func (h taskHeap) up(i int) {
	x := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].key <= x.key {
			break
		}
		h[i] = h[p]
		h[i].t.hidx = int32(i)
		i = p
	}
	h[i] = x
	x.t.hidx = int32(i)
}

func (h taskHeap) down(i0 int) bool {
	i, n := i0, len(h)
	x := h[i]
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].key < h[l].key {
			j = r
		}
		if x.key <= h[j].key {
			break
		}
		h[i] = h[j]
		h[i].t.hidx = int32(i)
		i = j
	}
	h[i] = x
	x.t.hidx = int32(i)
	return i > i0
}

// agentHeap orders the routable members of a class by strategy rank,
// then agent declaration order.
type agentHeap []*member

func (m *member) less(o *member) bool {
	if m.rank != o.rank {
		return m.rank < o.rank
	}
	return m.a.idx < o.a.idx
}

func (h agentHeap) peek() *member {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h *agentHeap) push(m *member) {
	*h = append(*h, m)
	m.hidx = int32(len(*h) - 1)
	h.up(len(*h) - 1)
}

func (h *agentHeap) remove(m *member) {
	s := *h
	i := int(m.hidx)
	n := len(s) - 1
	if i != n {
		s[i] = s[n]
		s[i].hidx = int32(i)
	}
	s[n] = nil
	*h = s[:n]
	m.hidx = -1
	if i != n {
		h.fix(i)
	}
}

func (h agentHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h agentHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].less(h[p]) {
			break
		}
		h[p], h[i] = h[i], h[p]
		h[p].hidx, h[i].hidx = int32(p), int32(i)
		i = p
	}
}

func (h agentHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && h[r].less(h[l]) {
			j = r
		}
		if !h[j].less(h[i]) {
			break
		}
		h[i], h[j] = h[j], h[i]
		h[i].hidx, h[j].hidx = int32(i), int32(j)
		i = j
	}
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
