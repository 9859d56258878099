package media

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// legParams is the negotiated state of a leg; replaced as a whole (atomic pointer) on each
// offer/answer so the relay reads it without locks.
type legParams struct {
	remote   netip.AddrPort // the peer's SDP address; invalid: do not send until latched
	codec    Codec          // law the peer sends and receives
	pt       uint8          // its payload type
	dtmfPT   int            // telephone-event payload type, -1 if not negotiated
	dir      Direction      // the peer's direction
	rejected bool           // audio refused (port 0): nothing flows
}

// sendOK reports whether ccswitch may send media to the peer (it said it receives).
func (p *legParams) sendOK() bool { return p != nil && !p.rejected && p.dir.receives() }

// leg is one side of a call: ccswitch's socket facing one peer.
type leg struct {
	call *Call
	id   Leg
	conn *net.UDPConn
	rtcp *net.UDPConn // bound, never read (see portPool)
	port int

	// SDP state, guarded by call.mu.
	sessID, version uint64
	lastSDP         string

	params       atomic.Pointer[legParams]
	negotiatedAt atomic.Int64 // clock ns of the last setParams

	// Latching (invariant 3): written by this leg's reader, read by the other leg's reader.
	latched   atomic.Pointer[netip.AddrPort]
	lastRx    atomic.Int64 // clock ns of the last RTP packet from the peer
	latchedRx int64        // clock ns of the last packet from the latched source (reader only)

	in    inStats // reader goroutine only, published through stats
	stats legCounters
	dtmf  dtmfReceiver // reader goroutine only
	tones *toneDetector
	pcm   [480]int16 // decode scratch for in-band detection (reader only)

	out outStream

	playMu sync.Mutex // serialises Play/SendDTMF on this leg
	play   atomic.Pointer[playState]
}

// setParams installs a new negotiation result and forgets the latched source when the peer's
// address changed (a re-INVITE from a moved or re-NATed phone).
func (l *leg) setParams(p *legParams) {
	old := l.params.Swap(p)
	if old == nil || p == nil || old.remote != p.remote {
		l.latched.Store(nil)
	}
	l.negotiatedAt.Store(l.call.e.clock.Now().UnixNano())
}

// dest is where packets to this leg's peer go: the latched source, else the SDP address.
func (l *leg) dest(p *legParams) netip.AddrPort {
	if a := l.latched.Load(); a != nil {
		return *a
	}
	return p.remote
}

const relatchAfter = int64(2e9) // a new source replaces a latched one silent for 2 s

func (l *leg) readLoop() {
	defer l.call.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		l.handle(buf[:n], src)
	}
}

// handle processes one datagram from the peer: the relay hot path. No allocation except when
// the latched source changes.
func (l *leg) handle(b []byte, src netip.AddrPort) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return // not RTP (STUN, garbage)
	}
	pt := b[1] & 0x7f
	if pt >= 64 && pt <= 95 {
		return // RTCP multiplexed on the RTP port (RFC 5761)
	}
	p := l.params.Load()
	if p == nil || p.rejected {
		return
	}
	c := l.call
	now := c.e.clock.Now().UnixNano()
	l.lastRx.Store(now)
	if cur := l.latched.Load(); cur == nil || (*cur != src && now-l.latchedRx > relatchAfter) {
		a := src
		l.latched.Store(&a)
		l.latchedRx = now
	} else if *cur == src {
		l.latchedRx = now
	} else {
		return // a second source while the latched one is alive: ignore it
	}
	payload, ok := rtpPayload(b)
	if !ok {
		return
	}
	seq := binary.BigEndian.Uint16(b[2:])
	ts := binary.BigEndian.Uint32(b[4:])
	ssrc := binary.BigEndian.Uint32(b[8:])
	o := c.live[l.id.other()].Load()
	var op *legParams
	if o != nil {
		op = o.params.Load()
	}
	l.in.update(ssrc, seq, ts, now, pt == p.pt)
	l.stats.publishIn(&l.in, len(b)) // after loading op: tests sync on PacketsIn
	switch {
	case p.dtmfPT >= 0 && int(pt) == p.dtmfPT:
		if d, ok := l.dtmf.packet(payload, ssrc, ts); ok {
			c.deliverDTMF(DTMFEvent{Leg: l.id, Digit: d, Source: RFC4733})
		}
		if op == nil || op.dtmfPT < 0 {
			return
		}
		b[1] = b[1]&0x80 | uint8(op.dtmfPT)
	case pt == p.pt:
		if l.tones != nil {
			l.detectInband(payload, p.codec)
		}
		if l.id == LegA {
			c.tapRecord(0, p.codec, payload, now)
		}
		if op == nil {
			return
		}
		if op.codec != p.codec {
			transcode(payload, p.codec, op.codec)
		}
		b[1] = b[1]&0x80 | op.pt
	default:
		return // comfort noise, unknown payload types
	}
	if !op.sendOK() {
		return
	}
	dst := o.dest(op)
	if !dst.IsValid() {
		return
	}
	if !o.out.relay(b, now) {
		return // o is playing a prompt
	}
	if o.id == LegA {
		c.tapRecord(1, op.codec, payload, now)
	}
	if _, err := o.conn.WriteToUDPAddrPort(b, dst); err == nil {
		o.stats.addOut(len(b))
	}
}

