package media

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const suite80 = "AES_CM_128_HMAC_SHA1_80"

// mline returns the proto and attributes of the index-th m= line of an SDP ccswitch wrote.
func mline(t *testing.T, body []byte, index int) (port int, proto string, attrs map[string]string) {
	t.Helper()
	md := parseOut(t, body).MediaDescriptions[index]
	attrs = map[string]string{}
	for _, a := range md.Attributes {
		attrs[a.Key] = a.Value
	}
	return md.MediaName.Port.Value, strings.Join(md.MediaName.Protos, "/"), attrs
}

// TestSRTPLegBridgesPlainLeg (issue 10, SRTP): A offers RTP/SAVP with its key; ccswitch
// answers with its own key (not A's) and offers B plain RTP (B's policy is optional and it
// did not offer SRTP). A's SRTP reaches B decrypted, B's RTP reaches A encrypted with
// ccswitch's key.
func TestSRTPLegBridgesPlainLeg(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b := newPhone(t), newPhone(t)
	cryptoA := a.useSRTP(suite80)
	offerB, err := c.OfferFromA(a.sdp(1, "0 101", "", "proto=RTP/SAVP", cryptoA))
	if err != nil {
		t.Fatal(err)
	}
	if _, proto, attrs := mline(t, offerB, 0); proto != "RTP/AVP" || attrs["crypto"] != "" {
		t.Fatalf("offer to the plain leg B: %s crypto %q\n%s", proto, attrs["crypto"], offerB)
	}
	answerA, err := c.AnswerFromB(b.sdp(1, "0 101", ""))
	if err != nil {
		t.Fatal(err)
	}
	_, proto, attrs := mline(t, answerA, 0)
	if proto != "RTP/SAVP" || !strings.HasPrefix(attrs["crypto"], "1 "+suite80+" inline:") {
		t.Fatalf("answer to A: %s crypto %q\n%s", proto, attrs["crypto"], answerA)
	}
	if a.takeKey(answerA) == cryptoA {
		t.Fatal("ccswitch answered with A's own key: it must generate its own")
	}
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)
	for i := 0; i < 5; i++ {
		a.send(toA, 0, payloadOf(byte(i), 160))
		b.send(toB, 0, payloadOf(byte(50+i), 160))
	}
	for i := 0; i < 5; i++ {
		if p, _ := b.recv(); p.Payload[0] != byte(i) || len(p.Payload) != 160 {
			t.Fatalf("B got payload %#x (%d bytes): A's SRTP must reach it decrypted", p.Payload[0], len(p.Payload))
		}
		if p, _ := a.recv(); p.Payload[0] != byte(50+i) { // recv decrypts with ccswitch's key
			t.Fatalf("A got payload %#x", p.Payload[0])
		}
	}
	// DTMF (RFC 4733) from the SRTP leg is seen and relayed to the plain one.
	a.send(toA, 101, []byte{5, 0x0a, 0, 160})
	if ev := <-c.DTMF(); ev.Digit != '5' || ev.Leg != LegA {
		t.Fatalf("DTMF %+v", ev)
	}
	if p, _ := b.recv(); p.PayloadType != 101 || p.Payload[0] != 5 {
		t.Fatalf("event to B: pt %d", p.PayloadType)
	}
	st := c.Stats()
	if !st.A.SRTP || st.B.SRTP || st.A.PacketsIn != 6 || st.B.PacketsIn != 5 || st.A.SRTPFailed != 0 {
		t.Fatalf("stats A %+v B %+v", st.A, st.B)
	}
}

