package media

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// TestShippedPromptPlaysBitExact plays configs/prompts/en/digit-1.wav to a phone that
// negotiated PCMA and checks the phone receives exactly the prompt's A-law encoding, frame by
// frame, padded with A-law silence.
func TestShippedPromptPlaysBitExact(t *testing.T) {
	p, err := LoadWAV("../configs/prompts/en/digit-1.wav")
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a := newPhone(t)
	c.AnswerLocal(LegA, a.sdp(1, "8", ""))
	res, err := c.Play(context.Background(), LegA, p, PlayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := p.encoded(PCMA)
	frames := (len(want) + 159) / 160
	if res.Frames != frames {
		t.Fatalf("%d frames, want %d", res.Frames, frames)
	}
	var got []byte
	for i := 0; i < frames; i++ {
		pkt, _ := a.recv()
		got = append(got, pkt.Payload...)
	}
	if !bytes.Equal(got[:len(want)], want) {
		t.Fatal("received audio differs from the prompt's A-law encoding")
	}
	for _, b := range got[len(want):] {
		if b != 0xD5 {
			t.Fatalf("padding %#x, want A-law silence", b)
		}
	}
}

// TestGoertzelOnSoxTones: DTMF tones made by sox (an independent generator) are detected.
func TestGoertzelOnSoxTones(t *testing.T) {
	sox := testenv.Tool(t, "sox")
	digits := "159#"
	freqs := map[byte][2]string{'1': {"697", "1209"}, '5': {"770", "1336"}, '9': {"852", "1477"}, '#': {"941", "1477"}}
	dir := t.TempDir()
	var all []string
	for i := 0; i < len(digits); i++ {
		f := freqs[digits[i]]
		out := filepath.Join(dir, string(rune('a'+i))+".wav")
		// 80 ms of the two tones at -10 dBFS each, then 60 ms of silence.
		cmd := exec.Command(sox, "-D", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", out,
			"synth", "0.08", "sine", f[0], "sine", f[1], "channels", "1", "vol", "0.3", "pad", "0", "0.06")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sox: %v\n%s", err, b)
		}
		all = append(all, out)
	}
	var det toneDetector
	var got []byte
	for _, f := range all {
		p, err := LoadWAV(f)
		if err != nil {
			t.Fatal(err)
		}
		pcm := decode(make([]int16, len(p.ulaw)), p.ulaw, PCMU) // as received over G.711
		for off := 0; off < len(pcm); off += 160 {
			if d := det.feed(pcm[off:min(off+160, len(pcm))]); d != 0 {
				got = append(got, d)
			}
		}
	}
	if string(got) != digits {
		t.Fatalf("detected %q, want %q", got, digits)
	}
}
