package media

import "github.com/zaf/g711"

// Lookup tables built once from zaf/g711, so the relay transcodes in place with one load per
// byte and decodes without allocation.
var (
	ulawToAlaw, alawToUlaw [256]byte
	ulawToPCM, alawToPCM   [256]int16
)

func init() {
	for i := 0; i < 256; i++ {
		ulawToAlaw[i] = g711.Ulaw2AlawFrame(uint8(i))
		alawToUlaw[i] = g711.Alaw2UlawFrame(uint8(i))
		ulawToPCM[i] = g711.DecodeUlawFrame(uint8(i))
		alawToPCM[i] = g711.DecodeAlawFrame(uint8(i))
	}
}

// transcode converts G.711 samples in place from one law to the other.
func transcode(p []byte, from, to Codec) {
	if from == to {
		return
	}
	t := &ulawToAlaw
	if from == PCMA {
		t = &alawToUlaw
	}
	for i, v := range p {
		p[i] = t[v]
	}
}

// decode expands G.711 samples into dst (len(dst) >= len(p)) and returns the filled part.
func decode(dst []int16, p []byte, c Codec) []int16 {
	t := &ulawToPCM
	if c == PCMA {
		t = &alawToPCM
	}
	dst = dst[:len(p)]
	for i, v := range p {
		dst[i] = t[v]
	}
	return dst
}

// encode compresses 16-bit samples into dst (len(dst) >= len(pcm)).
func encode(dst []byte, pcm []int16, c Codec) []byte {
	dst = dst[:len(pcm)]
	if c == PCMA {
		for i, v := range pcm {
			dst[i] = g711.EncodeAlawFrame(v)
		}
	} else {
		for i, v := range pcm {
			dst[i] = g711.EncodeUlawFrame(v)
		}
	}
	return dst
}
