package media

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

func parseOut(t *testing.T, b []byte) *sdp.SessionDescription {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		t.Fatalf("ccswitch wrote unparseable SDP: %v\n%s", err, b)
	}
	return &sd
}

func TestOfferAnswerPointsAtCcswitch(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b := newPhone(t), newPhone(t)
	offerB, err := c.OfferFromA(a.sdp(1, "0 8 101", ""))
	if err != nil {
		t.Fatal(err)
	}
	sd := parseOut(t, offerB)
	md := sd.MediaDescriptions[0]
	if got, want := md.MediaName.Port.Value, int(c.LocalAddr(LegB).Port()); got != want {
		t.Fatalf("offer to B: m= port %d, want ccswitch's leg B port %d", got, want)
	}
	if sd.ConnectionInformation.Address.Address != "127.0.0.1" {
		t.Fatalf("offer to B: c= %s", sd.ConnectionInformation.Address.Address)
	}
	if got := strings.Join(md.MediaName.Formats, " "); got != "0 8 101" {
		t.Fatalf("offer to B formats %q, want \"0 8 101\"", got)
	}
	answerA, err := c.AnswerFromB(b.sdp(1, "8 101", ""))
	if err != nil {
		t.Fatal(err)
	}
	sa := parseOut(t, answerA)
	ma := sa.MediaDescriptions[0]
	if got, want := ma.MediaName.Port.Value, int(c.LocalAddr(LegA).Port()); got != want {
		t.Fatalf("answer to A: port %d want %d", got, want)
	}
	// B chose PCMA, which A offered: no transcoding, A is answered PCMA.
	if got := strings.Join(ma.MediaName.Formats, " "); got != "8 101" {
		t.Fatalf("answer to A formats %q, want \"8 101\"", got)
	}
	if c.Codec(LegA) != PCMA || c.Codec(LegB) != PCMA {
		t.Fatalf("codecs A=%v B=%v, want PCMA both", c.Codec(LegA), c.Codec(LegB))
	}
	if c.LocalAddr(LegA) == c.LocalAddr(LegB) || c.LocalAddr(LegA).Port()%2 != 0 || c.LocalAddr(LegB).Port()%2 != 0 {
		t.Fatalf("leg ports %v %v: want distinct even ports", c.LocalAddr(LegA), c.LocalAddr(LegB))
	}
	rtcp := netip.AddrPortFrom(c.LocalAddr(LegA).Addr(), c.LocalAddr(LegA).Port()+1)
	if conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(rtcp)); err == nil {
		conn.Close()
		t.Fatalf("RTCP port %v is not held by the call", rtcp)
	}
}

func TestCodecMismatchTranscodes(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	offerB, err := c.OfferFromA(phoneSDP(4000, 1, "0", ""))
	if err != nil {
		t.Fatal(err)
	}
	// ccswitch adds PCMA (and telephone-event) so B may pick it.
	if got := strings.Join(parseOut(t, offerB).MediaDescriptions[0].MediaName.Formats, " "); got != "0 8 101" {
		t.Fatalf("offer to B %q", got)
	}
	answerA, err := c.AnswerFromB(phoneSDP(4002, 1, "8", ""))
	if err != nil {
		t.Fatal(err)
	}
	ma := parseOut(t, answerA).MediaDescriptions[0]
	if got := strings.Join(ma.MediaName.Formats, " "); got != "0" {
		t.Fatalf("answer to A %q, want \"0\" (A did not offer telephone-event)", got)
	}
	if c.Codec(LegA) != PCMU || c.Codec(LegB) != PCMA {
		t.Fatalf("codecs A=%v B=%v, want PCMU/PCMA (transcoding)", c.Codec(LegA), c.Codec(LegB))
	}
}

