package acd

import "testing"

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
