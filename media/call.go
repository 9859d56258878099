package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Leg names a side of a call: A is the caller (the leg ccswitch answered), B the callee.
type Leg int

// The two legs.
const (
	LegA Leg = 0
	LegB Leg = 1
)

func (l Leg) String() string {
	if l == LegA {
		return "A"
	}
	return "B"
}

func (l Leg) other() Leg { return 1 - l }

// CallOptions configures a call.
type CallOptions struct {
	// ID appears in logs as call_id.
	ID string
	// OnTimeout is called at most once per call, from the engine's watchdog goroutine, when leg
	// has received no RTP for Config.RTPTimeout although its peer's SDP says it sends. The B2BUA
	// sends BYE on both legs and closes the call; the callback must not block for long.
	OnTimeout func(c *Call, leg Leg)
	// InbandDTMF runs a Goertzel detector on the decoded audio of both legs, for carriers that
	// send DTMF as tones; its digits arrive on DTMF() with Source Inband.
	InbandDTMF bool
}

// Call anchors the media of one call: one UDP socket per leg, a reader goroutine per socket
// relaying to the other leg. See doc.go for the call order and invariants.
type Call struct {
	e    *Engine
	opts CallOptions

	mu      sync.Mutex // guards the negotiation state below and leg creation
	legs    [2]*leg
	live    [2]atomic.Pointer[leg] // same legs, for the relay's lock-free reads
	pending *pending
	peers   [2]Peer // what the SIP layer told about each leg (SetPeer)
	closed  bool
	monitor *Monitor // the supervisor joined to the call, if any

	dtmf        chan DTMFEvent
	dtmfDropped atomic.Uint64
	rec         atomic.Pointer[recorder]
	timedOut    atomic.Bool
	done        chan struct{}
	wg          sync.WaitGroup
}

// pending is the offer/answer exchange in progress.
type pending struct {
	from     Leg        // the leg whose offer is forwarded; -1 when ccswitch made the offer
	to       Leg        // the leg the offer was sent to
	offer    *remoteSDP // the forwarded offer (nil when ccswitch made it)
	offered  localAudio // what ccswitch offered to leg to
	answered bool       // an answer came; a repeat (183 then 200) recomputes the same result
}

func newCall(e *Engine, opts CallOptions) *Call {
	return &Call{e: e, opts: opts, dtmf: make(chan DTMFEvent, 32), done: make(chan struct{})}
}

// DTMF delivers the digits received on either leg (RFC 4733, SIP INFO via InjectDTMF, in-band).
// The channel holds 32 events; when the reader is slower, events are dropped and counted in
// Stats().DTMFDropped. It is never closed: select on it together with your own context.
func (c *Call) DTMF() <-chan DTMFEvent { return c.dtmf }

// OfferFromA is OfferFrom(LegA, sdp): the caller's INVITE offer becomes the offer for the callee.
func (c *Call) OfferFromA(sdpA []byte) (offerForB []byte, err error) { return c.OfferFrom(LegA, sdpA) }

// AnswerFromB is AnswerFrom(LegB, sdp): the callee's answer becomes the answer for the caller.
func (c *Call) AnswerFromB(sdpB []byte) (answerForA []byte, err error) {
	return c.AnswerFrom(LegB, sdpB)
}

