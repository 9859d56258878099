package voice_test

import (
	"context"
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/store"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
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
	t.Parallel()
	r := newRig(t, "2s")
	uasPort, uasMedia := testenv.FreePort(t), freeEvenPort(t)
	r.register("1002", uasPort, false)
	uas := r.sipp("callee 1002", "uas_echo.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(uasMedia))
	time.Sleep(100 * time.Millisecond)
	uac := r.sipp("caller 1010", "ext_call.xml", testenv.FreePort(t), "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "1010", "-au", "1010", "-ap", "secret1010", "-auth_uri", "1002@"+r.addr, "-s", "1002", r.addr)
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
// auth) calls DID +15550101, whose target is extension 1001: anchored both ways as above.
func TestSIPpAnchoredTrunkCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, "2s")
	uasPort, uasMedia := testenv.FreePort(t), freeEvenPort(t)
	r.register("1001", uasPort, false)
	uas := r.sipp("callee 1001", "uas_echo.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(uasMedia))
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
	t.Parallel()
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

// agentPhone registers ext as a SIPp UAS running scenario and returns it (started).
func (r *rig) agentPhone(ext, scenario string, extra ...string) *sippRun {
	r.t.Helper()
	port := testenv.FreePort(r.t)
	args := append([]string{"-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(r.t))}, extra...)
	r.register(ext, port, true) // from the phone's own port: calls reach it only through that flow
	s := r.sipp("agent "+ext, scenario, port, args...)
	time.Sleep(100 * time.Millisecond) // SIPp binds its socket
	return s
}

// caller starts the carrier calling did with scenario; the caller echoes RTP (-rtp_echo) and
// its default pause (-d) lasts past the welcome prompt.
func (r *rig) caller(scenario, did string) *sippRun {
	r.t.Helper()
	return r.sipp("carrier", scenario, r.carrier, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(r.t)),
		"-d", fmt.Sprint(r.welcomeDelay.Milliseconds()), "-key", "user", "carrier", "-s", did, r.addr)
}

// TestSIPpMenuToAgent (issue 5): agent 1001 (sales) logs in automatically when its phone (a
// SIPp UAS) registers. The carrier calls +15550103, hears the welcome prompt, presses 1 as
// RFC 4733; the call is queued in sales, 1001's phone rings with an offer at ccswitch
// (c= 127.0.0.1, m= in range), answers and sends 2 s of tone, which crosses to the caller
// and comes back (caller's echo) through the bridge; the agent hangs up and ccswitch BYEs
// the caller. The ACD counts one answered and one completed call in sales, none in support.
func TestSIPpMenuToAgent(t *testing.T) {
	t.Parallel()
	r := newRig(t, "5s")
	agent := r.agentPhone("1001", "agent_answer.xml", "-d", "300")
	uac := r.caller("menu_1.xml", "+15550103")
	uac.wait()
	agent.wait()
	r.checkSDP(uac, "SDP-ANSWER")
	r.checkSDP(agent, "SDP-OFFER")
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAnswered || s.Result.Queue != "sales" || s.Agent != "1001" {
		t.Fatalf("result %+v agent %q err %v", s.Result, s.Agent, s.Err)
	}
	t.Logf("path %+v; media A %+v B %+v", s.Result.Path, s.Media.A, s.Media.B)
	select { // the desktop's screen pop was told who rang whom
	case ring := <-r.rings:
		if ring[0] != "1001" || ring[1] == "" || ring[2] == "" {
			t.Errorf("screen pop hook got agent %q call %q caller %q", ring[0], ring[1], ring[2])
		}
	default:
		t.Error("OnRing was not called when 1001 rang")
	}
	atLeast(t, "bridge", 90, map[string]uint64{"B in (agent's tone)": s.Media.B.PacketsIn, "B out (caller's echo of it)": s.Media.B.PacketsOut})
	deadline := time.Now().Add(3 * time.Second)
	for {
		q := r.queue("sales")
		if q.Answered == 1 && q.Completed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sales %+v", q)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if q := r.queue("support"); q.Entered != 0 {
		t.Fatalf("support %+v", q)
	}
	// The call record, written once the agent's 5 s wrap-up ended: one record for the call,
	// with the agent's leg folded in, the agent, queue, times and both legs' media figures.
	var rec store.CallRecord
	waitRecords(t, r, func(recs []store.CallRecord) bool {
		if len(recs) == 1 {
			rec = recs[0]
		}
		return len(recs) == 1
	})
	if rec.Agent != "1001" || rec.Queue != "sales" || rec.Disposition != "answered" || rec.Flow != "demo" || rec.TalkMs <= 0 ||
		rec.WrapUpMs < 4000 || len(rec.Legs) != 2 || rec.Legs[0].Packets < 90 || rec.Legs[1].Packets < 90 {
		t.Fatalf("call record %+v", rec)
	}
}

// waitRecords waits until the call records in the rig's store satisfy ok (the ledger writes a
// record when every part of it is in).
func waitRecords(t *testing.T, r *rig, ok func([]store.CallRecord) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs, err := r.st.CallRecords(time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ok(recs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call records %+v", recs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIPpMenuFrenchSupport: 9 (French) then 2 queues in support with language fr; agent
// 1003 (support only) answers.
func TestSIPpMenuFrenchSupport(t *testing.T) {
	t.Parallel()
	r := newRig(t, "5s")
	agent := r.agentPhone("1003", "agent_answer.xml", "-d", "300")
	uac := r.caller("menu_9_2.xml", "+15550103")
	uac.wait()
	agent.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAnswered || s.Result.Queue != "support" || s.Agent != "1003" || s.Result.Language != "fr" {
		t.Fatalf("result %+v agent %q err %v", s.Result, s.Agent, s.Err)
	}
}

// TestSIPpRONA (issue 5): agents 1001 then 1002 log in (1001 idle longest, offered first).
// 1001's phone rings and never answers: after the queue's RONA timeout (2 s) ccswitch
// CANCELs it (the SIPp UAS completes its CANCEL/487 scenario), the task goes back and 1002's
// phone rings and answers. The ACD counts one RONA and one answer; 1001 is in state RONA.
func TestSIPpRONA(t *testing.T) {
	t.Parallel()
	r := newRig(t, "2s")
	first := r.agentPhone("1001", "agent_noanswer.xml")
	time.Sleep(20 * time.Millisecond)
	second := r.agentPhone("1002", "agent_answer.xml", "-d", "300")
	start := time.Now()
	uac := r.caller("menu_1.xml", "+15550103")
	first.wait()
	rang := time.Since(start)
	uac.wait()
	second.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAnswered || s.Agent != "1002" {
		t.Fatalf("result %+v agent %q err %v", s.Result, s.Agent, s.Err)
	}
	if rang < r.welcomeDelay+2*time.Second {
		t.Errorf("1001 was cancelled %v after the call started, before welcome + RONA timeout", rang)
	}
	q := r.queue("sales")
	if q.RONA != 1 || q.Answered != 1 {
		t.Fatalf("sales %+v", q)
	}
	if a, _ := r.acd.Snapshot().Agent("1001"); a.State.String() != "rona" {
		t.Fatalf("1001 state %v", a.State)
	}
}

// TestSIPpAbandon (issue 5): agent 1001's phone rings without answering (RONA timeout 20 s);
// the caller hangs up 3 s after pressing 1: ccswitch CANCELs the ringing agent at once and the
// ACD counts the task abandoned (no RONA, no answer).
func TestSIPpAbandon(t *testing.T) {
	t.Parallel()
	r := newRig(t, "20s")
	agent := r.agentPhone("1001", "agent_noanswer.xml")
	start := time.Now()
	uac := r.caller("abandon.xml", "+15550103")
	uac.wait()
	agent.wait()
	if took := time.Since(start); took > r.welcomeDelay+8*time.Second {
		t.Errorf("agent cancelled %v after the call started", took)
	}
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAbandoned {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	q := r.queue("sales")
	if q.Abandoned != 1 || q.RONA != 0 || q.Answered != 0 {
		t.Fatalf("sales %+v", q)
	}
}

// TestSIPpPassthroughTrunk (issue 4): trunk "direct" says media: passthrough. Its call to
// +15550101 (extension 1001) is not anchored: the callee gets the caller's own media port in
// the offer and the caller gets the callee's in the answer, and no media call is created.
func TestSIPpPassthroughTrunk(t *testing.T) {
	t.Parallel()
	r := newRig(t, "2s")
	uasPort, uasMedia, uacMedia := testenv.FreePort(t), freeEvenPort(t), freeEvenPort(t)
	r.register("1001", uasPort, false)
	uas := r.sipp("callee 1001", "uas_echo.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(uasMedia))
	time.Sleep(100 * time.Millisecond)
	uac := r.sipp("direct trunk", "trunk_call.xml", r.direct, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(uacMedia),
		"-key", "user", "direct", "-s", "+15550101", r.addr)
	uac.wait()
	uas.wait()
	if _, m := uas.sdp("SDP-OFFER"); m != uacMedia {
		t.Errorf("callee was offered port %d, want the caller's own %d", m, uacMedia)
	}
	if _, m := uac.sdp("SDP-ANSWER"); m != uasMedia {
		t.Errorf("caller was answered port %d, want the callee's own %d", m, uasMedia)
	}
	select {
	case st := <-r.released:
		t.Fatalf("a passthrough call was anchored: %+v", st)
	case <-time.After(300 * time.Millisecond):
	}
	if r.anc.Calls() != 0 {
		t.Fatalf("anchor still tracks %d calls", r.anc.Calls())
	}
}

// TestSIPpRTPTimeout (issue 4): with media.rtp_timeout 1s, a trunk call to 1001 where nobody
// sends RTP is ended by ccswitch with BYE on both legs (both SIPp scenarios end on the BYE).
func TestSIPpRTPTimeout(t *testing.T) {
	t.Parallel()
	r := newRigTimeout(t, "2s", "1s")
	uasPort := testenv.FreePort(t)
	r.register("1001", uasPort, false)
	uas := r.sipp("callee 1001", "uas_echo.xml", uasPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	uac := r.sipp("carrier", "trunk_silent.xml", r.carrier, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550101", r.addr)
	uac.wait()
	uas.wait()
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("BYE after %v with a 1 s RTP timeout", took)
	}
	r.releasedStats()
}

// needSeam fails a test whose sip seam is missing from this server, naming it.
func needSeam(t *testing.T, ok bool, what string) {
	t.Helper()
	if !ok {
		t.Fatalf("sip lacks %s", what)
	}
}

var (
	_, hasOnInDialog = any((*sip.Leg)(nil)).(interface {
		OnInDialog(func(method, contentType string, body []byte) (int, []byte))
	})
	_, hasUser = any((*sip.Incoming)(nil)).(interface{ User() string })
)

// TestSIPpMenuByINFO: a caller whose phone sends DTMF as SIP INFO (application/dtmf-relay)
// presses 2 during the menu: the INFO is answered 200 by ccswitch and the call reaches
// support, where agent 1003 answers.
func TestSIPpMenuByINFO(t *testing.T) {
	t.Parallel()
	needSeam(t, hasOnInDialog, "Leg.OnInDialog")
	r := newRig(t, "5s")
	agent := r.agentPhone("1003", "agent_answer.xml", "-d", "300")
	uac := r.caller("menu_info_2.xml", "+15550103")
	uac.wait()
	agent.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAnswered || s.Result.Queue != "support" || s.Agent != "1003" {
		t.Fatalf("result %+v agent %q err %v", s.Result, s.Agent, s.Err)
	}
}

// TestSIPpFeatureCodeReady (issue 5): agent 1001's phone registers (auto login: available);
// dialling *45 from extension 1001 (digest-authenticated) makes the agent not ready, and
// dialling it again ready; each time ccswitch answers, plays a confirmation and hangs up.
// Extension 1010, not an agent, is refused.
func TestSIPpFeatureCodeReady(t *testing.T) {
	t.Parallel()
	needSeam(t, hasUser, "Incoming.User and feature-code routing")
	r := newRig(t, "5s")
	r.register("1001", testenv.FreePort(t), true)
	dial := func(ext string) *sippRun {
		return r.sipp("*45 from "+ext, "feature.xml", testenv.FreePort(t), "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
			"-key", "user", ext, "-au", ext, "-ap", "secret"+ext, "-auth_uri", "*45@"+r.addr, "-s", "*45", r.addr)
	}
	state := func() acd.AgentState {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r.acd.Sync(ctx)
		a, _ := r.acd.Snapshot().Agent("1001")
		return a.State
	}
	dial("1001").wait()
	if st := state(); st != acd.NotReady {
		t.Fatalf("after *45: %v, want not-ready", st)
	}
	dial("1001").wait()
	if st := state(); st != acd.Available {
		t.Fatalf("after *45 twice: %v, want available", st)
	}
	refused := dial("1010")
	select {
	case err := <-refused.done:
		refused.done <- err
		if err == nil {
			t.Fatal("*45 from a non-agent was answered")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("*45 from 1010: no answer")
	}
}

// TestSIPpTransfer: a flow's transfer node rings extension 1002 (an echoing SIPp UAS) and
// bridges the caller to it: the caller's 2 s of tone reach 1002 and its echo comes back, and
// the media stays up until the caller's BYE ends both legs.
func TestSIPpTransfer(t *testing.T) {
	t.Parallel()
	r := newRig(t, "5s")
	uasPort := testenv.FreePort(t)
	r.register("1002", uasPort, false)
	uas := r.sipp("callee 1002", "uas_echo.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	time.Sleep(100 * time.Millisecond)
	uac := r.sipp("carrier", "trunk_call.xml", r.carrier, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550104", r.addr)
	uac.wait()
	uas.wait()
	r.checkSDP(uas, "SDP-OFFER")
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeTransferred || s.Result.Target != "1002" {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	t.Logf("media A %+v B %+v", s.Media.A, s.Media.B)
	atLeast(t, "transfer", 80, map[string]uint64{"B out (caller's tone)": s.Media.B.PacketsOut, "B in (echo)": s.Media.B.PacketsIn})
}

// TestSIPpMaxWait: a queue node with max_wait 2s: agent 1003 (support) rings unanswered (RONA
// 20 s); after 2 s the wait ends, the ringing phone is CANCELled and the flow goes on to its
// overflow node, a second queue (sales), where agent 1001 answers: the call is queued twice
// (a second ACD task) and answered in the second queue.
func TestSIPpMaxWait(t *testing.T) {
	t.Parallel()
	r := newRig(t, "20s")
	support := r.agentPhone("1003", "agent_noanswer.xml")
	sales := r.agentPhone("1001", "agent_answer.xml", "-d", "300")
	start := time.Now()
	uac := r.sipp("carrier", "closed.xml", r.carrier, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550105", r.addr)
	support.wait()
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("support's phone CANCELled %v after the call started, with a 2 s max wait", took)
	}
	sales.wait()
	uac.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAnswered || s.Agent != "1001" || len(s.Result.Path) != 2 ||
		s.Result.Path[0].Event != "timeout" || s.Result.Queue != "sales" {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	if q := r.queue("sales"); q.Answered != 1 {
		t.Fatalf("sales %+v", q)
	}
	if q := r.queue("support"); q.Entered != 1 || q.Answered != 0 || q.Waiting != 0 {
		t.Fatalf("support %+v", q)
	}
}

// TestSIPpHoldDuringPrompt: the caller puts the call on hold (re-INVITE a=sendonly) while
// the closed prompt plays: ccswitch's media answers it itself (200, a=recvonly, c= still
// 127.0.0.1) and the call still ends with ccswitch's BYE after the prompt.
func TestSIPpHoldDuringPrompt(t *testing.T) {
	t.Parallel()
	needSeam(t, hasOnInDialog, "Leg.OnInDialog")
	r := newRig(t, "5s")
	uac := r.sipp("carrier", "reinvite_hold.xml", r.carrier, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550102", r.addr)
	uac.wait()
	if !strings.Contains(uac.logText(), "REINVITE-ANSWER a=recvonly c=127.0.0.1") {
		t.Fatalf("re-INVITE answer:\n%s", uac.logText())
	}
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeUnavailable {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
}

// TestSIPpVoiceRTPTimeout: with media.rtp_timeout 1s, a caller of the closed number that
// sends no RTP is hung up by the RTP watchdog before the 4.5 s prompt ends.
func TestSIPpVoiceRTPTimeout(t *testing.T) {
	t.Parallel()
	r := newRigTimeout(t, "5s", "1s")
	start := time.Now()
	uac := r.sipp("carrier", "closed.xml", r.carrier, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550102", r.addr)
	uac.wait()
	s := r.summary()
	if took := time.Since(start); took > 4*time.Second || s.Media.A.PacketsOut > 200 || s.Media.A.PacketsIn != 0 {
		t.Fatalf("BYE after %v; media A %+v", took, s.Media.A)
	}
}

// TestSIPpReinviteRefusedThenAccepted (issue 4): on an anchored call 1010 → 1002, the callee
// refuses the caller's hold re-INVITE (488, relayed to the caller); the caller's next hold
// re-INVITE is not refused as "offer pending" (the anchor withdrew the first) and is answered
// recvonly by the callee through ccswitch.
func TestSIPpReinviteRefusedThenAccepted(t *testing.T) {
	t.Parallel()
	r := newRig(t, "2s")
	uasPort := testenv.FreePort(t)
	r.register("1002", uasPort, false)
	uas := r.sipp("callee 1002", "uas_reinvite.xml", uasPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	time.Sleep(100 * time.Millisecond)
	uac := r.sipp("caller 1010", "ext_reinvite.xml", testenv.FreePort(t), "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "1010", "-au", "1010", "-ap", "secret1010", "-auth_uri", "1002@"+r.addr, "-s", "1002", r.addr)
	uac.wait()
	uas.wait()
	if !strings.Contains(uac.logText(), "REINVITE-ANSWER a=recvonly") {
		t.Fatalf("second re-INVITE:\n%s", uac.logText())
	}
	r.releasedStats()
}

// TestSIPpNoRTPPort (issue 4): when every port of media.rtp_ports is taken, an anchored call
// is refused 503 Service Unavailable (not 488: the codecs were fine).
func TestSIPpNoRTPPort(t *testing.T) {
	t.Parallel()
	r := newRig(t, "2s")
	for p := r.portMin; p <= r.portMax; p++ { // hold the whole RTP range
		if c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	r.register("1001", testenv.FreePort(t), false)
	uac := r.sipp("carrier", "trunk_503.xml", r.carrier, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-key", "user", "carrier", "-s", "+15550101", r.addr)
	uac.wait()
}
