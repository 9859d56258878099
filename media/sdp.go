package media

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Codec is a G.711 law. It is also how a leg's audio is encoded on the wire.
type Codec uint8

// The audio codecs ccswitch speaks.
const (
	PCMU Codec = iota + 1 // G.711 µ-law, static payload type 0
	PCMA                  // G.711 A-law, static payload type 8
)

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return "codec(" + strconv.Itoa(int(c)) + ")"
}

func (c Codec) staticPT() uint8 {
	if c == PCMA {
		return 8
	}
	return 0
}

// DefaultDTMFPayloadType is the telephone-event payload type ccswitch offers when the other side
// did not pick one.
const DefaultDTMFPayloadType = 101

// Direction is an SDP direction attribute (RFC 3264 §5.1), seen from the side that wrote it.
type Direction uint8

// Directions. SendRecv is the zero value, the SDP default.
const (
	SendRecv Direction = iota
	SendOnly
	RecvOnly
	Inactive
)

func (d Direction) String() string {
	return [...]string{"sendrecv", "sendonly", "recvonly", "inactive"}[d&3]
}

// reverse is the direction an answerer writes to accept an offer with direction d.
func (d Direction) reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

// sends reports whether the side that wrote d sends media; receives whether it accepts media.
func (d Direction) sends() bool    { return d == SendRecv || d == SendOnly }
func (d Direction) receives() bool { return d == SendRecv || d == RecvOnly }

// format is one usable payload format of an m=audio line.
type format struct {
	pt    uint8
	codec Codec
}

// remoteSDP is what ccswitch uses of a peer's session description.
type remoteSDP struct {
	sd       *sdp.SessionDescription
	version  uint64         // o= session version: a new one is a new SDP (invariant 3)
	audio    int            // index of the m=audio line used, -1 if none usable
	addr     netip.AddrPort // where the peer receives; invalid when port 0 or c=0.0.0.0
	formats  []format       // usable audio formats, in the peer's order of preference
	dtmfPT   int            // telephone-event payload type, -1 if absent
	dir      Direction
	rejected bool // the audio m-line has port 0
	// savp: the line's profile is RTP/SAVP(F); crypto: the usable a=crypto lines of the
	// line, in order, when SRTP was chosen for it (nil: plain RTP).
	savp   bool
	crypto []sdesCrypto
	mux    bool // a=rtcp-mux (RFC 5761)
}

// secure reports whether the chosen line is SRTP.
func (r *remoteSDP) secure() bool { return len(r.crypto) > 0 }

// srtpWant is what parseSDP must pick among the offered audio lines.
type srtpWant uint8

const (
	preferSRTP srtpWant = iota // SRTP if a line offers usable crypto, else plain RTP
	needSRTP                   // SRTP only (ErrSRTPRequired otherwise)
	noSRTP                     // plain RTP only; crypto ignored (ErrNoCommonCrypto for SAVP-only)
)

func wantFor(p SRTPPolicy) srtpWant {
	switch p {
	case SRTPRequired:
		return needSRTP
	case SRTPOff:
		return noSRTP
	}
	return preferSRTP
}

// audioLine is one m=audio line ccswitch could use.
type audioLine struct {
	idx     int
	md      *sdp.MediaDescription
	formats []format
	dtmf    int
	savp    bool
	crypto  []sdesCrypto
}

