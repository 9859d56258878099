package acd

import "hash/maphash"

// idTable maps the IDs of live tasks to their slots: open addressing
// with linear probing and backward-shift deletion (no tombstones), at
// most half full. An entry is 8 bytes, the low 32 bits of the ID's hash
// and the slot; a hit is confirmed against the task's own ID, so the
// table holds no strings and no pointers (the GC does not scan it) and
// a lookup reads one entry line, then the task, which the caller reads
// next anyway. It replaces a map[string]int32 whose lookups were ~15 %
// of a decision at 100,000 tasks.
type idTable struct {
	e    []idEnt
	mask uint32
	n    int
	seed maphash.Seed
}

type idEnt struct {
	h    uint32 // low bits of the hash; the home position is h & mask
	slot int32  // slot + 1; 0 is an empty entry
}

func newIDTable() idTable {
	const n = 1024
	return idTable{e: make([]idEnt, n), mask: n - 1, seed: maphash.MakeSeed()}
}

func (x *idTable) len() int { return x.n }

func (x *idTable) hash(id string) uint32 { return uint32(maphash.String(x.seed, id)) }

// find returns the slot of the live task named id, whose hash is h, or -1.
func (x *idTable) find(e *Engine, h uint32, id string) int32 {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		en := x.e[i]
		if en.slot == 0 {
			return -1
		}
		if en.h == h && e.taskAt(en.slot-1).id == id {
			return en.slot - 1
		}
	}
}

// insert adds slot under hash h; the ID must not be present.
func (x *idTable) insert(h uint32, slot int32) {
	if 2*(x.n+1) > len(x.e) {
		x.grow()
	}
	x.put(idEnt{h: h, slot: slot + 1})
	x.n++
}

func (x *idTable) put(en idEnt) {
	i := en.h & x.mask
	for x.e[i].slot != 0 {
		i = (i + 1) & x.mask
	}
	x.e[i] = en
}

func (x *idTable) grow() {
	old := x.e
	x.e = make([]idEnt, 2*len(old))
	x.mask = uint32(len(x.e) - 1)
	for _, en := range old {
		if en.slot != 0 {
			x.put(en)
		}
	}
}

// remove deletes the entry of slot, whose ID hashes to h.
func (x *idTable) remove(h uint32, slot int32) {
	i := h & x.mask
	for x.e[i].slot != slot+1 {
		if x.e[i].slot == 0 {
			return // not present
		}
		i = (i + 1) & x.mask
	}
	// Shift back the entries of the probe run that may not stay behind
	// the hole.
	for j := (i + 1) & x.mask; x.e[j].slot != 0; j = (j + 1) & x.mask {
		home := x.e[j].h & x.mask
		// The entry at j may move to i unless its home lies cyclically
		// in (i, j].
		if (j-home)&x.mask >= (j-i)&x.mask {
			x.e[i] = x.e[j]
			i = j
		}
	}
	x.e[i] = idEnt{}
	x.n--
}