// TestSRTPAnswerToSAVPAndAVPLines: an offer with an RTP/SAVP line and an RTP/AVP line (the way
// phones offer "SRTP if you can") gets one line accepted and the other refused with port 0, by
// the leg's policy; RTP/AVP with a=crypto (best effort, as baresip's "srtp" mode offers) is
// SRTP unless the policy is off.
func TestSRTPAnswerToSAVPAndAVPLines(t *testing.T) {
	key := "a=crypto:3 " + suite80 + " inline:" + testKey
	both := "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\n" + key + "\r\n" +
		"m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	bestEffort := string(phoneSDP(4000, 1, "0", "", key))
	unsupported := strings.Replace(both, suite80, "AEAD_AES_256_GCM", 1)
	mki := strings.Replace(both, testKey, testKey+"|2^20|1:4", 1)
	tests := []struct {
		name    string
		offer   string
		policy  SRTPPolicy
		wantErr error
		want    []string // per m-line: "SAVP", "AVP", "AVP+crypto" or "0" (refused)
	}{
		{"both lines, optional", both, SRTPOptional, nil, []string{"SAVP", "0"}},
		{"both lines, required", both, SRTPRequired, nil, []string{"SAVP", "0"}},
		{"both lines, off", both, SRTPOff, nil, []string{"0", "AVP"}},
		{"best effort, optional", bestEffort, SRTPOptional, nil, []string{"AVP+crypto"}},
		{"best effort, off", bestEffort, SRTPOff, nil, []string{"AVP"}},
		{"plain, required", string(phoneSDP(4000, 1, "0", "")), SRTPRequired, ErrSRTPRequired, nil},
		{"SAVP only, off", strings.Replace(bestEffort, "RTP/AVP", "RTP/SAVP", 1), SRTPOff, ErrNoCommonCrypto, nil},
		{"unsupported suite falls back to the plain line", unsupported, SRTPOptional, nil, []string{"0", "AVP"}},
		{"unsupported suite, required", unsupported, SRTPRequired, ErrSRTPRequired, nil},
		{"MKI is not supported", mki, SRTPOptional, nil, []string{"0", "AVP"}},
	}
	reg := prometheus.NewRegistry()
	e := newTestEngine(t, Config{Registerer: reg})
	refusals := 0.0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := e.NewCall(CallOptions{})
			defer c.Close()
			c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1"), SRTP: tt.policy})
			ans, err := c.AnswerLocal(LegA, []byte(tt.offer))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				refusals++
				if got := testutil.ToFloat64(e.m.srtpRefused); got != refusals {
					t.Fatalf("ccswitch_media_srtp_refused_total = %v, want %v", got, refusals)
				}
				if strings.Contains(err.Error(), testKey) {
					t.Fatalf("error quotes the key: %v", err)
				}
				return
			}
			var got []string
			for i := range tt.want {
				port, proto, attrs := mline(t, ans, i)
				switch {
				case port == 0:
					got = append(got, "0")
				case proto == "RTP/SAVP" && attrs["crypto"] != "":
					got = append(got, "SAVP")
				case proto == "RTP/AVP" && attrs["crypto"] != "":
					got = append(got, "AVP+crypto")
				case proto == "RTP/AVP":
					got = append(got, "AVP")
				default:
					got = append(got, proto+"?")
				}
				if attrs["crypto"] != "" && !strings.HasPrefix(attrs["crypto"], "3 "+suite80) {
					t.Errorf("m-line %d: crypto %q must answer the offer's tag 3 and suite", i, attrs["crypto"])
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("answer lines %v, want %v\n%s", got, tt.want, ans)
			}
			secure := strings.Contains(strings.Join(got, ","), "SAVP") || strings.Contains(strings.Join(got, ","), "crypto")
			if c.Stats().A.SRTP != secure {
				t.Fatalf("leg SRTP = %v for answer %v", c.Stats().A.SRTP, got)
			}
		})
	}
}

