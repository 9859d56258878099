package webphone

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestParseSIPSDP(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	cases := []struct {
		name, body string
		want       sipMedia
		err        error
	}{
		{"ccswitch's offer to an agent", head + "m=audio 20002 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp-mux\r\na=sendrecv\r\n",
			sipMedia{port: 20002, laws: []Law{PCMU, PCMA}, dtmfPT: 101, dir: "sendrecv"}, nil},
		{"PCMA first, other dtmf type", head + "m=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n",
			sipMedia{port: 4000, laws: []Law{PCMA, PCMU}, dtmfPT: 96, dir: "sendrecv"}, nil},
		{"session-level hold", head + "a=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n",
			sipMedia{port: 4000, laws: []Law{PCMU}, dtmfPT: -1, dir: "sendonly"}, nil},
		{"video and a refused line first", head + "m=video 5000 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\nm=audio 6000 RTP/AVP 8\r\na=inactive\r\n",
			sipMedia{port: 6000, laws: []Law{PCMA}, dtmfPT: -1, dir: "inactive"}, nil},
		{"no G.711", head + "m=audio 4000 RTP/AVP 9 101\r\n", sipMedia{}, errBadSDP},
		{"no audio", head + "m=video 4000 RTP/AVP 96\r\n", sipMedia{}, errBadSDP},
		{"not SDP", "hello", sipMedia{}, errBadSDP},
		{"empty", "", sipMedia{}, errBadSDP},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSIPSDP([]byte(tc.body))
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if got.port != tc.want.port || !slices.Equal(got.laws, tc.want.laws) || got.dtmfPT != tc.want.dtmfPT || got.dir != tc.want.dir {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestSIPSDPRoundTrip: the SDP a Leg gives the RTP side parses back to what it says, for
// each law, with and without telephone-event, and answers each direction.
func TestSIPSDPRoundTrip(t *testing.T) {
	for _, law := range []Law{PCMU, PCMA} {
		for _, dtmf := range []int{-1, 101} {
			for dir, ans := range map[string]string{"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"} {
				b := sipSDP(netip.MustParseAddrPort("127.0.0.1:4242"), 7, 2, law, dtmf, answerDir(dir))
				got, err := parseSIPSDP(b)
				if err != nil {
					t.Fatalf("%s: %v", b, err)
				}
				if got.port != 4242 || !slices.Equal(got.laws, []Law{law}) || got.dtmfPT != dtmf || got.dir != ans {
					t.Fatalf("%s parsed as %+v", b, got)
				}
			}
		}
	}
}