func TestUnsupportedMediaRejected(t *testing.T) {
	e := newTestEngine(t, Config{})
	tests := []struct {
		name    string
		offer   []byte
		wantErr error
		wantM   []int // expected ports: -1 = ccswitch's port, 0 = rejected
	}{
		{"audio+video", phoneSDP(4000, 1, "0 101", "", "m=video 4010 RTP/AVP 96", "a=rtpmap:96 H264/90000"), nil, []int{-1, 0}},
		{"video first", []byte("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 4010 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 8\r\n"), nil, []int{0, -1}},
		{"srtp audio then plain audio", []byte("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4004 RTP/SAVP 0\r\nm=audio 4000 RTP/AVP 0\r\nm=audio 4006 RTP/AVP 8\r\n"), nil, []int{0, -1, 0}},
		{"opus only", phoneSDP(4000, 1, "111", ""), ErrNoCommonCodec, nil},
		{"srtp without crypto only", []byte("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n"), ErrNoCommonCrypto, nil},
		{"garbage", []byte("hello"), ErrBadSDP, nil},
		{"fqdn", []byte("v=0\r\no=x 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 pbx.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"), ErrBadSDP, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := e.NewCall(CallOptions{})
			defer c.Close()
			ans, err := c.AnswerLocal(LegA, tt.offer)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			sd := parseOut(t, ans)
			if len(sd.MediaDescriptions) != len(tt.wantM) {
				t.Fatalf("answer has %d m-lines, want %d (same as offer)\n%s", len(sd.MediaDescriptions), len(tt.wantM), ans)
			}
			for i, w := range tt.wantM {
				got := sd.MediaDescriptions[i].MediaName.Port.Value
				if w == -1 {
					w = int(c.LocalAddr(LegA).Port())
				}
				if got != w {
					t.Fatalf("m-line %d port %d, want %d\n%s", i, got, w, ans)
				}
			}
		})
	}
}

func sdpVersion(t *testing.T, b []byte) (uint64, uint64) {
	sd := parseOut(t, b)
	return sd.Origin.SessionID, sd.Origin.SessionVersion
}

func sdpDir(t *testing.T, b []byte) string {
	md := parseOut(t, b).MediaDescriptions[0]
	for _, a := range md.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return ""
}

func TestHoldResumeDirectionsAndVersions(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	offer1, _ := c.OfferFromA(phoneSDP(4000, 1, "0 101", ""))
	answer1, _ := c.AnswerFromB(phoneSDP(4002, 1, "0 101", ""))
	idB, vB1 := sdpVersion(t, offer1)
	idA, vA1 := sdpVersion(t, answer1)

	// A holds: sendonly passes through, B's recvonly comes back.
	offer2, err := c.OfferFrom(LegA, phoneSDP(4000, 2, "0 101", "sendonly"))
	if err != nil {
		t.Fatal(err)
	}
	if d := sdpDir(t, offer2); d != "sendonly" {
		t.Fatalf("hold offer to B has %q, want sendonly", d)
	}
	answer2, err := c.AnswerFromB(phoneSDP(4002, 2, "0 101", "recvonly"))
	if err != nil {
		t.Fatal(err)
	}
	if d := sdpDir(t, answer2); d != "recvonly" {
		t.Fatalf("hold answer to A has %q, want recvonly", d)
	}
	id2B, vB2 := sdpVersion(t, offer2)
	id2A, vA2 := sdpVersion(t, answer2)
	if id2B != idB || id2A != idA || vB2 != vB1+1 || vA2 != vA1+1 {
		t.Fatalf("o= after hold: B %d/%d→%d/%d, A %d/%d→%d/%d; want same ids, version+1", idB, vB1, id2B, vB2, idA, vA1, id2A, vA2)
	}
	if p := c.leg(LegA).params.Load(); p.sendOK() {
		t.Fatal("A said sendonly: ccswitch must not send to A")
	}
	// A same-content re-offer (session refresh) keeps the version.
	offer3, _ := c.OfferFrom(LegA, phoneSDP(4000, 3, "0 101", "sendonly"))
	if _, v := sdpVersion(t, offer3); v != vB2 {
		t.Fatalf("unchanged re-offer moved version %d → %d", vB2, v)
	}
	c.AnswerFromB(phoneSDP(4002, 3, "0 101", "recvonly"))
	// Resume.
	offer4, _ := c.OfferFrom(LegA, phoneSDP(4000, 4, "0 101", "sendrecv"))
	answer4, _ := c.AnswerFromB(phoneSDP(4002, 4, "0 101", "sendrecv"))
	if _, v := sdpVersion(t, offer4); v != vB2+1 || sdpDir(t, offer4) != "sendrecv" || sdpDir(t, answer4) != "sendrecv" {
		t.Fatalf("resume: version %d (want %d), dirs %q/%q", v, vB2+1, sdpDir(t, offer4), sdpDir(t, answer4))
	}
	if p := c.leg(LegA).params.Load(); !p.sendOK() {
		t.Fatal("after resume ccswitch must send to A")
	}
}

