package media

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// readCapture reads testdata/*.hex: one RTP packet per line in hex, # comments.
func readCapture(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkts [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<16)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		b, err := hex.DecodeString(line)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	return pkts
}

// TestRFC4733CaptureOneDigitPerEvent replays the capture over UDP to leg A: each event has a
// start packet, updates and three end packets, and "5" is pressed twice (invariant 5).
func TestRFC4733CaptureOneDigitPerEvent(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a := newPhone(t)
	if _, err := c.AnswerLocal(LegA, a.sdp(1, "0 101", "")); err != nil {
		t.Fatal(err)
	}
	pkts := readCapture(t, "testdata/rfc4733_1_5_5.hex")
	for _, p := range pkts {
		if _, err := a.conn.WriteToUDPAddrPort(p, c.LocalAddr(LegA)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all packets handled", func() bool { return c.Stats().A.PacketsIn == uint64(len(pkts)) })
	var got []string
	for len(c.DTMF()) > 0 {
		ev := <-c.DTMF()
		if ev.Leg != LegA || ev.Source != RFC4733 {
			t.Fatalf("event %+v", ev)
		}
		got = append(got, string(ev.Digit))
	}
	if strings.Join(got, " ") != "1 5 5" {
		t.Fatalf("digits %q, want \"1 5 5\"", got)
	}
	if st := c.Stats(); st.A.Lost != 0 {
		t.Fatalf("capture has no gap, lost %d", st.A.Lost)
	}
}

func TestParseDTMFInfo(t *testing.T) {
	tests := []struct {
		ct, body string
		digit    byte
		dur      time.Duration
		err      bool
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', 160 * time.Millisecond, false},
		{"Application/DTMF-Relay; charset=utf-8", "Signal= *\nDuration= 250", '*', 250 * time.Millisecond, false},
		{"application/dtmf-relay", "Signal=#\r\n", '#', 0, false},
		{"application/dtmf-relay", "Signal=11\r\nDuration=100", '#', 100 * time.Millisecond, false},
		{"application/dtmf-relay", "signal=a\r\n", 'A', 0, false},
		{"application/dtmf", "7", '7', 0, false},
		{"application/dtmf", "10\r\n", '*', 0, false},
		{"application/dtmf-relay", "Signal=X\r\n", 0, 0, true},
		{"application/dtmf-relay", "Duration=160", 0, 0, true},
		{"text/plain", "5", 0, 0, true},
	}
	for _, tt := range tests {
		ev, err := ParseDTMFInfo(tt.ct, []byte(tt.body))
		if tt.err {
			if !errors.Is(err, ErrBadDTMF) {
				t.Errorf("%q %q: err %v, want ErrBadDTMF", tt.ct, tt.body, err)
			}
			continue
		}
		if err != nil || ev.Digit != tt.digit || ev.Duration != tt.dur || ev.Source != SIPInfo {
			t.Errorf("%q %q: %+v %v, want %q %v", tt.ct, tt.body, ev, err, tt.digit, tt.dur)
		}
	}
}

func TestInjectDTMFReachesChannel(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	ev, _ := ParseDTMFInfo("application/dtmf-relay", []byte("Signal=9\r\nDuration=100"))
	ev.Leg = LegB
	c.InjectDTMF(ev)
	got := <-c.DTMF()
	if got.Digit != '9' || got.Leg != LegB || got.Source != SIPInfo {
		t.Fatalf("%+v", got)
	}
	for i := 0; i < 40; i++ {
		c.InjectDTMF(ev)
	}
	if d := c.Stats().DTMFDropped; d != 8 {
		t.Fatalf("dropped %d, want 8 (channel holds 32)", d)
	}
}

// dualTone returns ms milliseconds of the two frequencies at amplitude amp each, passed through
// µ-law like audio from a carrier.
func dualTone(f1, f2 float64, ms int, amp float64, phase int) []int16 {
	n := ms * 8
	out := make([]int16, n)
	for i := range out {
		x := float64(i + phase)
		v := amp*math.Sin(2*math.Pi*f1*x/8000) + amp*math.Sin(2*math.Pi*f2*x/8000)
		out[i] = int16(v)
	}
	u := make([]byte, n)
	encode(u, out, PCMU)
	return decode(out, u, PCMU)
}

func TestGoertzelDetectsAllDigits(t *testing.T) {
	var det toneDetector
	var got []byte
	want := "123A456B789C*0#D"
	for k := 0; k < len(want); k++ {
		r, col := k/4, k%4
		audio := dualTone(toneRows[r], toneCols[col], 70, 6000, k*37)
		audio = append(audio, make([]int16, 40*8)...) // 40 ms pause
		for off := 0; off < len(audio); off += 160 {  // in 20 ms packets, as the relay does
			if d := det.feed(audio[off:min(off+160, len(audio))]); d != 0 {
				got = append(got, d)
			}
		}
	}
	if string(got) != want {
		t.Fatalf("detected %q, want %q", got, want)
	}
}

func TestGoertzelIgnoresNonDTMF(t *testing.T) {
	var det toneDetector
	sig := []struct {
		name  string
		audio []int16
	}{
		{"1 kHz tone", dualTone(1000, 1000, 500, 5000, 0)},
		{"dial tone 350+440", dualTone(350, 440, 500, 5000, 0)},
		{"one DTMF row only", dualTone(770, 770, 500, 5000, 0)},
		{"quiet digit", dualTone(770, 1336, 500, 20, 0)},
		{"silence", dualTone(770, 1336, 500, 0, 0)},
	}
	// Pseudo-random noise.
	noise := make([]int16, 4000)
	x := uint32(1)
	for i := range noise {
		x = x*1664525 + 1013904223
		noise[i] = int16(x>>16) / 4
	}
	sig = append(sig, struct {
		name  string
		audio []int16
	}{"noise", noise})
	for _, s := range sig {
		if d := det.feed(s.audio); d != 0 {
			t.Errorf("%s: detected %q", s.name, d)
		}
	}
}

func TestInbandDTMFThroughRelay(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{InbandDTMF: true})
	defer c.Close()
	a := newPhone(t)
	c.AnswerLocal(LegA, a.sdp(1, "8", ""))
	audio := append(dualTone(852, 1477, 100, 6000, 0), make([]int16, 320)...)
	enc := make([]byte, len(audio))
	encode(enc, audio, PCMA)
	n := 0
	for off := 0; off+160 <= len(enc); off += 160 {
		a.send(c.LocalAddr(LegA), 8, enc[off:off+160])
		n++
	}
	ev := <-c.DTMF()
	if ev.Digit != '9' || ev.Source != Inband {
		t.Fatalf("%+v", ev)
	}
	waitFor(t, "packets handled", func() bool { return c.Stats().A.PacketsIn == uint64(n) })
	if len(c.DTMF()) != 0 {
		t.Fatal("one tone gave more than one digit")
	}
}

func TestSendDTMFPacketsDecodeToOneDigit(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a := newPhone(t)
	c.AnswerLocal(LegA, a.sdp(1, "0 101", ""))
	if err := c.SendDTMF(context.Background(), LegA, '#', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var pkts []rtp.Packet
	for i := 0; i < 5+2; i++ {
		p, _ := a.recv()
		pkts = append(pkts, p)
	}
	var rx dtmfReceiver
	var digits []byte
	for i, p := range pkts {
		if p.PayloadType != 101 || p.Timestamp != pkts[0].Timestamp || (i == 0) != p.Marker {
			t.Fatalf("packet %d: pt %d ts %d marker %v", i, p.PayloadType, p.Timestamp, p.Marker)
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatal("sequence gap")
		}
		end := p.Payload[1]&0x80 != 0
		dur := int(p.Payload[2])<<8 | int(p.Payload[3])
		if end != (i >= 4) || (i < 4 && dur != 160*(i+1)) || (end && dur != 800) {
			t.Fatalf("packet %d: end %v duration %d", i, end, dur)
		}
		if d, ok := rx.packet(p.Payload, p.SSRC, p.Timestamp); ok {
			digits = append(digits, d)
		}
	}
	if string(digits) != "#" {
		t.Fatalf("decoded %q", digits)
	}
	if err := c.SendDTMF(context.Background(), LegA, 'x', time.Second); !errors.Is(err, ErrBadDTMF) {
		t.Fatalf("bad digit: %v", err)
	}
}

func TestRFC4733LongEventSegments(t *testing.T) {
	var r dtmfReceiver
	ev := func(code byte, end bool, dur uint16) []byte {
		b := []byte{code, 10, byte(dur >> 8), byte(dur)}
		if end {
			b[1] |= 0x80
		}
		return b
	}
	var got []byte
	add := func(d byte, ok bool) {
		if ok {
			got = append(got, d)
		}
	}
	// A 10 s press of 8: the first segment reaches the maximum duration, the second starts at
	// ts + 0xFFFF and ends; then 8 again (a new press).
	add(r.packet(ev(8, false, 160), 1, 1000))
	add(r.packet(ev(8, false, 0xFFFF), 1, 1000))
	add(r.packet(ev(8, false, 160), 1, 1000+0xFFFF))
	add(r.packet(ev(8, true, 14000), 1, 1000+0xFFFF))
	add(r.packet(ev(8, true, 14000), 1, 1000+0xFFFF))
	add(r.packet(ev(8, false, 160), 1, 1000+0xFFFF+14000+800))
	if string(got) != "88" {
		t.Fatalf("got %q, want one digit per press (\"88\")", got)
	}
}
