package media

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// MonitorMode is what a supervisor joined to a bridged call does (see Call.Monitor).
type MonitorMode uint8

// The monitoring modes, as Asterisk's ChanSpy and every contact center name them.
const (
	// Listen: the supervisor hears both sides; nobody hears the supervisor.
	Listen MonitorMode = iota + 1
	// Whisper: the supervisor hears both sides; the agent hears the supervisor, the customer
	// does not.
	Whisper
	// Barge: a three-way call; everybody hears everybody else.
	Barge
)

func (m MonitorMode) String() string {
	switch m {
	case Listen:
		return "listen"
	case Whisper:
		return "whisper"
	case Barge:
		return "barge"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// ParseMonitorMode reads "listen", "whisper" or "barge".
func ParseMonitorMode(s string) (MonitorMode, error) {
	for _, m := range []MonitorMode{Listen, Whisper, Barge} {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("media: monitor mode %q: %w", s, ErrBadMode)
}

// The parties of a monitored call, as indexes into the mixer.
const (
	partyCustomer = iota
	partyAgent
	partySupervisor
	mixParties
)

// hearsIn returns, for each party, the set (bit i = party i) of parties it hears in mode m.
// A pure function: the whole of the monitoring semantics.
func hearsIn(m MonitorMode) [mixParties]uint8 {
	const c, a, s = 1 << partyCustomer, 1 << partyAgent, 1 << partySupervisor
	switch m {
	case Whisper:
		return [mixParties]uint8{a, c | s, c | a}
	case Barge:
		return [mixParties]uint8{a | s, c | s, c | a}
	}
	return [mixParties]uint8{a, c, c | a} // Listen
}

// Mixer frame geometry: 20 ms of 8 kHz audio per tick. Each input is an adaptive jitter
// buffer: it plays out once its target is queued — mixPrime at first (two frames of jitter
// absorbed, 40 to 60 ms more latency on mixed paths), one frame more after each underrun (a
// late or starved sender), at most mixMaxPrime — and cuts back to the target when more than
// mixSlack frames beyond it pile up (a burst, a stalled ticker). The ring holds mixRing.
const (
	mixRing     = 16 * frameSamples
	mixPrime    = 3 * frameSamples
	mixMaxPrime = 7 * frameSamples
	mixSlack    = 5 * frameSamples
)

// mixInput is the decoded audio one leg received, written by the leg's reader (push) and
// read by the mixer's ticker (pull).
type mixInput struct {
	mu     sync.Mutex
	ring   [mixRing]int16
	w, r   uint64 // samples written, samples read
	target uint64 // samples queued before playing out (0: mixPrime)
	primed bool
	under  uint64 // underruns: the input ran dry while playing out
}

// push decodes one G.711 payload into the ring (the relay hot path: no allocation). When the
// ring is full the oldest samples go.
func (in *mixInput) push(payload []byte, c Codec) {
	t := &ulawToPCM
	if c == PCMA {
		t = &alawToPCM
	}
	in.mu.Lock()
	for _, v := range payload {
		in.ring[in.w%mixRing] = t[v]
		in.w++
	}
	if in.w-in.r > mixRing {
		in.r = in.w - mixRing
	}
	in.mu.Unlock()
}

// pull fills dst with the next frame; false (dst silent) while the input is not primed.
func (in *mixInput) pull(dst *[frameSamples]int16) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.target == 0 {
		in.target = mixPrime
	}
	avail := in.w - in.r
	if !in.primed && avail >= in.target {
		in.primed = true
	}
	if !in.primed || avail < frameSamples {
		if in.primed { // ran dry: wait for a deeper cushion next time
			in.under++
			in.target = min(in.target+frameSamples, mixMaxPrime)
		}
		in.primed = false
		clear(dst[:])
		return false
	}
	if avail > in.target+mixSlack {
		in.r = in.w - in.target
	}
	for i := range dst {
		dst[i] = in.ring[in.r%mixRing]
		in.r++
	}
	return true
}

// mixParty is one leg of the mix: its input, and its output while the mixer owns it.
type mixParty struct {
	call  *Call
	leg   *leg
	peer  int // the party this one talks to directly through the relay (-1: none)
	in    mixInput
	owned bool // the mixer, not the relay, sends to this leg
	fresh bool // the next frame sent starts a new source (marker, timestamp from real time)
	buf   [12 + frameSamples + srtpOverhead]byte
}

// Monitor is a supervisor joined to a bridged call: a three-party mixer over the call's two
// legs (customer, agent) and the supervisor's leg of another call. It runs one goroutine,
// counted in both calls (invariant 11), that mixes every 20 ms: each party whose mode makes it
// hear anyone but its direct peer gets the sum of what it hears (linear PCM, clipped, never
// its own voice) encoded in its law; the other parties keep the plain relay.
type Monitor struct {
	target, sup *Call
	parties     [mixParties]*mixParty

	mu    sync.Mutex // guards mode and hears; a leaf
	mode  MonitorMode
	hears [mixParties]uint8

	frames atomic.Uint64 // mixed frames sent, all parties
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
}

// Monitor joins leg supLeg of call sup (the supervisor's phone, answered by ccswitch) to this
// bridged call, whose leg agent faces the agent (the other leg the customer), in mode. A call
// has at most one monitor at a time (ErrMonitored). The monitor ends with Close, or when
// either call closes (Done).
func (c *Call) Monitor(agent Leg, sup *Call, supLeg Leg, mode MonitorMode) (*Monitor, error) {
	if mode < Listen || mode > Barge {
		return nil, fmt.Errorf("media: monitor: %w", ErrBadMode)
	}
	if sup == c {
		return nil, fmt.Errorf("media: monitor: the supervisor's call is the monitored call: %w", ErrNoLeg)
	}
	m := &Monitor{target: c, sup: sup, stop: make(chan struct{}), done: make(chan struct{})}
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return nil, ErrClosed
	case c.monitor != nil:
		c.mu.Unlock()
		return nil, ErrMonitored
	case c.legs[LegA] == nil || c.legs[LegB] == nil || c.legs[LegA].params.Load() == nil || c.legs[LegB].params.Load() == nil:
		c.mu.Unlock()
		return nil, fmt.Errorf("media: monitor: call not bridged: %w", ErrNoLeg)
	}
	m.parties[partyCustomer] = &mixParty{call: c, leg: c.legs[agent.other()], peer: partyAgent}
	m.parties[partyAgent] = &mixParty{call: c, leg: c.legs[agent], peer: partyCustomer}
	c.monitor = m
	c.wg.Add(1)
	c.mu.Unlock()

	sup.mu.Lock()
	var err error
	switch {
	case sup.closed:
		err = ErrClosed
	case sup.legs[supLeg] == nil || sup.legs[supLeg].params.Load() == nil:
		err = fmt.Errorf("media: monitor: supervisor's leg: %w", ErrNoLeg)
	default:
		m.parties[partySupervisor] = &mixParty{call: sup, leg: sup.legs[supLeg], peer: -1}
		sup.wg.Add(1)
	}
	sup.mu.Unlock()
	if err != nil {
		c.mu.Lock()
		c.monitor = nil
		c.mu.Unlock()
		c.wg.Done()
		return nil, err
	}
	for _, p := range m.parties {
		p.leg.mix.Store(&p.in)
	}
	m.setMode(mode)
	go m.run()
	return m, nil
}

// SetMode switches the monitor to mode (DTMF 4/5/6 from the supervisor, a desktop button).
func (m *Monitor) SetMode(mode MonitorMode) error {
	if mode < Listen || mode > Barge {
		return fmt.Errorf("media: monitor: %w", ErrBadMode)
	}
	m.setMode(mode)
	return nil
}

func (m *Monitor) setMode(mode MonitorMode) {
	m.mu.Lock()
	m.mode, m.hears = mode, hearsIn(mode)
	m.mu.Unlock()
}

// Mode returns the current mode.
func (m *Monitor) Mode() MonitorMode {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mode
}

// Frames returns how many mixed 20 ms frames the monitor has sent (to every party together).
func (m *Monitor) Frames() uint64 { return m.frames.Load() }

// Underruns counts the times a party's input ran dry (a late or starved sender): each cost a
// silent frame and deepened that input's jitter buffer by one frame.
func (m *Monitor) Underruns() uint64 {
	var n uint64
	for _, p := range m.parties {
		p.in.mu.Lock()
		n += p.in.under
		p.in.mu.Unlock()
	}
	return n
}

// Done is closed when the monitor has ended (Close, or either call closed) and every leg is
// back on the plain relay.
func (m *Monitor) Done() <-chan struct{} { return m.done }

// Close ends the monitor and returns once its goroutine has ended and the legs are back on
// the plain relay. Safe to call more than once, and after either call closed.
func (m *Monitor) Close() {
	m.once.Do(func() { close(m.stop) })
	<-m.done
}

// run is the mixer's goroutine: one tick per 20 ms against absolute deadlines (as the player,
// invariant 8), until Close or either call's Close.
func (m *Monitor) run() {
	defer close(m.done)
	defer m.sup.wg.Done()
	defer m.target.wg.Done()
	defer m.release()
	clock := m.target.e.clock
	var (
		pcm   [mixParties][frameSamples]int16
		mix   [frameSamples]int16
		timer Timer
	)
	start := clock.Now()
	for i := 0; ; i++ {
		now := clock.Now()
		m.tick(now.UnixNano(), &pcm, &mix)
		due := start.Add(time.Duration(i+1) * frameDur)
		if now.Sub(due) > stallLimit {
			start = now.Add(-time.Duration(i) * frameDur)
			due = now.Add(frameDur)
		}
		wait := max(due.Sub(now), 0)
		if timer == nil {
			timer = clock.NewTimer(wait)
			defer func() { timer.Stop() }()
		} else {
			timer.Reset(wait)
		}
		select {
		case <-timer.C():
		case <-m.stop:
			return
		case <-m.target.done:
			return
		case <-m.sup.done:
			return
		}
	}
}

// tick mixes and sends one frame to every party whose output the mixer owns.
func (m *Monitor) tick(now int64, pcm *[mixParties][frameSamples]int16, mix *[frameSamples]int16) {
	var have uint8
	for i, p := range m.parties {
		if p.in.pull(&pcm[i]) {
			have |= 1 << i
		}
	}
	m.mu.Lock()
	hears := m.hears
	m.mu.Unlock()
	for i, p := range m.parties {
		own := hears[i] != 0 && !(p.peer >= 0 && hears[i] == 1<<p.peer)
		if own != p.owned {
			p.owned, p.fresh = own, true
			p.leg.out.setMixed(own)
		}
		if !own {
			continue
		}
		var acc [frameSamples]int32
		for j := range m.parties {
			if j == i || hears[i]&(1<<j) == 0 || have&(1<<j) == 0 {
				continue
			}
			for k, v := range pcm[j] {
				acc[k] += int32(v)
			}
		}
		for k, v := range acc {
			mix[k] = int16(min(max(v, -32768), 32767))
		}
		m.send(p, mix, now)
	}
}

// send encodes one mixed frame in the party's law and sends it on its leg's outgoing stream
// (invariant 2), unless a player owns the stream (a prompt or hold music wins).
func (m *Monitor) send(p *mixParty, mix *[frameSamples]int16, now int64) {
	lp := p.leg.params.Load()
	if lp == nil || p.leg.play.Load() != nil {
		p.fresh = true
		return
	}
	h := rtp.Header{Version: 2, PayloadType: lp.pt, Marker: p.fresh}
	h.SequenceNumber, h.Timestamp, h.SSRC = p.leg.out.nextLocal(now, frameSamples, p.fresh)
	p.fresh = false
	if _, err := h.MarshalTo(p.buf[:12]); err != nil {
		return
	}
	payload := encode(p.buf[12:12+frameSamples], mix[:], lp.codec)
	if p.leg.id == LegA {
		p.call.tapRecord(1, lp.codec, payload, now)
	}
	p.leg.send(p.buf[:12+frameSamples])
	m.frames.Add(1)
}

// release hands every leg back to the plain relay and frees the target call for another
// monitor.
func (m *Monitor) release() {
	for _, p := range m.parties {
		p.leg.mix.Store(nil)
		if p.owned {
			p.leg.out.setMixed(false)
			p.owned = false
		}
	}
	m.target.mu.Lock()
	if m.target.monitor == m {
		m.target.monitor = nil
	}
	m.target.mu.Unlock()
}
