package store

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// groupWindow is how long the first synced write of a round waits for others to join it
// before the round is committed with one fsync. Registrations arrive thousands a second
// under load: one fsync each was an eighth of the CPU of a registration (bench/sip), and
// 1 ms is small next to the SIP answer time budget.
const groupWindow = time.Millisecond

// busyGap: a round waits groupWindow only if the previous one began less than this before
// (more than 200 synced writes a second); below that rate writes are synced at once.
const busyGap = 5 * time.Millisecond

// syncGroup is group commit for synced writes (invariant 1): writers that arrive within
// groupWindow of each other go into one pebble batch committed with one sync, and each
// returns only once that commit is durable. The first writer of a round leads it: it waits
// the window (when writes are frequent, see busyGap), closes the round and commits; the
// others wait for the commit. No goroutine runs between rounds.
type syncGroup struct {
	mu     sync.Mutex
	cur    *round       // the round taking writes, nil when none
	last   atomic.Int64 // when the last round began, unix nanoseconds
	rounds atomic.Int64
	writes atomic.Int64
}

type round struct {
	b    *pebble.Batch
	done chan struct{}
	err  error
}

// write adds one change (add sets or deletes keys in the batch) to the current round,
// starting one if none is open, and returns once the round is synced to disk.
func (g *syncGroup) write(db *pebble.DB, add func(b *pebble.Batch) error) error {
	g.mu.Lock()
	r, leader := g.cur, false
	if r == nil {
		r, leader = &round{b: db.NewBatch(), done: make(chan struct{})}, true
		g.cur = r
	}
	err := add(r.b) // a pebble.Batch is not safe for concurrent use: under g.mu
	g.mu.Unlock()
	g.writes.Add(1)
	if !leader {
		<-r.done
		if err != nil {
			return err
		}
		return r.err
	}
	// Wait for company only when writes come often (the previous round began less than
	// busyGap ago): a lone registration is synced at once.
	now := time.Now().UnixNano()
	if now-g.last.Swap(now) < int64(busyGap) {
		time.Sleep(groupWindow)
	}
	g.mu.Lock()
	g.cur = nil
	g.mu.Unlock()
	r.err = r.b.Commit(pebble.Sync)
	r.b.Close()
	g.rounds.Add(1)
	close(r.done)
	if err != nil {
		return err
	}
	return r.err
}
