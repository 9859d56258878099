package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func TestShippedPromptsAreValid(t *testing.T) {
	files, _ := filepath.Glob("../configs/prompts/*/*.wav")
	more, _ := filepath.Glob("../configs/prompts/*.wav")
	files = append(files, more...)
	if len(files) < 2*19+1 {
		t.Fatalf("found %d prompts, want en/ and fr/ sets (19 each) and hold music", len(files))
	}
	for _, lang := range []string{"en", "fr"} {
		for _, name := range []string{"welcome", "menu", "closed", "holiday", "please-hold", "you-are-caller", "in-queue", "invalid-choice", "goodbye", "digit-0", "digit-9"} {
			if _, err := os.Stat(filepath.Join("../configs/prompts", lang, name+".wav")); err != nil {
				t.Errorf("missing prompt: %v", err)
			}
		}
	}
	for _, f := range files {
		p, err := LoadWAV(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if p.Duration() <= 0 {
			t.Errorf("%s: empty", f)
		}
	}
}

func writeWAV(t *testing.T, format, channels uint16, rate uint32, bits uint16, extensible bool) string {
	t.Helper()
	var b bytes.Buffer
	data := make([]byte, 320)
	fmtLen := uint32(16)
	if extensible {
		fmtLen = 40
	}
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+fmtLen+8+uint32(len(data))))
	b.WriteString("WAVE")
	b.WriteString("LIST") // an unrelated chunk first
	binary.Write(&b, binary.LittleEndian, uint32(3))
	b.WriteString("abc\x00")
	b.WriteString("fmt ")
	binary.Write(&b, binary.LittleEndian, fmtLen)
	tag := format
	if extensible {
		tag = 0xFFFE
	}
	binary.Write(&b, binary.LittleEndian, []uint16{tag, channels})
	binary.Write(&b, binary.LittleEndian, []uint32{rate, rate * uint32(channels*bits/8)})
	binary.Write(&b, binary.LittleEndian, []uint16{channels * bits / 8, bits})
	if extensible {
		binary.Write(&b, binary.LittleEndian, []uint16{22, bits, 0, 0})
		binary.Write(&b, binary.LittleEndian, format)
		b.Write(make([]byte, 14))
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(len(data)))
	b.Write(data)
	path := filepath.Join(t.TempDir(), "p.wav")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckWAV(t *testing.T) {
	tests := []struct {
		name                string
		format, ch          uint16
		rate                uint32
		bits                uint16
		ext                 bool
		wantErr, wantInText string
	}{
		{"8k mono 16-bit", 1, 1, 8000, 16, false, "", ""},
		{"extensible PCM", 1, 1, 8000, 16, true, "", ""},
		{"16 kHz", 1, 1, 16000, 16, false, "bad", "16000 Hz"},
		{"stereo", 1, 2, 8000, 16, false, "bad", "2 channel"},
		{"8-bit", 1, 1, 8000, 8, false, "bad", "8-bit"},
		{"µ-law WAV", 7, 1, 8000, 8, false, "bad", "encoding 7"},
	}
	for _, tt := range tests {
		err := CheckWAV(writeWAV(t, tt.format, tt.ch, tt.rate, tt.bits, tt.ext))
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadWAV) || !strings.Contains(err.Error(), tt.wantInText) || !strings.Contains(err.Error(), "p.wav") {
			t.Errorf("%s: %v, want ErrBadWAV naming the file and %q", tt.name, err, tt.wantInText)
		}
	}
	notWAV := filepath.Join(t.TempDir(), "x.wav")
	os.WriteFile(notWAV, []byte("ID3 mp3 data"), 0o644)
	if err := CheckWAV(notWAV); !errors.Is(err, ErrBadWAV) {
		t.Errorf("mp3: %v", err)
	}
	if err := CheckWAV(filepath.Join(t.TempDir(), "missing.wav")); err == nil || errors.Is(err, ErrBadWAV) {
		t.Errorf("missing file: %v", err)
	}
}
