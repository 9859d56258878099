package media

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

func TestRecordingStereoReadBack(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, b := anchored(t, e, "0", "8") // transcoding too: the right channel is what A hears
	path := filepath.Join(t.TempDir(), "call.wav")
	if err := c.StartRecording(path); err != nil {
		t.Fatal(err)
	}
	const n = 25 // 0.5 s each way
	for i := 0; i < n; i++ {
		a.send(c.LocalAddr(LegA), 0, payloadOf(0x9c, 160)) // µ-law: caller speaks
		b.send(c.LocalAddr(LegB), 8, payloadOf(0x2a, 160)) // A-law: callee speaks
	}
	for i := 0; i < n; i++ {
		a.recv()
		b.recv()
	}
	waitFor(t, "relay done", func() bool { st := c.Stats(); return st.A.PacketsOut == n && st.B.PacketsOut == n })
	if err := c.StopRecording(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, data, err := readWAVBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if f.channels != 2 || f.rate != 8000 || f.bits != 16 || f.format != 1 {
		t.Fatalf("format %+v, want stereo 8 kHz 16-bit PCM", f)
	}
	if len(data)%4 != 0 || binary.LittleEndian.Uint32(raw[40:]) != uint32(len(data)) || binary.LittleEndian.Uint32(raw[4:]) != uint32(len(raw)-8) {
		t.Fatalf("header sizes do not match the file (%d data bytes, file %d)", len(data), len(raw))
	}
	caller := ulawToPCM[0x9c]
	callee := alawToPCM[0x2a] // as heard by A after A-law→µ-law: compare through the same path
	callee = ulawToPCM[alawToUlaw[0x2a]]
	var left, right, other int
	for i := 0; i+4 <= len(data); i += 4 {
		l, r := int16(binary.LittleEndian.Uint16(data[i:])), int16(binary.LittleEndian.Uint16(data[i+2:]))
		switch {
		case l == caller:
			left++
		case l != 0:
			other++
		}
		switch {
		case r == callee:
			right++
		case r != 0:
			other++
		}
	}
	if left != n*160 || right != n*160 || other != 0 {
		t.Fatalf("left %d right %d samples of the voices (want %d each), %d unexpected", left, right, n*160, other)
	}
	if d := c.Stats().RecordingDropped; d != 0 {
		t.Fatalf("dropped %d frames", d)
	}
}

func TestRecorderDropsWhenFull(t *testing.T) {
	// A recorder whose goroutine is not running: the relay side must drop and count, not block.
	c := &Call{}
	r := &recorder{ch: make(chan recFrame, 4)}
	c.rec.Store(r)
	for i := 0; i < 10; i++ {
		c.tapRecord(0, PCMU, payloadOf(1, 160), 0)
	}
	if r.dropped.Load() != 6 {
		t.Fatalf("dropped %d, want 6", r.dropped.Load())
	}
}

func readWAVBytes(b []byte) (wavFormat, []byte, error) {
	return readWAV(bytesReader(b))
}
