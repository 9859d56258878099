package center

import (
	"sync"

	"github.com/ccswitch/ccswitch/acd"
)

// Inbox receives the events of the tasks enqueued with it, in engine order (invariant 2). It
// never blocks the engine and never drops an event: events wait in it until taken. One Inbox
// may serve one task (a call) or many (the text channels' conversations); it is safe for
// concurrent use.
//
//	for {
//		select {
//		case <-in.Ready():
//			for _, ev := range in.Take() { ... }
//		case <-done:
//			return
//		}
//	}
type Inbox struct {
	mu    sync.Mutex
	evs   []acd.Event
	ready chan struct{} // one token while events wait
}

// NewInbox returns an empty inbox.
func NewInbox() *Inbox { return &Inbox{ready: make(chan struct{}, 1)} }

// Ready has a value while events wait; after receiving from it, Take them all.
func (in *Inbox) Ready() <-chan struct{} { return in.ready }

// Take returns the waiting events, oldest first, and empties the inbox.
func (in *Inbox) Take() []acd.Event {
	in.mu.Lock()
	evs := in.evs
	in.evs = nil
	in.mu.Unlock()
	return evs
}

func (in *Inbox) put(ev acd.Event) {
	in.mu.Lock()
	in.evs = append(in.evs, ev)
	in.mu.Unlock()
	select {
	case in.ready <- struct{}{}:
	default:
	}
}