// OfferFrom takes an offer received on leg from (an INVITE or re-INVITE) and returns the offer
// to send on the other leg, pointing at ccswitch's socket for that leg. The offer to the other
// leg lists the G.711 laws of the original in its order, then the other law (so ccswitch can
// transcode if the callee prefers it), then telephone-event; the direction is passed through.
// SRTP is decided per leg (see SetPeer): the offer is taken by the sender's policy, and the
// offer to the other leg is RTP/SAVP with ccswitch's own key when that leg requires SRTP (or
// already uses it), else RTP/AVP; both offer rtcp-mux.
// Errors: ErrBadSDP, ErrNoCommonCodec, ErrSRTPRequired, ErrNoCommonCrypto (answer 488),
// ErrOfferPending (491), ErrNoPorts (503).
func (c *Call) OfferFrom(from Leg, body []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	if c.pending != nil && !c.pending.answered {
		return nil, ErrOfferPending
	}
	r, err := parseSDP(body, wantFor(c.peers[from].SRTP))
	if err != nil {
		return nil, c.refusedLocked(from, err)
	}
	to := from.other()
	lf, err := c.legLocked(from, r.mux)
	if err != nil {
		return nil, err
	}
	lt, err := c.legLocked(to, false)
	if err != nil {
		return nil, err
	}
	lf.noteSDPLocked(r)
	a := localAudio{port: lt.port, dtmfPT: r.dtmfPT, dir: r.dir, mux: true}
	if a.dtmfPT < 0 {
		a.dtmfPT = DefaultDTMFPayloadType
	}
	seen := map[Codec]bool{}
	for _, f := range r.formats {
		if !seen[f.codec] {
			seen[f.codec] = true
			a.formats = append(a.formats, format{f.codec.staticPT(), f.codec})
		}
	}
	for _, k := range []Codec{PCMU, PCMA} {
		if !seen[k] {
			a.formats = append(a.formats, format{k.staticPT(), k})
		}
	}
	c.offerCryptoLocked(lt, &a)
	c.pending = &pending{from: from, to: to, offer: r, offered: a}
	return lt.buildSDP(a, nil, 0), nil
}

