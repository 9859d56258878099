package media

import (
	"math"
	"sync/atomic"
	"time"
)

// LegStats are the RTP figures of one leg, for the call record.
type LegStats struct {
	PacketsIn, BytesIn   uint64 // RTP received from the peer (after latching checks)
	PacketsOut, BytesOut uint64 // RTP sent to the peer (relayed and played)
	// Lost is the number of packets the peer sent that never arrived, from sequence gaps
	// (RFC 3550 §A.3: expected - received, summed over the peer's SSRCs, never negative).
	Lost uint64
	// Jitter is the interarrival jitter of the peer's stream (RFC 3550 §6.4.1), 8 kHz clock.
	Jitter time.Duration
	// Strangers counts packets dropped because they came from neither the peer's signalling
	// nor its SDP address, or from another address than the one the leg latched (invariant 3);
	// on a callee's leg, also packets that arrived before its answer named its address.
	Strangers uint64
	// SRTPFailed counts SRTP packets dropped because they failed authentication or replay.
	SRTPFailed uint64
	// SRTP reports whether the leg's media is SRTP (as last negotiated).
	SRTP bool
}

// Stats are a call's figures.
type Stats struct {
	A, B             LegStats
	DTMFDropped      uint64 // DTMF events dropped because DTMF() was not read
	RecordingDropped uint64 // audio frames the recorder could not keep up with
}

// Stats returns the current figures; safe from any goroutine.
func (c *Call) Stats() Stats {
	s := Stats{DTMFDropped: c.dtmfDropped.Load()}
	for id := LegA; id <= LegB; id++ {
		l := c.live[id].Load()
		if l == nil {
			continue
		}
		ls := l.stats.snapshot()
		if p := l.params.Load(); p != nil && p.srtp != nil {
			ls.SRTP = true
		}
		if id == LegA {
			s.A = ls
		} else {
			s.B = ls
		}
	}
	if r := c.rec.Load(); r != nil {
		s.RecordingDropped = r.dropped.Load()
	}
	return s
}

// legCounters are published atomically: inbound by the leg's reader, outbound by whoever sends.
type legCounters struct {
	packetsIn, bytesIn, lost atomic.Uint64
	jitterTS                 atomic.Uint64 // float64 bits, timestamp units
	packetsOut, bytesOut     atomic.Uint64
	strangers, srtpFailed    atomic.Uint64
}

func (c *legCounters) publishIn(in *inStats, n int) {
	c.packetsIn.Add(1)
	c.bytesIn.Add(uint64(n))
	c.lost.Store(in.lost())
	c.jitterTS.Store(math.Float64bits(in.jitter))
}

func (c *legCounters) addOut(n int) {
	c.packetsOut.Add(1)
	c.bytesOut.Add(uint64(n))
}

// undoOut takes back an addOut whose write failed.
func (c *legCounters) undoOut(n int) {
	c.packetsOut.Add(^uint64(0))
	c.bytesOut.Add(^uint64(n - 1))
}

func (c *legCounters) snapshot() LegStats {
	j := math.Float64frombits(c.jitterTS.Load())
	return LegStats{
		PacketsIn: c.packetsIn.Load(), BytesIn: c.bytesIn.Load(),
		PacketsOut: c.packetsOut.Load(), BytesOut: c.bytesOut.Load(),
		Lost:      c.lost.Load(),
		Jitter:    time.Duration(j * float64(time.Second) / 8000),
		Strangers: c.strangers.Load(), SRTPFailed: c.srtpFailed.Load(),
	}
}

// inStats follows the peer's sequence numbers and timestamps (RFC 3550 §A.1, §A.8).
type inStats struct {
	started     bool
	ssrc        uint32
	baseSeq     uint32 // first extended sequence number of this SSRC
	maxSeq      uint16
	cycles      uint32 // sequence wrap count << 16
	received    uint64 // packets of this SSRC
	lostBefore  uint64 // lost over previous SSRCs
	transit     int64  // last arrival - timestamp of an audio packet, in timestamp units
	haveTransit bool
	jitter      float64
}

func (s *inStats) reset() { *s = inStats{} }

const maxDropout, maxMisorder = 3000, 100

// update accounts one packet (ssrc, seq, ts) arriving at clock ns now. Only audio packets
// feed the jitter: telephone-event packets repeat their event's timestamp, which would read
// as jitter.
func (s *inStats) update(ssrc uint32, seq uint16, ts uint32, now int64, audio bool) {
	arrival := now / 125000 // 8 kHz units
	if !s.started || ssrc != s.ssrc {
		if s.started {
			s.lostBefore = s.lost()
		}
		s.started, s.ssrc = true, ssrc
		s.baseSeq, s.maxSeq, s.cycles, s.received = uint32(seq), seq, 0, 1
		s.transit, s.haveTransit = arrival-int64(ts), audio
		return
	}
	delta := seq - s.maxSeq
	switch {
	case delta < maxDropout: // in order, maybe with a gap
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		s.maxSeq = seq
	case delta <= 65535-maxMisorder: // a big jump: the peer restarted its sequence
		s.lostBefore = s.lost()
		s.baseSeq, s.maxSeq, s.cycles, s.received = uint32(seq), seq, 0, 0
	default: // duplicate or reordered: counts as received
	}
	s.received++
	if !audio {
		return
	}
	if !s.haveTransit {
		s.transit, s.haveTransit = arrival-int64(ts), true
		return
	}
	// RFC 3550 §6.4.1: D(i-1,i) = (Rj-Ri) - (Sj-Si); J += (|D| - J)/16. Timestamp arithmetic
	// is modulo 2^32, so take the difference as int32.
	transit := arrival - int64(ts)
	d := int64(int32(transit - s.transit))
	s.transit = transit
	if d < 0 {
		d = -d
	}
	s.jitter += (float64(d) - s.jitter) / 16
}

// lost is the cumulative number of packets lost (never negative).
func (s *inStats) lost() uint64 {
	if !s.started {
		return s.lostBefore
	}
	expected := uint64(s.cycles) + uint64(s.maxSeq) - uint64(s.baseSeq) + 1
	if s.cycles == 0 && uint32(s.maxSeq) < s.baseSeq {
		expected = 0
	}
	var l uint64
	if expected > s.received {
		l = expected - s.received
	}
	return s.lostBefore + l
}