// TestSRTPRequiredCallee: ccswitch's offer to a leg that requires SRTP is RTP/SAVP with its own
// key; an answer that does not take it is refused, one that does makes the leg SRTP; a leg
// that uses SRTP keeps getting SRTP offers (re-INVITE) even when its policy is optional.
func TestSRTPRequiredCallee(t *testing.T) {
	e := newTestEngine(t, Config{})
	newCall := func() (*Call, *phone, *phone, []byte) {
		c, _ := e.NewCall(CallOptions{})
		t.Cleanup(func() { c.Close() })
		a, b := newPhone(t), newPhone(t)
		c.SetPeer(LegB, Peer{SRTP: SRTPRequired})
		offerB, err := c.OfferFromA(a.sdp(1, "0", ""))
		if err != nil {
			t.Fatal(err)
		}
		return c, a, b, offerB
	}
	c, _, b, offerB := newCall()
	if _, proto, attrs := mline(t, offerB, 0); proto != "RTP/SAVP" || !strings.HasPrefix(attrs["crypto"], "1 "+suite80+" inline:") {
		t.Fatalf("offer to a leg requiring SRTP:\n%s", offerB)
	}
	if _, err := c.AnswerFromB(b.sdp(1, "0", "")); !errors.Is(err, ErrSRTPRequired) {
		t.Fatalf("plain answer to an SRTP offer: %v, want ErrSRTPRequired", err)
	}
	wrongTag := "a=crypto:7 " + suite80 + " inline:" + testKey
	if _, err := c.AnswerFromB(b.sdp(1, "0", "", "proto=RTP/SAVP", wrongTag)); !errors.Is(err, ErrNoCommonCrypto) {
		t.Fatalf("answer with a tag ccswitch did not offer: %v, want ErrNoCommonCrypto", err)
	}

	c, a, b, offerB := newCall()
	b.takeKey(offerB)
	if _, err := c.AnswerFromB(b.sdp(1, "0", "", "proto=RTP/SAVP", b.useSRTP(suite80))); err != nil {
		t.Fatal(err)
	}
	a.send(c.LocalAddr(LegA), 0, payloadOf(1, 160))
	b.send(c.LocalAddr(LegB), 0, payloadOf(2, 160))
	if p, _ := b.recv(); p.Payload[0] != 1 {
		t.Fatal("A→B (encrypted for B)")
	}
	if p, _ := a.recv(); p.Payload[0] != 2 {
		t.Fatal("B→A (decrypted from B)")
	}
	if st := c.Stats(); st.A.SRTP || !st.B.SRTP {
		t.Fatalf("SRTP A=%v B=%v", st.A.SRTP, st.B.SRTP)
	}
	// Sticky: with B's policy now optional, a re-offer to B stays SRTP (same key: no re-keying).
	c.SetPeer(LegB, Peer{SRTP: SRTPOptional})
	reoffer, err := c.OfferTo(LegB, SendOnly)
	if err != nil {
		t.Fatal(err)
	}
	if _, proto, _ := mline(t, reoffer, 0); proto != "RTP/SAVP" {
		t.Fatalf("re-offer to an SRTP leg must stay SRTP:\n%s", reoffer)
	}
	if b.takeKey(reoffer) != b.takeKey(offerB) {
		t.Fatal("re-offer changed ccswitch's key without a reason")
	}
}

// TestSRTPPromptDTMFAndRecording: on an SRTP leg answered by ccswitch (the IVR), a prompt and
// RFC 4733 digits sent by ccswitch decrypt with ccswitch's key, the caller's encrypted digits
// are received, and the recording holds the caller's decrypted audio.
func TestSRTPPromptDTMFAndRecording(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a := newPhone(t)
	c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1"), SRTP: SRTPRequired})
	ans, err := c.AnswerLocal(LegA, a.sdp(1, "8 101", "", "proto=RTP/SAVP", a.useSRTP(suite80)))
	if err != nil {
		t.Fatal(err)
	}
	a.takeKey(ans)
	pcm := make([]int16, 5*160)
	for i := range pcm {
		pcm[i] = int16(i * 37)
	}
	prompt := NewPrompt("p", pcm)
	if _, err := c.Play(context.Background(), LegA, prompt, PlayOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		p, _ := a.recv()
		if p.PayloadType != 8 || string(p.Payload) != string(prompt.alaw[i*160:(i+1)*160]) {
			t.Fatalf("prompt frame %d does not decrypt to the prompt (pt %d)", i, p.PayloadType)
		}
	}
	if err := c.SendDTMF(context.Background(), LegA, '7', 0); err != nil {
		t.Fatal(err)
	}
	p, _ := a.recv()
	if p.PayloadType != 101 || p.Payload[0] != 7 {
		t.Fatalf("DTMF to the SRTP leg: pt %d event %d", p.PayloadType, p.Payload[0])
	}
	a.drain() // the rest of the event (SendDTMF returned: every packet is queued)
	path := filepath.Join(t.TempDir(), "srtp.wav")
	if err := c.StartRecording(path); err != nil {
		t.Fatal(err)
	}
	loudFrame := make([]byte, 160)
	encode(loudFrame, pcmOf(8000, 160), PCMA)
	for i := 0; i < 10; i++ {
		a.send(c.LocalAddr(LegA), 8, loudFrame)
	}
	a.send(c.LocalAddr(LegA), 101, []byte{9, 0x0a, 0, 160})
	if ev := <-c.DTMF(); ev.Digit != '9' || ev.Source != RFC4733 {
		t.Fatalf("DTMF from the SRTP leg: %+v", ev)
	}
	if err := c.StopRecording(); err != nil {
		t.Fatal(err)
	}
	wav, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	loud := 0
	for i := 44; i+3 < len(wav); i += 4 { // stereo 16-bit: left = the caller
		if v := int16(uint16(wav[i]) | uint16(wav[i+1])<<8); v > 500 || v < -500 {
			loud++
		}
	}
	if loud < 1500 {
		t.Fatalf("recording holds %d loud caller samples, want the 1600 sent (decrypted)", loud)
	}
	if st := c.Stats(); st.A.SRTPFailed != 0 {
		t.Fatalf("SRTP failures %d", st.A.SRTPFailed)
	}
}