// AnswerFrom takes the answer received on leg from to the offer previously sent to it, starts
// relaying with the negotiated codecs, and returns the answer for the other leg (nil when
// ccswitch made the offer itself with OfferTo). Calling it again with the answer of the final
// response after a provisional one (183 then 200) is allowed and returns the updated answer.
// If the answer rejects audio (port 0), the returned answer rejects it too. An answer to an
// SRTP offer must take ccswitch's crypto (ErrNoCommonCrypto otherwise); an answer to a plain
// offer is plain whatever crypto it carries.
func (c *Call) AnswerFrom(from Leg, body []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	p := c.pending
	if p == nil || p.to != from {
		return nil, ErrNoPendingOffer
	}
	want := noSRTP
	if p.offered.crypto != nil {
		want = needSRTP
	}
	r, err := parseSDP(body, want)
	if err != nil {
		return nil, c.refusedLocked(from, err)
	}
	// Leg "from" (Y) uses the first format of its answer that we offered.
	var fy format
	found := false
	for _, f := range r.formats {
		for _, o := range p.offered.formats {
			if o.codec == f.codec {
				fy, found = f, true
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("media: answer from %v: %w: answer chose no codec we offered", from, ErrNoCommonCodec)
	}
	ly := c.legs[from]
	ydtmf := r.dtmfPT
	if p.offered.dtmfPT < 0 {
		ydtmf = -1
	}
	var yin *inCrypto
	if oc := p.offered.crypto; oc != nil && !r.rejected {
		var cr *sdesCrypto
		for i := range r.crypto {
			if r.crypto[i].tag == oc.tag && r.crypto[i].suite == oc.suite {
				cr = &r.crypto[i]
			}
		}
		if cr == nil {
			return nil, c.refusedLocked(from, fmt.Errorf("media: answer from %v: %w: it does not take crypto %d (%v)", from, ErrNoCommonCrypto, oc.tag, oc.suite))
		}
		if yin, err = ly.secureLocked(cr); err != nil {
			return nil, err
		}
	}
	ly.noteSDPLocked(r)
	ly.setParams(&legParams{remote: r.addr, version: r.version, codec: fy.codec, pt: fy.pt, dtmfPT: ydtmf, dir: r.dir, rejected: r.rejected, srtp: yin})
	if r.mux {
		ly.dropRTCPLocked()
	}
	p.answered = true
	if p.offer == nil {
		return nil, nil
	}
	// Leg X (the offerer) keeps its codec if the callee chose one it offered; else transcode.
	lx := c.legs[p.from]
	x := p.offer
	fx, ok := x.find(fy.codec)
	if !ok {
		fx = x.formats[0]
	}
	port := lx.port
	if r.rejected {
		port = 0
	}
	xa := localAudio{port: port, formats: []format{fx}, dtmfPT: x.dtmfPT, dir: r.dir, savp: x.savp, mux: x.mux}
	var xin *inCrypto
	if x.secure() && !r.rejected {
		if xin, err = lx.secureLocked(&x.crypto[0]); err != nil {
			return nil, err
		}
		xa.crypto = lx.answerCryptoLocked(&x.crypto[0])
	}
	lx.setParams(&legParams{remote: x.addr, version: x.version, codec: fx.codec, pt: fx.pt, dtmfPT: x.dtmfPT, dir: x.dir, rejected: r.rejected, srtp: xin})
	if x.mux {
		lx.dropRTCPLocked()
	}
	return lx.buildSDP(xa, x.sd, x.audio), nil
}

// AnswerLocal answers an offer received on leg from with ccswitch itself as the endpoint: for
// the IVR (leg A answered before any leg B exists) or for a hold re-INVITE the B2BUA chooses not
// to forward. ccswitch picks the offer's first G.711 law and accepts telephone-event if offered;
// the direction is the reverse of the offer's (sendonly → recvonly). SRTP and rtcp-mux are
// accepted as the leg's policy allows (see SetPeer). If the other leg is bridged, relaying
// continues with transcoding if the laws now differ.
func (c *Call) AnswerLocal(from Leg, body []byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	if c.pending != nil && !c.pending.answered {
		return nil, ErrOfferPending
	}
	r, err := parseSDP(body, wantFor(c.peers[from].SRTP))
	if err != nil {
		return nil, c.refusedLocked(from, err)
	}
	l, err := c.legLocked(from, r.mux)
	if err != nil {
		return nil, err
	}
	f := r.formats[0]
	if cur := l.params.Load(); cur != nil { // keep the current law if still offered
		if g, ok := r.find(cur.codec); ok {
			f = g
		}
	}
	a := localAudio{port: l.port, formats: []format{f}, dtmfPT: r.dtmfPT, dir: r.dir.reverse(), savp: r.savp, mux: r.mux}
	var in *inCrypto
	if r.secure() && !r.rejected {
		if in, err = l.secureLocked(&r.crypto[0]); err != nil {
			return nil, err
		}
		a.crypto = l.answerCryptoLocked(&r.crypto[0])
	}
	l.noteSDPLocked(r)
	l.setParams(&legParams{remote: r.addr, version: r.version, codec: f.codec, pt: f.pt, dtmfPT: r.dtmfPT, dir: r.dir, srtp: in})
	if r.mux {
		l.dropRTCPLocked()
	}
	c.pending = nil
	return l.buildSDP(a, r.sd, r.audio), nil
}

// OfferTo makes an offer from ccswitch to leg to: the INVITE to an agent after the IVR (the
// caller's law first, then the other, then telephone-event), or a re-INVITE (dir SendOnly to put
// the leg on hold, SendRecv to resume). It is RTP/SAVP with ccswitch's key when the leg requires
// SRTP or already uses it (see SetPeer). The leg's answer goes to AnswerFrom(to, …), which then
// returns nil.
func (c *Call) OfferTo(to Leg, dir Direction) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.checkOpenLocked(); err != nil {
		return nil, err
	}
	if c.pending != nil && !c.pending.answered {
		return nil, ErrOfferPending
	}
	l, err := c.legLocked(to, false)
	if err != nil {
		return nil, err
	}
	first := PCMU
	if ol := c.legs[to.other()]; ol != nil {
		if p := ol.params.Load(); p != nil {
			first = p.codec
		}
	} else if p := l.params.Load(); p != nil {
		first = p.codec
	}
	second := PCMA
	if first == PCMA {
		second = PCMU
	}
	a := localAudio{port: l.port, dtmfPT: DefaultDTMFPayloadType, dir: dir, mux: true,
		formats: []format{{first.staticPT(), first}, {second.staticPT(), second}}}
	if p := l.params.Load(); p != nil && p.dtmfPT >= 0 {
		a.dtmfPT = p.dtmfPT
	}
	c.offerCryptoLocked(l, &a)
	c.pending = &pending{from: -1, to: to, offered: a}
	return l.buildSDP(a, nil, 0), nil
}

// SetPeer tells the call who is on leg id: the IP address its signalling comes from (RTP is
// accepted from it and from its SDP address, invariant 3) and its SRTP policy. The B2BUA calls
// it before the first offer or answer of the leg, and again when the leg's signalling source
// moves (a re-INVITE from another address). A leg nobody told about accepts RTP only from its
// SDP address and has policy SRTPOptional.
func (c *Call) SetPeer(id Leg, p Peer) {
	p.Signal = p.Signal.Unmap()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.peers[id] = p
	if l := c.legs[id]; l != nil {
		l.refreshAllowLocked()
	}
}

// offerCryptoLocked makes a (ccswitch's offer to leg l) SRTP when the leg requires it, or
// already uses it and does not refuse it.
func (c *Call) offerCryptoLocked(l *leg, a *localAudio) {
	secure := false
	switch c.peers[l.id].SRTP {
	case SRTPRequired:
		secure = true
	case SRTPOptional:
		p := l.params.Load()
		secure = p != nil && p.srtp != nil
	}
	if !secure {
		return
	}
	k := l.keyLocked(aesCM128SHA1_80)
	a.savp = true
	a.crypto = &sdesCrypto{tag: 1, suite: k.suite, material: k.material}
}

// refusedLocked counts and logs an SRTP refusal (488); other errors pass through.
func (c *Call) refusedLocked(id Leg, err error) error {
	if errors.Is(err, ErrSRTPRequired) || errors.Is(err, ErrNoCommonCrypto) {
		c.e.m.srtpRefused.Inc()
		src := c.peers[id].Signal.String()
		c.e.rlog.Warn("srtp-refused|"+src, "SDP refused: SRTP policy", "call_id", c.opts.ID,
			"leg", id.String(), "source", src, "srtp", c.peers[id].SRTP.String(), "error", err)
	}
	return err
}

// CancelOffer forgets the outstanding offer after the other side refused it (e.g. a re-INVITE
// answered 488/491): the previous negotiation stays in force.
func (c *Call) CancelOffer() {
	c.mu.Lock()
	c.pending = nil
	c.mu.Unlock()
}

// LocalAddr returns ccswitch's RTP address for leg l (invalid if the leg has no socket yet).
func (c *Call) LocalAddr(l Leg) netip.AddrPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.legs[l] == nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(c.e.localIP(), uint16(c.legs[l].port))
}

