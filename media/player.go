package media

import (
	"context"
	"time"

	"github.com/pion/rtp"
)

const (
	frameDur     = 20 * time.Millisecond
	frameSamples = 160
	// stallLimit: when the pacer is this late (the process was starved), it re-bases its
	// schedule instead of bursting the missed frames.
	stallLimit = 200 * time.Millisecond
)

// Prompt is audio ready to play: 8 kHz 16-bit mono, pre-encoded in both G.711 laws.
// A Prompt is immutable and may be played on many legs at once.
type Prompt struct {
	Name       string
	ulaw, alaw []byte
}

// NewPrompt builds a prompt from 8 kHz 16-bit mono samples.
func NewPrompt(name string, pcm []int16) *Prompt {
	p := &Prompt{Name: name, ulaw: make([]byte, len(pcm)), alaw: make([]byte, len(pcm))}
	encode(p.ulaw, pcm, PCMU)
	encode(p.alaw, pcm, PCMA)
	return p
}

// Duration is the prompt's length.
func (p *Prompt) Duration() time.Duration {
	return time.Duration(len(p.ulaw)) * time.Second / 8000
}

func (p *Prompt) encoded(c Codec) []byte {
	if c == PCMA {
		return p.alaw
	}
	return p.ulaw
}

// PlayOptions tune Play.
type PlayOptions struct {
	Loop    bool // start again at the end (hold music) until ctx ends or a barge-in digit
	BargeIn bool // a DTMF digit on the leg stops playback (the digit is still on DTMF())
}

// PlayResult tells how a Play ended.
type PlayResult struct {
	Digit  byte // the barge-in digit, 0 if the prompt played to its end
	Frames int  // 20 ms frames sent
}

// playState is the active local source of a leg.
type playState struct {
	bargeIn bool
	digit   chan byte
}

// Play sends p to leg's peer in the leg's G.711 law, one 20 ms packet per frame paced from the
// engine clock against absolute deadlines (start + n×20 ms, so timer lateness does not
// accumulate), and blocks until the end, a barge-in digit, ctx's end (returns ctx.Err()) or
// Close (ErrClosed). Relayed audio to that leg is muted meanwhile; the outgoing stream keeps its
// SSRC and continues its sequence numbers and timestamps (invariant 2). Plays on one leg are
// serialised: cancel the running one (e.g. hold music) before starting another.
func (c *Call) Play(ctx context.Context, id Leg, p *Prompt, opt PlayOptions) (PlayResult, error) {
	return c.runLocal(ctx, id, opt.BargeIn, func(i int, h *rtp.Header, lp *legParams, payload []byte) (int, uint32) {
		src := p.encoded(lp.codec)
		n := len(src)
		if n == 0 {
			return 0, 0
		}
		off := i * frameSamples
		if opt.Loop {
			off %= n
		} else if off >= n {
			return 0, 0
		}
		k := copy(payload[:frameSamples], src[off:])
		if k < frameSamples { // pad the last frame with silence (or wrap for loops)
			fill := ulawSilence[:]
			if lp.codec == PCMA {
				fill = alawSilence[:]
			}
			if opt.Loop {
				copy(payload[k:frameSamples], src)
			} else {
				copy(payload[k:frameSamples], fill)
			}
		}
		h.PayloadType = lp.pt
		h.Marker = i == 0
		return frameSamples, frameSamples
	})
}

var ulawSilence, alawSilence [frameSamples]byte

func init() {
	for i := range ulawSilence {
		ulawSilence[i] = 0xFF
		alawSilence[i] = 0xD5
	}
}

// frameFunc fills frame i (header fields PayloadType/Marker and payload) and returns the payload
// length and the timestamp step to the next frame; length 0 ends the stream.
type frameFunc func(i int, h *rtp.Header, p *legParams, payload []byte) (n int, tsStep uint32)

// runLocal takes over leg id's outgoing stream and sends frames from next every 20 ms.
func (c *Call) runLocal(ctx context.Context, id Leg, bargeIn bool, next frameFunc) (PlayResult, error) {
	var res PlayResult
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return res, ErrClosed
	}
	l := c.legs[id]
	if l == nil || l.params.Load() == nil {
		c.mu.Unlock()
		return res, ErrNoLeg
	}
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()

	l.playMu.Lock()
	defer l.playMu.Unlock()
	st := &playState{bargeIn: bargeIn, digit: make(chan byte, 1)}
	l.play.Store(st)
	l.out.takeLocal()
	defer func() {
		l.play.Store(nil)
		l.out.releaseLocal()
	}()

	clock := c.e.clock
	var (
		buf   [12 + 480 + srtpOverhead]byte // room to encrypt in place
		h     rtp.Header
		timer Timer
		step  uint32
	)
	start := clock.Now()
	for i := 0; ; i++ {
		p := l.params.Load()
		if p == nil {
			return res, ErrNoLeg
		}
		h = rtp.Header{Version: 2}
		n, nextStep := next(i, &h, p, buf[12:])
		if n == 0 {
			return res, nil
		}
		now := clock.Now()
		h.SequenceNumber, h.Timestamp, h.SSRC = l.out.nextLocal(now.UnixNano(), step, i == 0)
		step = nextStep
		if _, err := h.MarshalTo(buf[:12]); err == nil {
			if id == LegA {
				c.tapRecord(1, p.codec, buf[12:12+n], now.UnixNano())
			}
			l.send(buf[:12+n])
		}
		res.Frames++

		due := start.Add(time.Duration(i+1) * frameDur)
		if late := now.Sub(due); late > stallLimit { // frame i counts as on time: no burst
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
		case <-ctx.Done():
			return res, ctx.Err()
		case <-c.done:
			return res, ErrClosed
		case d := <-st.digit:
			res.Digit = d
			return res, nil
		}
	}
}
