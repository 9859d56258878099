package acd

import (
	"math/rand/v2"
	"testing"
)

// TestTaskHeapCompactEmpty: a compaction that leaves no live entry
// (every entry stale) must leave an empty heap.
func TestTaskHeapCompactEmpty(t *testing.T) {
	e := &Engine{}
	h := taskHeap{slab: &e.chunks}
	var ts []*task
	for i := range 34 {
		tk := e.allocTask()
		tk.key = uint64(i)
		h.push(tk)
		ts = append(ts, tk)
	}
	for _, tk := range ts[1:33] { // 32 lazy removals: below the threshold
		h.remove(tk)
	}
	h.remove(ts[0])  // the top: popped, a stale entry comes up
	h.remove(ts[33]) // 33 stale of 33 entries: compaction to nothing
	if h.len() != 0 || h.top() != nil || h.topKey != ^uint64(0) {
		t.Fatalf("heap not empty: len %d, %d entries, top key %x", h.len(), len(h.e), h.topKey)
	}
}

// TestTaskHeapRandom checks the FIFO run plus heap against a reference
// under random pushes (mostly in key order, some out of order), lazy
// removals and pops.
func TestTaskHeapRandom(t *testing.T) {
	e := &Engine{}
	h := taskHeap{slab: &e.chunks}
	h.setTop()
	r := rand.New(rand.NewPCG(5, 6))
	live := map[*task]bool{}
	var all []*task
	key := uint64(1000)
	for op := range 200000 {
		switch n := r.IntN(10); {
		case n < 5: // push
			var tk *task
			for _, x := range all {
				if !live[x] && r.IntN(4) == 0 {
					tk = x
					break
				}
			}
			if tk == nil {
				tk = e.allocTask()
				all = append(all, tk)
			}
			if r.IntN(5) == 0 {
				tk.key = uint64(r.IntN(int(key))) // out of order
			} else {
				key += uint64(r.IntN(3))
				tk.key = key
			}
			h.push(tk)
			live[tk] = true
		case n < 8 && len(live) > 0: // remove any
			for tk := range live {
				h.remove(tk)
				delete(live, tk)
				break
			}
		default: // take the best
			var want *task
			for tk := range live {
				if want == nil || tk.key < want.key {
					want = tk
				}
			}
			x := h.top()
			if (x == nil) != (want == nil) || x != nil && x.key != want.key {
				t.Fatalf("op %d: top %v, want %v", op, x, want)
			}
			if want != nil {
				if h.topKey != want.key {
					t.Fatalf("op %d: cached top key %d, want %d", op, h.topKey, want.key)
				}
				got := h.task(x)
				h.remove(got)
				delete(live, got)
			}
		}
		if h.len() != len(live) {
			t.Fatalf("op %d: len %d, want %d", op, h.len(), len(live))
		}
	}
}