// Codec returns the law negotiated on leg l (0 when not negotiated).
func (c *Call) Codec(l Leg) Codec {
	c.mu.Lock()
	lg := c.legs[l]
	c.mu.Unlock()
	if lg == nil {
		return 0
	}
	if p := lg.params.Load(); p != nil {
		return p.codec
	}
	return 0
}

func (c *Call) checkOpenLocked() error {
	if c.closed {
		return ErrClosed
	}
	return nil
}

// legLocked returns leg id, opening its socket and starting its reader on first use; a leg
// whose peer multiplexes RTCP (mux) gets no RTCP port.
func (c *Call) legLocked(id Leg, mux bool) (*leg, error) {
	if l := c.legs[id]; l != nil {
		return l, nil
	}
	conn, rtcp, port, err := c.e.pool.listen(mux)
	if err != nil {
		if errors.Is(err, ErrNoPorts) {
			c.e.m.portsOut.Inc()
			c.e.rlog.Warn("ports-exhausted", "RTP port range exhausted: call refused",
				"call_id", c.opts.ID, "leg", id.String(), "rtp_ports", fmt.Sprintf("%d-%d", c.e.cfg.PortMin, c.e.cfg.PortMax))
		}
		return nil, fmt.Errorf("media: open leg %v: %w", id, err)
	}
	_ = conn.SetReadBuffer(c.e.cfg.ReadBuffer)
	l := &leg{call: c, id: id, conn: conn, rtcp: rtcp, port: port, sessID: rand.Uint64() >> 2}
	l.out.ssrc = rand.Uint32()
	l.out.seq = uint16(rand.Uint32())
	l.out.ts = rand.Uint32()
	l.in.reset()
	if c.opts.InbandDTMF {
		l.tones = &toneDetector{}
	}
	l.refreshAllowLocked()
	c.legs[id] = l
	c.live[id].Store(l)
	c.wg.Add(1)
	go l.readLoop()
	return l, nil
}

