package voice_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
)

// atLeast fails unless every named count is ≥ min.
func atLeast(t *testing.T, what string, min uint64, counts map[string]uint64) {
	t.Helper()
	for k, v := range counts {
		if v < min {
			t.Errorf("%s: %s = %d, want ≥ %d (all: %v)", what, k, v, min, counts)
		}
	}
}

// TestSIPpAnchoredExtensionCall (issue 4): extension 1010 calls extension 1002 (a registered
// SIPp UAS that echoes RTP). Both legs' SDP point at ccswitch (c= 127.0.0.1, m= in the RTP
// range, a different port per leg); the caller's 2 s of tone (100 packets) cross ccswitch to
// the callee and the echo crosses back: the call's media figures count ≥ 90 packets in and
// out on both legs.
func TestSIPpAnchoredExtensionCall(t *testing.T) {
	r := newRig(t, "2s")
	uasPort, uasMedia := freePort(t), freeEvenPort(t)
	r.register("1002", uasPort, false)
	uas := r.sipp("callee 1002", "uas_echo.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(uasMedia))
	time.Sleep(100 * time.Millisecond)
	uac := r.sipp("caller 1010", "ext_call.xml", freePort(t), "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "1010", "-au", "1010", "-ap", "secret1010", "-s", "1002", r.addr)
	uac.wait()
	uas.wait()
	pa := r.checkSDP(uac, "SDP-ANSWER")
	pb := r.checkSDP(uas, "SDP-OFFER")
	if pa == pb {
		t.Fatalf("both legs on port %d", pa)
	}
	st := r.releasedStats()
	t.Logf("SDP A port %d, B port %d; media A %+v B %+v", pa, pb, st.A, st.B)
	atLeast(t, "anchored call", 90, map[string]uint64{"A in (caller's tone)": st.A.PacketsIn, "B out (tone to callee)": st.B.PacketsOut,
		"B in (callee's echo)": st.B.PacketsIn, "A out (echo to caller)": st.A.PacketsOut})
	if st.A.Lost > 5 || st.B.Lost > 5 {
		t.Errorf("loss A %d B %d", st.A.Lost, st.B.Lost)
	}
}

// TestSIPpAnchoredTrunkCall (issue 4): the carrier (SIPp from the trunk's source port, no
// auth) calls DID +15550101, whose target is extension 1002: anchored both ways as above.
func TestSIPpAnchoredTrunkCall(t *testing.T) {
	r := newRig(t, "2s")
	uasPort, uasMedia := freePort(t), freeEvenPort(t)
	r.register("1002", uasPort, false)
	uas := r.sipp("callee 1002", "uas_echo.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(uasMedia))
	time.Sleep(100 * time.Millisecond)
	uac := r.sipp("carrier", "trunk_call.xml", r.carrier, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550101", r.addr)
	uac.wait()
	uas.wait()
	if r.checkSDP(uac, "SDP-ANSWER") == r.checkSDP(uas, "SDP-OFFER") {
		t.Fatal("both legs on one port")
	}
	st := r.releasedStats()
	t.Logf("media A %+v B %+v", st.A, st.B)
	atLeast(t, "trunk call", 90, map[string]uint64{"A in": st.A.PacketsIn, "B out": st.B.PacketsOut,
		"B in": st.B.PacketsIn, "A out": st.A.PacketsOut})
}

// TestSIPpClosedNumber (issue 5): the carrier calls +15550102 (always closed). ccswitch
// answers with its own media (c= 127.0.0.1, m= in range), plays the "closed" prompt and
// hangs up with BYE. The caller runs -rtp_echo, so every prompt packet it received comes back:
// ccswitch sent the prompt's length / 20 ms packets (±2) and got as many back (≥ sent − 3).
func TestSIPpClosedNumber(t *testing.T) {
	r := newRig(t, "2s")
	p, err := media.LoadWAV(filepath.Join(r.promptsDir, "en", "closed.wav"))
	if err != nil {
		t.Fatal(err)
	}
	want := uint64((p.Duration() + 19*time.Millisecond) / (20 * time.Millisecond))
	uac := r.sipp("carrier", "closed.xml", r.carrier, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550102", r.addr)
	uac.wait()
	r.checkSDP(uac, "SDP-ANSWER")
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeUnavailable {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	out, in := s.Media.A.PacketsOut, s.Media.A.PacketsIn
	t.Logf("closed prompt %v: sent %d packets, echoed back %d", p.Duration(), out, in)
	if out+2 < want || out > want+2 {
		t.Errorf("prompt packets sent %d, want %d ± 2 (%v prompt)", out, want, p.Duration())
	}
	if in+3 < out {
		t.Errorf("caller echoed %d of %d prompt packets", in, out)
	}
}
