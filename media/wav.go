package media

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// wavFormat is what a WAV's fmt chunk says.
type wavFormat struct {
	format, channels, bits uint16
	rate                   uint32
	seen                   bool // a fmt chunk preceded the data
}

// readWAV returns the format and the data chunk of a RIFF/WAVE file.
func readWAV(r io.Reader) (wavFormat, []byte, error) {
	var f wavFormat
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return f, nil, fmt.Errorf("%w: not a RIFF/WAVE file", ErrBadWAV)
	}
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return f, nil, fmt.Errorf("%w: no data chunk", ErrBadWAV)
		}
		size := binary.LittleEndian.Uint32(ch[4:])
		if size > 1<<30 {
			return f, nil, fmt.Errorf("%w: chunk %q too large", ErrBadWAV, ch[:4])
		}
		body := make([]byte, size+size%2) // chunks are word aligned
		n, err := io.ReadFull(r, body)
		if string(ch[:4]) == "data" && err != nil && n >= int(size) {
			err = nil // a missing pad byte at the end of the file
		}
		if err != nil {
			if string(ch[:4]) == "data" && n > 0 { // truncated data: keep what is there
				return f, body[:n-n%2], nil
			}
			return f, nil, fmt.Errorf("%w: truncated %q chunk", ErrBadWAV, ch[:4])
		}
		switch string(ch[:4]) {
		case "fmt ":
			if size < 16 {
				return f, nil, fmt.Errorf("%w: short fmt chunk", ErrBadWAV)
			}
			f.format = binary.LittleEndian.Uint16(body[0:])
			f.channels = binary.LittleEndian.Uint16(body[2:])
			f.rate = binary.LittleEndian.Uint32(body[4:])
			f.bits = binary.LittleEndian.Uint16(body[14:])
			if f.format == 0xFFFE && size >= 26 { // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID
				f.format = binary.LittleEndian.Uint16(body[24:])
			}
			f.seen = true
		case "data":
			return f, body[:size], nil
		}
	}
}

func checkFormat(f wavFormat) error {
	switch {
	case !f.seen:
		return fmt.Errorf("%w: data before fmt chunk", ErrBadWAV)
	case f.format != 1:
		return fmt.Errorf("%w: encoding %d, want 1 (PCM); convert with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav", ErrBadWAV, f.format)
	case f.rate != 8000 || f.channels != 1 || f.bits != 16:
		return fmt.Errorf("%w: %d Hz %d-bit %d channel(s), want 8000 Hz 16-bit mono; convert with: sox IN -r 8000 -c 1 -b 16 OUT.wav", ErrBadWAV, f.rate, f.bits, f.channels)
	}
	return nil
}

// CheckWAV reports whether path is a prompt ccswitch can play (8 kHz 16-bit mono PCM), for
// config check; the error names the file, what it is and how to convert it.
func CheckWAV(path string) error {
	_, err := LoadWAV(path)
	return err
}

// LoadWAV reads an 8 kHz 16-bit mono PCM WAV into a Prompt named after the file.
func LoadWAV(path string) (*Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("media: load prompt: %w", err)
	}
	defer f.Close()
	return ReadWAV(path, f)
}

// ReadWAV reads an 8 kHz 16-bit mono PCM WAV from r (a file of an embedded fs.FS, say) into
// a Prompt called name.
func ReadWAV(name string, r io.Reader) (*Prompt, error) {
	wf, data, err := readWAV(r)
	if err == nil {
		err = checkFormat(wf)
	}
	if err != nil {
		return nil, fmt.Errorf("media: load prompt %s: %w", name, err)
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return NewPrompt(name, pcm), nil
}

// wavHeader returns a 44-byte PCM header for dataLen bytes of 16-bit 8 kHz audio.
func wavHeader(channels uint16, dataLen uint32) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataLen)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], channels)
	binary.LittleEndian.PutUint32(h[24:], 8000)
	binary.LittleEndian.PutUint32(h[28:], 8000*2*uint32(channels))
	binary.LittleEndian.PutUint16(h[32:], 2*channels)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataLen)
	return h
}