// noteSDPLocked takes the address the peer's new SDP names as an allowed RTP source.
func (l *leg) noteSDPLocked(r *remoteSDP) {
	if r.addr.IsValid() {
		l.sdpIP = r.addr.Addr()
	}
	l.refreshAllowLocked()
}

// keyLocked returns ccswitch's key for the leg in suite s (a new one when the suite changes).
func (l *leg) keyLocked(s suite) *localKey {
	if l.key == nil || l.key.suite != s {
		l.key = newLocalKey(s)
	}
	return l.key
}

// secureLocked prepares SRTP on the leg for the peer's crypto cr: the context that decrypts
// what the peer sends (kept when the key is unchanged) and ccswitch's own key, in cr's suite,
// for what ccswitch sends.
func (l *leg) secureLocked(cr *sdesCrypto) (*inCrypto, error) {
	var prev *inCrypto
	if p := l.params.Load(); p != nil {
		prev = p.srtp
	}
	in, err := newInCrypto(cr, prev)
	if err != nil {
		return nil, err
	}
	if err := l.enc.use(l.keyLocked(cr.suite)); err != nil {
		return nil, err
	}
	return in, nil
}

// answerCryptoLocked is ccswitch's a=crypto answering the peer's cr: same tag and suite,
// ccswitch's key.
func (l *leg) answerCryptoLocked(cr *sdesCrypto) *sdesCrypto {
	k := l.keyLocked(cr.suite)
	return &sdesCrypto{tag: cr.tag, suite: k.suite, material: k.material}
}

// dropRTCPLocked gives the leg's RTCP port back once rtcp-mux is agreed.
func (l *leg) dropRTCPLocked() {
	if l.rtcp == nil {
		return
	}
	l.rtcp.Close()
	l.rtcp = nil
	l.call.e.pool.release(l.port + 1)
}

// Close stops playback, relaying and recording, releases the ports and returns after the
// call's goroutines have ended. It is safe to call more than once.
func (c *Call) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.timedOut.Store(true) // OnTimeout is decided by a CAS on this flag: Close wins or loses it
	close(c.done)
	legs := c.legs
	c.mu.Unlock()
	for _, l := range legs {
		if l != nil {
			l.conn.Close()
			if l.rtcp != nil {
				l.rtcp.Close()
			}
		}
	}
	c.wg.Wait() // readers and players
	for _, l := range legs {
		if l != nil {
			c.e.pool.release(l.port)
			if l.rtcp != nil {
				c.e.pool.release(l.port + 1)
			}
		}
	}
	err := c.StopRecording()
	c.e.forget(c)
	return err
}

func (c *Call) leg(id Leg) *leg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.legs[id]
}

func (c *Call) checkTimeout(now, timeout int64) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed || c.timedOut.Load() || c.opts.OnTimeout == nil {
		return
	}
	for id := LegA; id <= LegB; id++ {
		l := c.leg(id)
		if l == nil {
			continue
		}
		p := l.params.Load()
		if p == nil || !p.dir.sends() || p.rejected {
			continue
		}
		last := max(l.lastRx.Load(), l.negotiatedAt.Load())
		if now-last >= timeout && c.timedOut.CompareAndSwap(false, true) {
			c.e.log.Info("rtp timeout", "call_id", c.opts.ID, "leg", id.String(), "silent", time.Duration(now-last))
			c.opts.OnTimeout(c, id)
			return
		}
	}
}
