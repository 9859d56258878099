package media

import (
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// FuzzSDPAnswer: any body either fails to parse with an error, or yields an answer that parses
// back with the offer's m-line count (invariant 7). Never a panic.
func FuzzSDPAnswer(f *testing.F) {
	f.Add(phoneSDP(4000, 1, "0 8 101", ""))
	f.Add(phoneSDP(4000, 1, "8", "sendonly", "m=video 4010 RTP/AVP 96"))
	f.Add([]byte("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 4004 RTP/SAVP 0\r\nm=audio 4000 RTP/AVP 0\r\n"))
	f.Add([]byte("v=0\r\no=x 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000\r\n"))
	f.Add(phoneSDP(4000, 1, "0", "", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+testKey, "a=rtcp-mux"))
	f.Add([]byte(strings.Replace(string(phoneSDP(4000, 1, "0", "", "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"+testKey+"|2^31")), "RTP/AVP", "RTP/SAVP", 1)))
	e := &Engine{publicIP: mustAddr("127.0.0.1")}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseSDP(body, srtpWant(len(body)%3))
		if err != nil {
			return
		}
		l := &leg{call: &Call{e: e}, sessID: 1}
		a := localAudio{port: 20000, formats: r.formats[:1], dtmfPT: r.dtmfPT, dir: r.dir.reverse(), savp: r.savp, mux: r.mux}
		if r.secure() {
			a.crypto = l.answerCryptoLocked(&r.crypto[0])
		}
		out := l.buildSDP(a, r.sd, r.audio)
		var sd sdp.SessionDescription
		if err := sd.Unmarshal(out); err != nil {
			t.Fatalf("answer does not parse: %v\n%s", err, out)
		}
		if len(sd.MediaDescriptions) != len(r.sd.MediaDescriptions) {
			t.Fatalf("answer has %d m-lines, offer %d", len(sd.MediaDescriptions), len(r.sd.MediaDescriptions))
		}
	})
}
