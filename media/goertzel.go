package media

import "math"

// toneDetector finds DTMF tones in 8 kHz audio with the Goertzel algorithm over blocks of 205
// samples (the classic ~25.6 ms window that separates the eight DTMF frequencies). A digit is
// reported once when two consecutive blocks agree, and again only after a block without it.
type toneDetector struct {
	buf      [toneBlock]float64
	n        int
	cand     byte // digit seen in the previous block (0: none)
	reported byte // digit reported for the current tone (0: none)
}

const toneBlock = 205

var (
	toneRows  = [4]float64{697, 770, 852, 941}
	toneCols  = [4]float64{1209, 1336, 1477, 1633}
	toneKeys  = [4][4]byte{{'1', '2', '3', 'A'}, {'4', '5', '6', 'B'}, {'7', '8', '9', 'C'}, {'*', '0', '#', 'D'}}
	rowCoeffs = coeffs(toneRows)
	colCoeffs = coeffs(toneCols)
)

func coeffs(f [4]float64) (c [4]float64) {
	for i, v := range f {
		c[i] = 2 * math.Cos(2*math.Pi*v/8000)
	}
	return c
}

func goertzel(x []float64, coeff float64) float64 {
	var s1, s2 float64
	for _, v := range x {
		s := v + coeff*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// feed consumes samples and returns the digit newly detected in them, or 0.
func (t *toneDetector) feed(pcm []int16) (found byte) {
	for _, v := range pcm {
		t.buf[t.n] = float64(v)
		t.n++
		if t.n < toneBlock {
			continue
		}
		t.n = 0
		d := t.block()
		switch {
		case d == 0:
			t.cand, t.reported = 0, 0
		case d == t.cand && d != t.reported:
			t.reported = d
			found = d
		default:
			t.cand = d
		}
	}
	return found
}

// block classifies the buffered block: a digit, or 0.
func (t *toneDetector) block() byte {
	x := t.buf[:]
	var energy float64
	for _, v := range x {
		energy += v * v
	}
	if energy/toneBlock < 200*200 { // quieter than about -44 dBFS
		return 0
	}
	best := func(cs [4]float64) (int, float64, float64) {
		bi, b, second := 0, 0.0, 0.0
		for i, c := range cs {
			p := goertzel(x, c)
			if p > b {
				bi, second, b = i, b, p
			} else if p > second {
				second = p
			}
		}
		return bi, b, second
	}
	ri, rp, r2 := best(rowCoeffs)
	ci, cp, c2 := best(colCoeffs)
	norm := energy * toneBlock / 2 // a pure sine of this energy gives power == norm
	switch {
	case (rp+cp)/norm < 0.6: // most energy must be in the two tones (not speech)
		return 0
	case rp > cp*6.3 || cp > rp*6.3: // twist over 8 dB
		return 0
	case r2*6.3 > rp || c2*6.3 > cp: // another row/column within 8 dB
		return 0
	}
	return toneKeys[ri][ci]
}

// detectInband runs the detector on a G.711 payload (reader goroutine).
func (l *leg) detectInband(payload []byte, c Codec) {
	if len(payload) > len(l.pcm) {
		payload = payload[:len(l.pcm)]
	}
	if d := l.tones.feed(decode(l.pcm[:], payload, c)); d != 0 {
		l.call.deliverDTMF(DTMFEvent{Leg: l.id, Digit: d, Source: Inband})
	}
}

// ToneLevel is the share of pcm's energy at frequency hz (8 kHz samples), by the Goertzel
// algorithm: about 1 for a pure tone at hz, near 0 for silence or other frequencies, about
// 1/n for each of n equal tones summed. Tests use it to tell who hears whom.
func ToneLevel(pcm []int16, hz float64) float64 {
	var energy float64
	x := make([]float64, len(pcm))
	for i, v := range pcm {
		x[i] = float64(v)
		energy += x[i] * x[i]
	}
	if energy == 0 {
		return 0
	}
	return goertzel(x, 2*math.Cos(2*math.Pi*hz/8000)) / (energy * float64(len(pcm)) / 2)
}
