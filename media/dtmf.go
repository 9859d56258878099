package media

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pion/rtp"
)

// DTMFSource says how a digit reached ccswitch.
type DTMFSource uint8

// DTMF sources.
const (
	RFC4733 DTMFSource = iota + 1 // telephone-event RTP packets
	SIPInfo                       // SIP INFO body, handed over with InjectDTMF
	Inband                        // tones in the G.711 audio (Goertzel detector)
)

func (s DTMFSource) String() string {
	switch s {
	case RFC4733:
		return "rfc4733"
	case SIPInfo:
		return "info"
	case Inband:
		return "inband"
	}
	return "unknown"
}

// DTMFEvent is one key press.
type DTMFEvent struct {
	Leg      Leg
	Digit    byte // '0'-'9', '*', '#', 'A'-'D'
	Source   DTMFSource
	Duration time.Duration // from SIP INFO; 0 when unknown at delivery time
}

const dtmfDigits = "0123456789*#ABCD"

// dtmfEvent maps a digit to its RFC 4733 event code.
func dtmfEvent(d byte) (uint8, bool) {
	if d >= 'a' && d <= 'd' {
		d -= 'a' - 'A'
	}
	i := strings.IndexByte(dtmfDigits, d)
	return uint8(i), i >= 0
}

// dtmfReceiver turns RFC 4733 packets into one digit per event (invariant 5): every packet of an
// event (start, updates, the end packet and its retransmits) carries the event's RTP timestamp,
// so a digit is reported on the first packet with a new (SSRC, timestamp) and the rest ignored.
// An event longer than the 16-bit duration field (about 8 s) continues in a new segment whose
// timestamp is the previous one plus its duration (RFC 4733 §2.5.1.5): not a new digit.
type dtmfReceiver struct {
	seen     bool
	ssrc, ts uint32
	code     uint8
	dur      uint16 // latest duration of the current event
	ended    bool   // the current event's end packet was seen
}

// packet returns the digit when this telephone-event payload starts a new event.
func (r *dtmfReceiver) packet(payload []byte, ssrc, ts uint32) (byte, bool) {
	if len(payload) < 4 || payload[0] > 15 {
		return 0, false // short, or a non-DTMF event (flash, tones)
	}
	code, end, dur := payload[0], payload[1]&0x80 != 0, uint16(payload[2])<<8|uint16(payload[3])
	if r.seen && r.ssrc == ssrc && r.ts == ts {
		r.ended = r.ended || end
		r.dur = max(r.dur, dur)
		return 0, false
	}
	segment := r.seen && r.ssrc == ssrc && !r.ended && code == r.code && ts == r.ts+uint32(r.dur)
	r.seen, r.ssrc, r.ts, r.code, r.dur, r.ended = true, ssrc, ts, code, dur, end
	if segment {
		return 0, false
	}
	return dtmfDigits[code], true
}

// ParseDTMFInfo reads the body of a SIP INFO carrying a key press: application/dtmf-relay
// ("Signal=5\r\nDuration=160", duration in ms) or application/dtmf (the digit alone, or an event
// code "5"/"10" for '*'). The content type may carry parameters.
func ParseDTMFInfo(contentType string, body []byte) (DTMFEvent, error) {
	ct, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	ct = strings.TrimSpace(ct)
	ev := DTMFEvent{Source: SIPInfo}
	switch ct {
	case "application/dtmf-relay":
		var sig string
		for _, line := range bytes.Split(body, []byte("\n")) {
			k, v, ok := strings.Cut(strings.TrimSpace(string(line)), "=")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				sig = strings.TrimSpace(v)
			case "duration":
				if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 {
					ev.Duration = time.Duration(ms) * time.Millisecond
				}
			}
		}
		d, err := infoDigit(sig)
		if err != nil {
			return DTMFEvent{}, err
		}
		ev.Digit = d
	case "application/dtmf":
		d, err := infoDigit(strings.TrimSpace(string(body)))
		if err != nil {
			return DTMFEvent{}, err
		}
		ev.Digit = d
	default:
		return DTMFEvent{}, fmt.Errorf("media: parse dtmf info: %w: content type %q", ErrBadDTMF, contentType)
	}
	return ev, nil
}

func infoDigit(s string) (byte, error) {
	if len(s) == 1 {
		if _, ok := dtmfEvent(s[0]); ok {
			d := s[0]
			if d >= 'a' && d <= 'd' {
				d -= 'a' - 'A'
			}
			return d, nil
		}
	}
	if n, err := strconv.Atoi(s); err == nil && n >= 10 && n <= 15 { // event code form
		return dtmfDigits[n], nil
	}
	return 0, fmt.Errorf("media: parse dtmf info: %w: signal %q", ErrBadDTMF, s)
}

// InjectDTMF delivers a digit that arrived out of band (SIP INFO on leg ev.Leg, parsed with
// ParseDTMFInfo) exactly like an RFC 4733 one: it interrupts a barge-in Play on that leg and
// appears on DTMF(). To forward it to the other leg as RFC 4733, call SendDTMF as well.
func (c *Call) InjectDTMF(ev DTMFEvent) {
	if ev.Source == 0 {
		ev.Source = SIPInfo
	}
	c.deliverDTMF(ev)
}

// deliverDTMF interrupts a barge-in player on the leg, then queues the event without blocking.
func (c *Call) deliverDTMF(ev DTMFEvent) {
	if l := c.live[ev.Leg].Load(); l != nil {
		if st := l.play.Load(); st != nil && st.bargeIn {
			select {
			case st.digit <- ev.Digit:
			default:
			}
		}
	}
	select {
	case c.dtmf <- ev:
	default:
		c.dtmfDropped.Add(1)
	}
}

// SendDTMF sends digit to leg's peer as RFC 4733 telephone-events (one packet per 20 ms with a
// growing duration, the last one, with the end bit, three times), replacing relayed audio meanwhile. It
// blocks for about duration (minimum 40 ms) and fails with ErrBadDTMF when the leg did not
// negotiate telephone-event.
func (c *Call) SendDTMF(ctx context.Context, id Leg, digit byte, duration time.Duration) error {
	code, ok := dtmfEvent(digit)
	if !ok {
		return fmt.Errorf("media: send dtmf: %w: digit %q", ErrBadDTMF, digit)
	}
	l := c.live[id].Load()
	if l == nil || l.params.Load() == nil {
		return ErrNoLeg
	}
	if l.params.Load().dtmfPT < 0 {
		return fmt.Errorf("media: send dtmf: %w: leg %v has no telephone-event", ErrBadDTMF, id)
	}
	frames := int(duration / frameDur)
	if frames < 2 {
		frames = 2
	}
	const endRepeats = 3
	_, err := c.runLocal(ctx, id, false, func(i int, h *rtp.Header, p *legParams, payload []byte) (int, uint32) {
		if i >= frames+endRepeats-1 || p.dtmfPT < 0 {
			return 0, 0
		}
		dur := (i + 1) * frameSamples
		end := i >= frames-1
		if end {
			dur = frames * frameSamples
		}
		h.PayloadType = uint8(p.dtmfPT)
		h.Marker = i == 0
		payload[0] = code
		payload[1] = 10 // volume -10 dBm0
		if end {
			payload[1] |= 0x80
		}
		payload[2], payload[3] = byte(dur>>8), byte(dur)
		return 4, 0 // all packets of an event share its timestamp
	})
	return err
}