// parseSDP reads an offer or answer and picks its audio line: the first m=audio line with
// PCMU or PCMA whose transport suits want (RTP/AVP(F) for plain RTP; RTP/SAVP(F), or RTP/AVP
// with a=crypto, for SRTP). It fails with ErrBadSDP when the body is not SDP, with
// ErrNoCommonCodec when no audio line carries PCMU or PCMA, with ErrSRTPRequired when SRTP is
// needed and no line offers usable crypto, and with ErrNoCommonCrypto when SRTP lines exist
// but none can be used. When every usable line has port 0, the first is taken (rejected).
func parseSDP(body []byte, want srtpWant) (*remoteSDP, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return nil, fmt.Errorf("media: parse sdp: %w: %s", ErrBadSDP, redactKeys(err.Error()))
	}
	r := &remoteSDP{sd: &sd, version: sd.Origin.SessionVersion, audio: -1, dtmfPT: -1}
	var lines []audioLine
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		proto := strings.Join(md.MediaName.Protos, "/")
		savp := proto == "RTP/SAVP" || proto == "RTP/SAVPF"
		if !savp && proto != "RTP/AVP" && proto != "RTP/AVPF" {
			continue
		}
		formats, dtmf := audioFormats(md)
		if len(formats) == 0 {
			continue
		}
		l := audioLine{idx: i, md: md, formats: formats, dtmf: dtmf, savp: savp}
		for _, a := range md.Attributes {
			if a.Key == "crypto" {
				if cr, ok := parseCrypto(a.Value); ok {
					l.crypto = append(l.crypto, cr)
				}
			}
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("media: parse sdp: %w: no m=audio RTP/AVP or RTP/SAVP line offers PCMU or PCMA", ErrNoCommonCodec)
	}
	var chosen *audioLine
	secure := false
	live := lines[:0:0]
	for _, l := range lines {
		if l.md.MediaName.Port.Value != 0 {
			live = append(live, l)
		}
	}
	if len(live) == 0 {
		chosen = &lines[0] // audio refused: no transport to agree on
	}
	pick := func(ok func(l *audioLine) bool) *audioLine {
		for i := range live {
			if ok(&live[i]) {
				return &live[i]
			}
		}
		return nil
	}
	srtpOK := func(l *audioLine) bool { return len(l.crypto) > 0 }
	plainOK := func(l *audioLine) bool { return !l.savp }
	if chosen == nil {
		switch want {
		case needSRTP:
			if chosen = pick(srtpOK); chosen == nil {
				return nil, fmt.Errorf("media: parse sdp: %w", ErrSRTPRequired)
			}
			secure = true
		case preferSRTP:
			if chosen = pick(srtpOK); chosen != nil {
				secure = true
			} else if chosen = pick(plainOK); chosen == nil {
				return nil, fmt.Errorf("media: parse sdp: %w: no RTP/SAVP line has a usable a=crypto (%s or %s)", ErrNoCommonCrypto, aesCM128SHA1_80, aesCM128SHA1_32)
			}
		case noSRTP:
			if chosen = pick(plainOK); chosen == nil {
				return nil, fmt.Errorf("media: parse sdp: %w: only RTP/SAVP offered and SRTP is off for this leg", ErrNoCommonCrypto)
			}
		}
	}
	md := chosen.md
	r.audio, r.formats, r.dtmfPT, r.savp = chosen.idx, chosen.formats, chosen.dtmf, chosen.savp
	if secure {
		r.crypto = chosen.crypto
	}
	sessDir, sessHasDir := direction(sd.Attributes)
	r.dir = SendRecv
	if sessHasDir {
		r.dir = sessDir
	}
	if d, ok := direction(md.Attributes); ok {
		r.dir = d
	}
	for _, a := range md.Attributes {
		if a.Key == "rtcp-mux" {
			r.mux = true
		}
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil {
		return nil, fmt.Errorf("media: parse sdp: %w: m=audio without c= line", ErrBadSDP)
	}
	host := ci.Address.Address
	if j := strings.IndexByte(host, '/'); j >= 0 { // multicast TTL suffix
		host = host[:j]
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, fmt.Errorf("media: parse sdp: %w: c= address %q is not an IP (FQDN unsupported)", ErrBadSDP, ci.Address.Address)
	}
	port := md.MediaName.Port.Value
	r.rejected = port == 0
	if port > 0 && port < 65536 && !ip.IsUnspecified() {
		r.addr = netip.AddrPortFrom(ip.Unmap(), uint16(port))
	}
	if ip.IsUnspecified() && r.dir.receives() { // RFC 2543 hold: c=0.0.0.0
		if r.dir == SendRecv {
			r.dir = SendOnly
		} else {
			r.dir = Inactive
		}
	}
	return r, nil
}

// redactKeys hides inline SDES keys in a message (a parse error may quote an SDP line).
func redactKeys(s string) string {
	const tag = "inline:"
	var b strings.Builder
	for {
		i := strings.Index(s, tag)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i+len(tag)])
		b.WriteString("<redacted>")
		s = s[i+len(tag):]
		k := strings.IndexAny(s, " |`\"\r\n")
		if k < 0 {
			k = len(s)
		}
		s = s[k:]
	}
}

func direction(attrs []sdp.Attribute) (Direction, bool) {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv":
			return SendRecv, true
		case "sendonly":
			return SendOnly, true
		case "recvonly":
			return RecvOnly, true
		case "inactive":
			return Inactive, true
		}
	}
	return SendRecv, false
}

