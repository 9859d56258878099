package media

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
)

// legParams is the negotiated state of a leg; replaced as a whole (atomic pointer) on each
// offer/answer so the relay reads it without locks.
type legParams struct {
	remote   netip.AddrPort // the peer's SDP address; invalid: do not send until latched
	version  uint64         // o= version of the peer's SDP: a new one may re-latch
	codec    Codec          // law the peer sends and receives
	pt       uint8          // its payload type
	dtmfPT   int            // telephone-event payload type, -1 if not negotiated
	dir      Direction      // the peer's direction
	rejected bool           // audio refused (port 0): nothing flows
	srtp     *inCrypto      // the peer's SRTP key (nil: plain RTP); ccswitch encrypts with leg.enc
}

// sendOK reports whether ccswitch may send media to the peer (it said it receives).
func (p *legParams) sendOK() bool { return p != nil && !p.rejected && p.dir.receives() }

// sourceFilter is who may send RTP to a leg before it latches (invariant 3): the peer's
// signalling IP and the IP its SDP names, any port; anyone with Config.LatchAnySource.
type sourceFilter struct {
	signal, sdp netip.Addr
	any         bool
}

func (f *sourceFilter) ok(ip netip.Addr) bool {
	return f != nil && (f.any || (ip == f.signal && ip.IsValid()) || (ip == f.sdp && ip.IsValid()))
}

// leg is one side of a call: ccswitch's socket facing one peer.
type leg struct {
	call *Call
	id   Leg
	conn *net.UDPConn
	rtcp *net.UDPConn // bound, never read (see portPool); nil with rtcp-mux
	port int

	// SDP state, guarded by call.mu.
	sessID, version uint64
	lastSDP         string
	sdpIP           netip.Addr // the IP the peer's last SDP named
	key             *localKey  // ccswitch's SRTP key for this leg (nil until SRTP is offered or answered)

	params       atomic.Pointer[legParams]
	allow        atomic.Pointer[sourceFilter]
	negotiatedAt atomic.Int64 // clock ns of the last setParams

	// Latching (invariant 3): written by this leg's reader, read by the other leg's reader,
	// cleared by a new SDP.
	latched atomic.Pointer[netip.AddrPort]
	lastRx  atomic.Int64 // clock ns of the last RTP packet accepted from the peer

	in        inStats // reader goroutine only, published through stats
	stats     legCounters
	dtmf      dtmfReceiver // reader goroutine only
	tones     *toneDetector
	pcm       [480]int16 // decode scratch for in-band detection (reader only)
	hdr       rtp.Header // SRTP decryption scratch (reader only)
	loggedBad int64      // clock ns of the last stranger/auth log line (reader only)

	out outStream
	enc outCrypto // SRTP toward the peer (relay of the other leg and players)

	playMu sync.Mutex // serialises Play/SendDTMF on this leg
	play   atomic.Pointer[playState]

	mix atomic.Pointer[mixInput] // a Monitor's input for what this leg receives (nil: none)
}

// setParams installs a new negotiation result and forgets the latched source when the peer's
// SDP changed (a new address, or a new o= version: a re-INVITE from a moved or re-NATed phone).
func (l *leg) setParams(p *legParams) {
	old := l.params.Swap(p)
	if old == nil || p == nil || old.remote != p.remote || old.version != p.version {
		l.latched.Store(nil)
	}
	l.negotiatedAt.Store(l.call.e.clock.Now().UnixNano())
}

// refreshAllowLocked recomputes who may send to the leg from the peer's signalling address and
// its last SDP address; a latched source that is no longer allowed is forgotten. Caller holds
// call.mu.
func (l *leg) refreshAllowLocked() {
	f := &sourceFilter{signal: l.call.peers[l.id].Signal, sdp: l.sdpIP, any: l.call.e.cfg.LatchAnySource}
	l.allow.Store(f)
	if a := l.latched.Load(); a != nil && !f.ok(a.Addr()) {
		l.latched.Store(nil)
	}
}

// dest is where packets to this leg's peer go: the latched source, else the SDP address.
func (l *leg) dest(p *legParams) netip.AddrPort {
	if a := l.latched.Load(); a != nil {
		return *a
	}
	return p.remote
}

func (l *leg) readLoop() {
	defer l.call.wg.Done()
	buf := make([]byte, 1500+srtpOverhead)
	for {
		n, src, err := l.conn.ReadFromUDPAddrPort(buf[:1500])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		// A socket bound to an unspecified address is dual-stack: IPv4 peers read as
		// ::ffff:a.b.c.d.
		src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
		l.handle(buf[:n], src)
	}
}