func TestOldStyleHoldAndLocalAnswerDirection(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	if _, err := c.AnswerLocal(LegA, phoneSDP(4000, 1, "8 101", "")); err != nil {
		t.Fatal(err)
	}
	ans, err := c.AnswerLocal(LegA, phoneSDP(4000, 2, "8 101", "sendonly"))
	if err != nil {
		t.Fatal(err)
	}
	if d := sdpDir(t, ans); d != "recvonly" {
		t.Fatalf("local answer to sendonly: %q, want recvonly", d)
	}
	old := strings.Replace(string(phoneSDP(4000, 3, "8 101", "")), "c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", 1)
	if _, err := c.AnswerLocal(LegA, []byte(old)); err != nil {
		t.Fatal(err)
	}
	if p := c.leg(LegA).params.Load(); p.sendOK() || p.remote.IsValid() {
		t.Fatalf("c=0.0.0.0 is hold: params %+v", p)
	}
}

func TestOfferAnswerStateErrors(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	if _, err := c.AnswerFromB(phoneSDP(4002, 1, "0", "")); !errors.Is(err, ErrNoPendingOffer) {
		t.Fatalf("answer without offer: %v", err)
	}
	c.OfferFromA(phoneSDP(4000, 1, "0", ""))
	if _, err := c.OfferFrom(LegB, phoneSDP(4002, 1, "0", "")); !errors.Is(err, ErrOfferPending) {
		t.Fatalf("glare: %v", err)
	}
	if _, err := c.AnswerFrom(LegA, phoneSDP(4000, 1, "0", "")); !errors.Is(err, ErrNoPendingOffer) {
		t.Fatalf("answer from the offerer: %v", err)
	}
	// 183 then 200 with the same answer: same answer for A, same version.
	a1, err := c.AnswerFromB(phoneSDP(4002, 1, "0", ""))
	if err != nil {
		t.Fatal(err)
	}
	a2, err := c.AnswerFromB(phoneSDP(4002, 1, "0", ""))
	if err != nil || string(a1) != string(a2) {
		t.Fatalf("repeated answer: err %v\n%s\nvs\n%s", err, a1, a2)
	}
	// A refused re-offer leaves the call as it was.
	c.OfferFrom(LegB, phoneSDP(4002, 2, "8", ""))
	c.CancelOffer()
	if c.Codec(LegB) != PCMU {
		t.Fatal("cancelled offer changed the codec")
	}
	c.Close()
	if _, err := c.OfferFromA(phoneSDP(4000, 1, "0", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestPortPoolExhaustionAndReuse(t *testing.T) {
	e := newTestEngine(t, Config{PortMin: 20990, PortMax: 20993}) // two even ports
	c1, _ := e.NewCall(CallOptions{})
	if _, err := c1.OfferFromA(phoneSDP(4000, 1, "0", "")); err != nil {
		t.Fatal(err)
	}
	c2, _ := e.NewCall(CallOptions{})
	if _, err := c2.OfferFromA(phoneSDP(4000, 1, "0", "")); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("third port: %v, want ErrNoPorts", err)
	}
	c1.Close()
	if _, err := c2.OfferFromA(phoneSDP(4000, 1, "0", "")); err != nil {
		t.Fatalf("after Close the ports are free again: %v", err)
	}
	c2.Close()
}
