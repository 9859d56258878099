package sip

import (
	"context"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/sip/registrar"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// natPingMisses is how many keepalives in a row a contact behind NAT may leave unanswered
// before its binding is dropped (registrar.ReasonUnreachable).
const natPingMisses = 3

// natPingParallel bounds the keepalives in flight at once.
const natPingParallel = 64

// locations is what the pinger needs of the registrar.
type locations interface {
	Lookup(aor string) []registrar.Contact
	RemoveFlow(aor, contact, source, reason string) bool
}

// natPinger keeps registered UDP contacts behind NAT reachable and notices the ones that
// went away: it learns them from the registrar's events, sends each an OPTIONS through its
// flow every interval (the first one interval after it registered), and after natPingMisses
// unanswered in a row removes the binding with registrar.ReasonUnreachable, which is an
// Unbound event to every subscriber (agent presence). A REGISTER from the contact since the
// previous ping counts as an answer.
//
// event is called by the registrar with an AOR's shard lock held: it takes only p.mu. Run's
// goroutines call the registrar without p.mu held (lock order: registrar shard, then p.mu).
type natPinger struct {
	interval func() time.Duration // 0: no pings (contacts are still tracked)
	loc      locations
	ping     func(ctx context.Context, c registrar.Contact, timeout time.Duration) bool
	sent     func(answered bool)                   // metrics
	dropped  func(aor string, c registrar.Contact) // log (tests: nil)

	mu  sync.Mutex
	set map[pingKey]*pingState
}

type pingKey struct{ aor, contact string }

type pingState struct {
	next     time.Time
	misses   int
	busy     bool
	lastSent time.Time // when the previous ping went out
}

func newNATPinger(interval func() time.Duration, loc locations, ping func(context.Context, registrar.Contact, time.Duration) bool, sent func(bool)) *natPinger {
	return &natPinger{interval: interval, loc: loc, ping: ping, sent: sent, set: make(map[pingKey]*pingState)}
}

// event follows the registrar: a UDP contact behind NAT that came is tracked, one that went
// is forgotten.
func (p *natPinger) event(ev registrar.Event) {
	k := pingKey{ev.AOR, ev.Contact}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case ev.Kind == registrar.Bound && ev.NAT && ev.Transport == "udp":
		if _, ok := p.set[k]; !ok {
			p.set[k] = &pingState{next: ev.At.Add(p.interval())}
		}
	case ev.Kind == registrar.Unbound:
		delete(p.set, k)
	}
}

// tracked returns how many contacts the pinger follows (tests).
func (p *natPinger) tracked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.set)
}

// Run pings due contacts until ctx ends, and returns after its pings have stopped.
func (p *natPinger) Run(ctx context.Context) error {
	// Due contacts are looked for every fifth of the interval (at most every second; once a
	// second while pings are off), so the interval may change with a reload.
	step := func(iv time.Duration) time.Duration {
		if iv <= 0 {
			return time.Second
		}
		return min(time.Second, max(iv/5, 10*time.Millisecond))
	}
	tick := time.NewTimer(step(p.interval()))
	defer tick.Stop()
	sem := make(chan struct{}, natPingParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		iv := p.interval()
		tick.Reset(step(iv))
		if iv <= 0 {
			continue
		}
		now := time.Now()
		var due []pingKey
		p.mu.Lock()
		for k, st := range p.set {
			if !st.busy && !now.Before(st.next) {
				due = append(due, k)
			}
		}
		p.mu.Unlock()
		for _, k := range due {
			select {
			case sem <- struct{}{}:
			default:
				continue // all slots busy: due again next step
			}
			p.mu.Lock()
			st := p.set[k]
			if st == nil || st.busy {
				p.mu.Unlock()
				<-sem
				continue
			}
			st.busy = true
			st.next = now.Add(iv)
			p.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				p.pingOne(ctx, k, min(iv, 5*time.Second))
			}()
		}
	}
}

// pingOne sends one keepalive and applies its outcome.
func (p *natPinger) pingOne(ctx context.Context, k pingKey, timeout time.Duration) {
	c, ok := p.find(k)
	if !ok || !c.NAT || c.Transport != "udp" {
		p.mu.Lock()
		delete(p.set, k) // gone, or no longer a UDP contact behind NAT
		p.mu.Unlock()
		return
	}
	sent := time.Now()
	p.mu.Lock()
	if st := p.set[k]; st != nil {
		if c.Updated.After(st.lastSent) {
			st.misses = 0 // it registered since the last ping: alive
		}
		st.lastSent = sent
	}
	p.mu.Unlock()
	answered := p.ping(ctx, c, timeout)
	if ctx.Err() != nil {
		return // shutting down: not the contact's fault
	}
	if !answered {
		if c2, ok := p.find(k); ok && c2.Updated.After(sent) {
			answered = true // it registered while the ping was out: alive
		}
	}
	p.sent(answered)
	p.mu.Lock()
	st := p.set[k]
	if st == nil {
		p.mu.Unlock()
		return
	}
	st.busy = false
	if answered {
		st.misses = 0
		p.mu.Unlock()
		return
	}
	st.misses++
	drop := st.misses >= natPingMisses
	p.mu.Unlock()
	// Only the flow that went silent: a contact that registered again from another source
	// (its NAT binding changed) keeps its new binding.
	if drop && p.loc.RemoveFlow(k.aor, k.contact, c.Source, registrar.ReasonUnreachable) && p.dropped != nil { // its Unbound event forgets k
		p.dropped(k.aor, c)
	}
}

func (p *natPinger) find(k pingKey) (registrar.Contact, bool) {
	for _, c := range p.loc.Lookup(k.aor) {
		if c.Contact == k.contact {
			return c, true
		}
	}
	return registrar.Contact{}, false
}

// natPing sends one OPTIONS keepalive to a contact through its flow and reports whether any
// response came within timeout (a 405 or 481 from a phone that does not do OPTIONS is as
// good a sign of life as a 200).
func (s *Server) natPing(ctx context.Context, c registrar.Contact, timeout time.Duration) bool {
	cli := s.udpClientFor(c.Dest)
	if cli == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := gsip.NewRequest(gsip.OPTIONS, *c.URI.Clone())
	req.SetTransport("udp")
	req.SetDestination(c.Dest)
	res, err := cli.Do(ctx, req)
	return err == nil && res != nil
}
