package registrar

import (
	"sync/atomic"
	"time"
)

// EventKind says whether a binding came or went.
type EventKind uint8

const (
	// Bound: a contact is now registered for the AOR (a refresh of the same contact is not
	// an event).
	Bound EventKind = iota + 1
	// Unbound: a contact is no longer registered.
	Unbound
)

func (k EventKind) String() string {
	switch k {
	case Bound:
		return "bound"
	case Unbound:
		return "unbound"
	}
	return "unknown"
}

// Reasons carried by events.
const (
	ReasonRegistered   = "registered"   // Bound by a REGISTER
	ReasonPresent      = "present"      // Bound: replayed to a new subscriber (live, or loaded after a restart)
	ReasonUnregistered = "unregistered" // Unbound by a REGISTER with expires 0 or "*"
	ReasonExpired      = "expired"      // Unbound by Sweep
	ReasonUnreachable  = "unreachable"  // Unbound by Remove: a keepalive went unanswered
	ReasonFlowClosed   = "flow-closed"  // Unbound by Remove: its connection closed
)

// Event is one binding coming or going. Presence (an agent's phone registered) subscribes.
type Event struct {
	Kind       EventKind
	AOR        string
	Contact    string // the contact URI as registered
	InstanceID string // +sip.instance, when the device gave one
	Source     string // where the REGISTER came from (host:port)
	Transport  string // udp, tcp, tls, ws, wss
	NAT        bool   // the contact is behind NAT (keepalives are its business)
	Reason     string // one of the Reason constants
	// Bindings is the number of live bindings of the AOR once this event applied.
	Bindings int
	At       time.Time
}

type subscriber struct {
	fn func(Event)
}

// Subscribe calls fn for every binding that comes or goes from now on, and first, before it
// returns, once for every live binding (Kind Bound, Reason ReasonPresent), so that a
// subscriber attached after Load or after traffic started sees the whole state without a gap
// or a duplicate.
//
// fn is called synchronously, with the AOR's shard lock held, on the goroutine that changed
// the binding: events of one AOR arrive in the order they happened. fn must not block and
// must not call the Registrar. The returned function stops the subscription.
func (r *Registrar) Subscribe(fn func(Event)) (cancel func()) {
	s := &subscriber{fn: fn}
	for i := range r.shards {
		r.shards[i].mu.Lock()
	}
	now := r.now()
	for {
		old := r.subs.Load()
		next := append(append([]*subscriber(nil), derefSubs(old)...), s)
		if r.subs.CompareAndSwap(old, &next) {
			break
		}
	}
	for i := range r.shards {
		for aor, list := range r.shards[i].aor {
			n := live(list, now)
			for _, c := range list {
				if c.Expires.After(now) {
					fn(eventOf(Bound, ReasonPresent, aor, c, n, now))
				}
			}
		}
	}
	for i := range r.shards {
		r.shards[i].mu.Unlock()
	}
	var once atomic.Bool
	return func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		for {
			old := r.subs.Load()
			var next []*subscriber
			for _, x := range derefSubs(old) {
				if x != s {
					next = append(next, x)
				}
			}
			if r.subs.CompareAndSwap(old, &next) {
				return
			}
		}
	}
}

func derefSubs(p *[]*subscriber) []*subscriber {
	if p == nil {
		return nil
	}
	return *p
}

// emit sends an event to every subscriber; the caller holds the AOR's shard lock.
func (r *Registrar) emit(kind EventKind, reason, aor string, c *Contact, bindings int, now time.Time) {
	subs := derefSubs(r.subs.Load())
	if len(subs) == 0 {
		return
	}
	ev := eventOf(kind, reason, aor, c, bindings, now)
	for _, s := range subs {
		s.fn(ev)
	}
}

func eventOf(kind EventKind, reason, aor string, c *Contact, bindings int, now time.Time) Event {
	return Event{Kind: kind, AOR: aor, Contact: c.Contact, InstanceID: c.InstanceID, Source: c.Source,
		Transport: c.Transport, NAT: c.NAT, Reason: reason, Bindings: bindings, At: now}
}

func live(list []*Contact, now time.Time) int {
	n := 0
	for _, c := range list {
		if c.Expires.After(now) {
			n++
		}
	}
	return n
}