// TestSRTPAuthFailureAndLatch: a packet that fails SRTP authentication is dropped and counted,
// and does not latch the leg: only an authenticated packet does, so a forged packet from the
// peer's own IP cannot take the call's audio.
func TestSRTPAuthFailureAndLatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newTestEngine(t, Config{Registerer: reg})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b, forger := newPhone(t), newPhone(t), newPhone(t) // forger: same IP as A
	c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1")})
	if _, err := c.OfferFromA(a.sdp(1, "0", "", "proto=RTP/SAVP", a.useSRTP(suite80))); err != nil {
		t.Fatal(err)
	}
	ans, err := c.AnswerFromB(b.sdp(1, "0", ""))
	if err != nil {
		t.Fatal(err)
	}
	a.takeKey(ans)
	forger.useSRTP(suite80) // a key of its own: its packets do not authenticate
	forger.send(c.LocalAddr(LegA), 0, payloadOf(0xEE, 160))
	waitFor(t, "forged packet handled", func() bool { return c.Stats().A.SRTPFailed == 1 })
	a.send(c.LocalAddr(LegA), 0, payloadOf(1, 160))
	if p, _ := b.recv(); p.Payload[0] != 1 {
		t.Fatal("A's packet must be relayed")
	}
	b.send(c.LocalAddr(LegB), 0, payloadOf(2, 160))
	if p, from := a.recv(); p.Payload[0] != 2 || from != c.LocalAddr(LegA) {
		t.Fatal("B's audio must go to A, not the forger")
	}
	forger.nothingQueued("the forger")
	// A replayed packet (same sequence number) fails the replay check.
	a.seq--
	a.send(c.LocalAddr(LegA), 0, payloadOf(1, 160))
	waitFor(t, "replay handled", func() bool { return c.Stats().A.SRTPFailed == 2 })
	if got := testutil.ToFloat64(e.m.srtpAuth); got != 2 {
		t.Fatalf("ccswitch_media_srtp_auth_failures_total = %v, want 2", got)
	}
}