// handle processes one datagram from the peer: the relay hot path (invariant 4). No
// allocation except when the leg latches, and when a stranger is logged.
func (l *leg) handle(b []byte, src netip.AddrPort) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return // not RTP (STUN, garbage)
	}
	pt := b[1] & 0x7f
	if pt >= 64 && pt <= 95 {
		return // RTCP multiplexed on the RTP port (RFC 5761)
	}
	c := l.call
	cur := l.latched.Load()
	if cur != nil {
		if *cur != src {
			l.stranger(src) // never re-latch while the SDP stands
			return
		}
	} else if !l.allow.Load().ok(src.Addr()) {
		l.stranger(src)
		return
	}
	p := l.params.Load()
	if p == nil || p.rejected {
		return
	}
	if p.srtp != nil {
		out, err := p.srtp.ctx.DecryptRTP(b, b, &l.hdr)
		if err != nil {
			l.authFailed(src)
			return
		}
		b = out
	}
	if cur == nil { // the first packet from an allowed address (authenticated, with SRTP)
		a := src
		l.latched.CompareAndSwap(nil, &a)
	}
	now := c.e.clock.Now().UnixNano()
	l.lastRx.Store(now)
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
		if in := l.mix.Load(); in != nil {
			in.push(payload, p.codec)
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
	o.write(b, dst, op)
}

// write sends one packet (plain RTP, header rewritten) to the peer at dst, encrypting it when
// the leg negotiated SRTP; b needs srtpOverhead bytes of spare capacity.
func (l *leg) write(b []byte, dst netip.AddrPort, p *legParams) {
	if p.srtp != nil {
		var ok bool
		if b, ok = l.enc.encrypt(b); !ok {
			return
		}
	}
	// Counted before it goes, so that whoever receives it (a peer comparing counts, a test)
	// finds it counted; a write the kernel refused is taken back.
	l.stats.addOut(len(b))
	if _, err := l.conn.WriteToUDPAddrPort(b, dst); err != nil {
		l.stats.undoOut(len(b))
	}
}

// logBadEvery bounds how often one leg hands a stranger or an SRTP failure to the rate
// limited logger (which also limits per source): the hot path stays cheap under a flood.
const logBadEvery = int64(10e9)

// stranger counts (and now and then logs) a packet from neither the peer's signalling nor its
// SDP address, or from another address than the latched one (invariant 3). Before anything is
// known of the peer (a callee's leg before its answer) packets are counted but not logged:
// the callee's own first packets can beat its answer there.
func (l *leg) stranger(src netip.AddrPort) {
	l.stats.strangers.Add(1)
	e := l.call.e
	e.m.strangers.Inc()
	if f := l.allow.Load(); f == nil || !f.signal.IsValid() && !f.sdp.IsValid() && !f.any {
		return
	}
	if now := e.clock.Now().UnixNano(); l.loggedBad == 0 || now-l.loggedBad >= logBadEvery {
		l.loggedBad = now
		e.rlog.Warn("rtp-stranger|"+src.Addr().String(), "RTP from a stranger dropped",
			"call_id", l.call.opts.ID, "leg", l.id.String(), "source", src.String(), "port", l.port)
	}
}

// authFailed counts (and now and then logs) an SRTP packet that failed authentication or the
// replay check.
func (l *leg) authFailed(src netip.AddrPort) {
	l.stats.srtpFailed.Add(1)
	e := l.call.e
	e.m.srtpAuth.Inc()
	if now := e.clock.Now().UnixNano(); l.loggedBad == 0 || now-l.loggedBad >= logBadEvery {
		l.loggedBad = now
		e.rlog.Warn("srtp-auth|"+src.Addr().String(), "SRTP packet failed authentication",
			"call_id", l.call.opts.ID, "leg", l.id.String(), "source", src.String())
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

// send writes one locally generated packet to leg l's peer, honouring direction and latching
// (encrypted on an SRTP leg: b needs srtpOverhead bytes of spare capacity).
func (l *leg) send(b []byte) {
	p := l.params.Load()
	if !p.sendOK() {
		return
	}
	dst := l.dest(p)
	if !dst.IsValid() {
		return
	}
	l.write(b, dst, p)
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
	mixed    bool   // a Monitor's mixer owns the stream: relayed packets are dropped
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
	if o.local || o.mixed {
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

// setMixed hands the stream to a Monitor's mixer (on) or gives it back to the relay, which
// rebases on its next packet.
func (o *outStream) setMixed(on bool) {
	o.mu.Lock()
	o.mixed = on
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
