package acd

import (
	"runtime"
	"strconv"
	"sync"
	"testing"
)

// Many producers, one consumer, a small ring: nothing is lost or
// duplicated, each producer's commands arrive in order, and a full ring
// refuses instead of blocking.
func TestRingMPSC(t *testing.T) {
	const producers, per = 4, 5000
	r := newRing(8)
	var wg sync.WaitGroup
	full := make([]int, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; {
				c := command{kind: cmdCancel, id: strconv.Itoa(p), qi: int32(i)}
				if r.push(&c) {
					i++
					continue
				}
				full[p]++
				runtime.Gosched()
			}
		}()
	}
	next := make([]int32, producers)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var c command
	n := 0
	for n < producers*per {
		if !r.pop(&c) {
			select {
			case <-done:
				if !r.ready() && n < producers*per {
					t.Fatalf("lost commands: got %d of %d", n, producers*per)
				}
			default:
			}
			runtime.Gosched()
			continue
		}
		p, _ := strconv.Atoi(c.id)
		if c.qi != next[p] {
			t.Fatalf("producer %d: got %d, want %d", p, c.qi, next[p])
		}
		next[p]++
		n++
	}
	if r.pop(&c) {
		t.Fatal("extra command")
	}
	total := 0
	for _, f := range full {
		total += f
	}
	t.Logf("ring full %d times", total)
}