// audioFormats lists the PCMU/PCMA formats of md in order and its telephone-event/8000 type.
func audioFormats(md *sdp.MediaDescription) ([]format, int) {
	rtpmap := map[int]string{}
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		num, enc, ok := strings.Cut(a.Value, " ")
		pt, err := strconv.Atoi(num)
		if !ok || err != nil {
			continue
		}
		rtpmap[pt] = strings.ToLower(strings.TrimSpace(enc))
	}
	var out []format
	dtmf := -1
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.Atoi(f)
		if err != nil || pt < 0 || pt > 127 {
			continue
		}
		enc, mapped := rtpmap[pt]
		switch {
		case enc == "pcmu/8000" || enc == "pcmu/8000/1" || (!mapped && pt == 0):
			out = append(out, format{uint8(pt), PCMU})
		case enc == "pcma/8000" || enc == "pcma/8000/1" || (!mapped && pt == 8):
			out = append(out, format{uint8(pt), PCMA})
		case enc == "telephone-event/8000" && dtmf < 0:
			dtmf = pt
		}
	}
	return out, dtmf
}

func (r *remoteSDP) find(c Codec) (format, bool) {
	for _, f := range r.formats {
		if f.codec == c {
			return f, true
		}
	}
	return format{}, false
}

// localAudio is the audio stream ccswitch describes to one leg.
type localAudio struct {
	port    int
	formats []format
	dtmfPT  int // -1: no telephone-event
	dir     Direction
	// savp writes RTP/SAVP instead of RTP/AVP; crypto, when set, is ccswitch's a=crypto (its
	// own key for the leg); mux adds a=rtcp-mux.
	savp   bool
	crypto *sdesCrypto
	mux    bool
}

// buildSDP renders ccswitch's description for leg l. With mirror (an offer being answered),
// every m-line of the offer gets a line in the same order: index audio carries a, the others
// are rejected with port 0 (RFC 3264 §6). The o= version moves only when the content changes
// (RFC 3264 §8), and never goes back.
func (l *leg) buildSDP(a localAudio, mirror *sdp.SessionDescription, audio int) []byte {
	render := func(version uint64) []byte {
		ip := l.call.e.publicIP.String()
		sd := &sdp.SessionDescription{
			Origin: sdp.Origin{Username: "ccswitch", SessionID: l.sessID, SessionVersion: version,
				NetworkType: "IN", AddressType: addrType(l.call.e.publicIP), UnicastAddress: ip},
			SessionName: "ccswitch",
			ConnectionInformation: &sdp.ConnectionInformation{NetworkType: "IN",
				AddressType: addrType(l.call.e.publicIP), Address: &sdp.Address{Address: ip}},
			TimeDescriptions: []sdp.TimeDescription{{}},
		}
		if mirror == nil {
			sd.MediaDescriptions = []*sdp.MediaDescription{audioMedia(a)}
		} else {
			for i, md := range mirror.MediaDescriptions {
				if i == audio {
					sd.MediaDescriptions = append(sd.MediaDescriptions, audioMedia(a))
					continue
				}
				sd.MediaDescriptions = append(sd.MediaDescriptions, &sdp.MediaDescription{
					MediaName: sdp.MediaName{Media: md.MediaName.Media, Port: sdp.RangedPort{Value: 0},
						Protos: md.MediaName.Protos, Formats: md.MediaName.Formats},
				})
			}
		}
		b, _ := sd.Marshal() // cannot fail on a description built here
		return b
	}
	key := string(render(0))
	if key != l.lastSDP || l.version == 0 {
		l.version++
		l.lastSDP = key
	}
	return render(l.version)
}

func addrType(ip netip.Addr) string {
	if ip.Is4() {
		return "IP4"
	}
	return "IP6"
}

func audioMedia(a localAudio) *sdp.MediaDescription {
	proto := []string{"RTP", "AVP"}
	if a.savp {
		proto = []string{"RTP", "SAVP"}
	}
	md := &sdp.MediaDescription{MediaName: sdp.MediaName{Media: "audio",
		Port: sdp.RangedPort{Value: a.port}, Protos: proto}}
	for _, f := range a.formats {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(int(f.pt)))
	}
	if a.dtmfPT >= 0 {
		md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(a.dtmfPT))
	}
	for _, f := range a.formats {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", strconv.Itoa(int(f.pt))+" "+f.codec.String()+"/8000"))
	}
	if a.dtmfPT >= 0 {
		pt := strconv.Itoa(a.dtmfPT)
		md.Attributes = append(md.Attributes, sdp.NewAttribute("rtpmap", pt+" telephone-event/8000"),
			sdp.NewAttribute("fmtp", pt+" 0-16"))
	}
	md.Attributes = append(md.Attributes, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(a.dir.String()))
	if a.crypto != nil && a.port != 0 {
		md.Attributes = append(md.Attributes, sdp.NewAttribute("crypto", a.crypto.attr()))
	}
	if a.mux && a.port != 0 {
		md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute("rtcp-mux"))
	}
	return md
}