// TestSRTPKeysFreshAndNeverLogged: every leg of every call gets its own key, and no key (the
// peer's or ccswitch's) appears in the logs, even at debug level and when SDP is refused.
func TestSRTPKeysFreshAndNeverLogged(t *testing.T) {
	var logs logBuffer
	e := newTestEngine(t, Config{Logger: logs.logger(), RTPTimeout: 0})
	keys := map[string]bool{}
	for i := 0; i < 3; i++ {
		c, _ := e.NewCall(CallOptions{ID: "k"})
		a, b := newPhone(t), newPhone(t)
		ka := a.useSRTP(suite80)
		keys[strings.Fields(ka)[2]] = true
		c.SetPeer(LegB, Peer{SRTP: SRTPRequired})
		offerB, err := c.OfferFromA(a.sdp(1, "0", "", "proto=RTP/SAVP", ka))
		if err != nil {
			t.Fatal(err)
		}
		kb := b.takeKey(offerB)
		answerA, err := c.AnswerFromB(b.sdp(1, "0", "", "proto=RTP/SAVP", b.useSRTP(suite80)))
		if err != nil {
			t.Fatal(err)
		}
		kaa := a.takeKey(answerA)
		for _, k := range []string{kb, kaa} {
			f := strings.Fields(k)[2]
			if keys[f] {
				t.Fatalf("key %d reused", i)
			}
			keys[f] = true
		}
		// A refused offer from a forger with a key: logged, key not.
		c2, _ := e.NewCall(CallOptions{ID: "refused"})
		c2.SetPeer(LegA, Peer{SRTP: SRTPOff})
		c2.AnswerLocal(LegA, []byte(strings.Replace(string(a.sdp(1, "0", "", ka)), "RTP/AVP", "RTP/SAVP", 1)))
		c2.Close()
		c.Close()
	}
	out := logs.String()
	if !strings.Contains(out, "SRTP policy") {
		t.Fatalf("the refusal was not logged:\n%s", out)
	}
	for k := range keys {
		raw := strings.TrimPrefix(k, "inline:")
		if strings.Contains(out, raw) || strings.Contains(out, raw[:16]) {
			t.Fatalf("a key appears in the logs:\n%s", out)
		}
	}
	if raw, err := base64.StdEncoding.DecodeString(testKey); err != nil || len(raw) != keyLen {
		t.Fatalf("testKey: %v", err)
	}
}

// TestSRTPRelayAllocations: with SRTP on either side, the relay hot path stays free of
// allocations (pion/srtp v3.1.3 reuses its buffers; ccswitch decrypts and encrypts in place).
func TestSRTPRelayAllocations(t *testing.T) {
	for _, tc := range []struct {
		name       string
		aSRTP, bSR bool
	}{{"SRTP in, RTP out", true, false}, {"RTP in, SRTP out", false, true}, {"SRTP both ways", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			c, _ := e.NewCall(CallOptions{})
			defer c.Close()
			a, b := newPhone(t), newPhone(t)
			var extraA []string
			if tc.aSRTP {
				extraA = []string{"proto=RTP/SAVP", a.useSRTP(suite80)}
			}
			if tc.bSR {
				c.SetPeer(LegB, Peer{SRTP: SRTPRequired})
			}
			c.SetPeer(LegA, Peer{Signal: mustAddr("127.0.0.1")})
			if _, err := c.OfferFromA(a.sdp(1, "0", "", extraA...)); err != nil {
				t.Fatal(err)
			}
			var extraB []string
			if tc.bSR {
				extraB = []string{"proto=RTP/SAVP", b.useSRTP(suite80)}
			}
			if _, err := c.AnswerFromB(b.sdp(1, "8", "", extraB...)); err != nil { // transcoding too
				t.Fatal(err)
			}
			la := c.leg(LegA)
			src := a.addr()
			plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}, Payload: payloadOf(0x7f, 160)}).Marshal()
			buf := make([]byte, 1500+srtpOverhead)
			seq := uint16(0)
			allocs := testing.AllocsPerRun(1000, func() {
				seq++
				plain[2], plain[3] = byte(seq>>8), byte(seq)
				pkt := append(buf[:0], plain...)
				if a.tx != nil {
					pkt, _ = a.tx.EncryptRTP(buf[:0], plain, nil) // the phone's work, outside the relay
				}
				la.handle(pkt, src)
			})
			// a.tx.EncryptRTP(…, nil) allocates its header in the phone's code; measure the relay alone.
			if a.tx != nil {
				phone := testing.AllocsPerRun(1000, func() {
					seq++
					plain[2], plain[3] = byte(seq>>8), byte(seq)
					a.tx.EncryptRTP(buf[:0], plain, nil)
				})
				allocs -= phone
			}
			t.Logf("%s: %.2f allocations per relayed packet", tc.name, allocs)
			if allocs > 0 && !raceEnabled {
				t.Fatalf("relay allocates %.2f times per packet (invariant 4)", allocs)
			}
			if st := c.Stats(); st.A.PacketsIn < 1000 || st.A.SRTPFailed != 0 {
				t.Fatalf("stats %+v", st.A)
			}
		})
	}
}

func pcmOf(v int16, n int) []int16 {
	p := make([]int16, n)
	for i := range p {
		p[i] = v
	}
	return p
}
