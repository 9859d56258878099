package acd

import "sync/atomic"

// ring is a bounded lock-free multi-producer single-consumer queue of
// commands (Vyukov's bounded queue with one consumer). Producers claim a
// slot with a CAS on tail, copy the command in and publish it through
// the slot's sequence number; the single consumer pops published slots
// in order. A 1-slot channel wakes the consumer, as in NATS ipqueue: the
// consumer sets sleeping before its last emptiness check, and a producer
// that sees sleeping after publishing sends a token.
type ring struct {
	_        [64]byte
	tail     atomic.Uint64
	_        [56]byte
	head     uint64 // consumer only
	_        [56]byte
	mask     uint64 // read-mostly from here on
	slots    []slot
	wake     chan struct{}
	sleeping atomic.Bool // written only when the consumer parks
}

type slot struct {
	seq atomic.Uint64
	cmd command
}

func newRing(size int) *ring {
	n := 2
	for n < size {
		n <<= 1
	}
	r := &ring{mask: uint64(n - 1), slots: make([]slot, n), wake: make(chan struct{}, 1)}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// push copies c into the ring; it reports false if the ring is full.
func (r *ring) push(c *command) bool {
	pos := r.tail.Load()
	var s *slot
	for {
		s = &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch dif := int64(seq) - int64(pos); {
		case dif == 0:
			if r.tail.CompareAndSwap(pos, pos+1) {
				goto claimed
			}
			pos = r.tail.Load()
		case dif < 0:
			return false
		default:
			pos = r.tail.Load()
		}
	}
claimed:
	s.cmd = *c
	s.seq.Store(pos + 1)
	if r.sleeping.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// pop moves the next published command into c; it reports false if
// there is none. Consumer only.
func (r *ring) pop(c *command) bool {
	s := &r.slots[r.head&r.mask]
	if s.seq.Load() != r.head+1 {
		return false
	}
	*c = s.cmd
	s.cmd = command{} // drop references for the GC
	s.seq.Store(r.head + r.mask + 1)
	r.head++
	return true
}

// ready reports whether a published command is waiting. Consumer only.
func (r *ring) ready() bool {
	return r.slots[r.head&r.mask].seq.Load() == r.head+1
}

// room reports whether a push would find a free slot now. Any goroutine.
func (r *ring) room() bool {
	pos := r.tail.Load()
	return int64(r.slots[pos&r.mask].seq.Load())-int64(pos) >= 0
}