// rtpPayload returns the payload of an RTP packet, skipping CSRCs, extension and padding.
func rtpPayload(b []byte) ([]byte, bool) {
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 {
		if len(b) < off+4 {
			return nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
	}
	end := len(b)
	if b[0]&0x20 != 0 && end > 0 {
		end -= int(b[end-1])
	}
	if off > end {
		return nil, false
	}
	return b[off:end], true
}

// send writes one locally generated packet to leg l's peer, honouring direction and latching.
func (l *leg) send(b []byte) {
	p := l.params.Load()
	if !p.sendOK() {
		return
	}
	dst := l.dest(p)
	if !dst.IsValid() {
		return
	}
	if _, err := l.conn.WriteToUDPAddrPort(b, dst); err == nil {
		l.stats.addOut(len(b))
	}
}

// outStream is ccswitch's outgoing RTP stream toward one peer (invariant 2): one SSRC, and a
// sequence and timestamp that continue across source changes (a new SSRC from the other leg
// after a re-INVITE, a switch between relay and local playback).
type outStream struct {
	mu       sync.Mutex
	ssrc     uint32
	seq      uint16 // last sequence number sent
	ts       uint32 // last timestamp sent
	at       int64  // clock ns when seq/ts were sent
	started  bool
	local    bool   // a player owns the stream: relayed packets are dropped
	srcOK    bool   // seqOff/tsOff valid for srcSSRC
	srcSSRC  uint32 // SSRC of the relayed source
	seqOff   uint16
	tsOff    uint32
	lastSeen uint16 // highest relayed input seq seen (for the marker on gaps)
}

// elapsedTS converts the time since the last packet into 8 kHz timestamp units (at least one
// 20 ms frame), so a receiver's jitter buffer sees the real gap.
func (o *outStream) elapsedTS(now int64) uint32 {
	d := (now - o.at) / 125000
	if d < 160 {
		d = 160
	}
	return uint32(d)
}

// relay rewrites the header of a relayed packet in place; false means drop it.
func (o *outStream) relay(b []byte, now int64) bool {
	inSeq := binary.BigEndian.Uint16(b[2:])
	inTS := binary.BigEndian.Uint32(b[4:])
	inSSRC := binary.BigEndian.Uint32(b[8:])
	o.mu.Lock()
	if o.local {
		o.mu.Unlock()
		return false
	}
	if !o.srcOK || inSSRC != o.srcSSRC {
		nextSeq, nextTS := inSeq, inTS
		if o.started {
			nextSeq, nextTS = o.seq+1, o.ts+o.elapsedTS(now)
		}
		o.seqOff, o.tsOff = nextSeq-inSeq, nextTS-inTS
		o.srcSSRC, o.srcOK = inSSRC, true
		b[1] |= 0x80 // marker: new talkspurt / source
	}
	seq, ts := inSeq+o.seqOff, inTS+o.tsOff
	if !o.started || int16(seq-o.seq) > 0 {
		o.seq, o.ts, o.at, o.started = seq, ts, now, true
	}
	o.mu.Unlock()
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], o.ssrc)
	return true
}

// takeLocal hands the stream to a player; the first local packet continues the sequence.
func (o *outStream) takeLocal() {
	o.mu.Lock()
	o.local = true
	o.srcOK = false
	o.mu.Unlock()
}

// releaseLocal gives the stream back to the relay, which rebases on its next packet.
func (o *outStream) releaseLocal() {
	o.mu.Lock()
	o.local = false
	o.srcOK = false
	o.mu.Unlock()
}

// nextLocal returns the header fields of the next local packet covering tsStep samples after
// the previous local one. first marks the first packet after a switch: its timestamp follows
// the real elapsed time instead.
func (o *outStream) nextLocal(now int64, tsStep uint32, first bool) (seq uint16, ts, ssrc uint32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case !o.started:
	case first:
		o.seq++
		o.ts += o.elapsedTS(now)
	default:
		o.seq++
		o.ts += tsStep
	}
	o.started, o.at = true, now
	return o.seq, o.ts, o.ssrc
}
