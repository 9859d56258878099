package webphone

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// sipMedia is what the SIP side's SDP says about its audio.
type sipMedia struct {
	port   int
	laws   []Law // G.711 laws in the SDP's order
	dtmfPT int   // -1: none
	dir    string
}

// parseSIPSDP reads the first audio line with a port of an SDP offer or answer of ccswitch.
func parseSIPSDP(body []byte) (sipMedia, error) {
	var s sdp.SessionDescription
	if err := s.Unmarshal(body); err != nil {
		return sipMedia{}, fmt.Errorf("%w: %v", errBadSDP, err)
	}
	dir := "sendrecv"
	for _, a := range s.Attributes {
		if isDirection(a.Key) {
			dir = a.Key
		}
	}
	for _, m := range s.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		r := sipMedia{port: m.MediaName.Port.Value, dtmfPT: -1, dir: dir}
		for _, f := range m.MediaName.Formats {
			switch f {
			case "0":
				r.laws = append(r.laws, PCMU)
			case "8":
				r.laws = append(r.laws, PCMA)
			}
		}
		for _, a := range m.Attributes {
			if isDirection(a.Key) {
				r.dir = a.Key
			}
			if a.Key == "rtpmap" && strings.Contains(strings.ToLower(a.Value), "telephone-event/8000") {
				pt, _, _ := strings.Cut(a.Value, " ")
				if n, err := strconv.Atoi(pt); err == nil {
					r.dtmfPT = n
				}
			}
		}
		if len(r.laws) == 0 {
			return sipMedia{}, errBadSDP
		}
		return r, nil
	}
	return sipMedia{}, errBadSDP
}

func isDirection(k string) bool {
	return k == "sendrecv" || k == "sendonly" || k == "recvonly" || k == "inactive"
}

// answerDir is the direction that answers dir.
func answerDir(dir string) string {
	switch dir {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}

// sipSDP is the SDP of a Leg on the SIP side: its RTP socket, one law, telephone-event when
// dtmfPT ≥ 0.
func sipSDP(local netip.AddrPort, session, version uint64, law Law, dtmfPT int, dir string) []byte {
	ipv := "IP4"
	if local.Addr().Is6() && !local.Addr().Is4In6() {
		ipv = "IP6"
	}
	ip := local.Addr().Unmap().String()
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=- %d %d IN %s %s\r\ns=ccswitch browser phone\r\nc=IN %s %s\r\nt=0 0\r\n", session, version, ipv, ip, ipv, ip)
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d", local.Port(), law)
	if dtmfPT >= 0 {
		fmt.Fprintf(&b, " %d", dtmfPT)
	}
	fmt.Fprintf(&b, "\r\na=rtpmap:%d %s/8000\r\n", law, law.name())
	if dtmfPT >= 0 {
		fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-15\r\n", dtmfPT, dtmfPT)
	}
	fmt.Fprintf(&b, "a=ptime:20\r\na=%s\r\n", dir)
	return []byte(b.String())
}
