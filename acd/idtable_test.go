package acd

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestIDTable checks the task ID table against a map under random
// inserts and removals (linear probing with backward-shift deletion).
func TestIDTable(t *testing.T) {
	e := &Engine{ids: newIDTable()}
	r := rand.New(rand.NewPCG(3, 4))
	want := map[string]int32{}
	for op := range 300000 {
		id := "task-" + strconv.Itoa(r.IntN(6000))
		h := e.ids.hash(id)
		got := e.ids.find(e, h, id)
		s, ok := want[id]
		if !ok {
			s = -1
		}
		if got != s {
			t.Fatalf("op %d: find(%s) = %d, want %d", op, id, got, s)
		}
		if ok {
			e.ids.remove(h, s)
			e.freeTask(e.taskAt(s)) // removes again: a no-op
			delete(want, id)
		} else {
			tk := e.allocTask()
			tk.id = id
			e.ids.insert(h, tk.slot)
			want[id] = tk.slot
		}
		if e.ids.len() != len(want) {
			t.Fatalf("op %d: len %d, want %d", op, e.ids.len(), len(want))
		}
		if op%10000 == 0 {
			for id, s := range want {
				if got := e.ids.find(e, e.ids.hash(id), id); got != s {
					t.Fatalf("op %d: find(%s) = %d, want %d", op, id, got, s)
				}
			}
		}
	}
}
