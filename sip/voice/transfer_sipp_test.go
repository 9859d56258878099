package voice_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/sip/voice"
)

// TestSIPpAgentTransfersCaller (issue 12: "an agent's Transfer key gets a 405"): the carrier's
// caller presses 1 and is queued in sales; agent 1001's phone answers, then presses Transfer: a
// REFER (authenticated by digest) to extension 1004. ccswitch answers 202, rings 1004 without
// SDP, joins its offer to the caller by a re-INVITE (the caller checks it sees ccswitch's
// address, not 1004's), NOTIFYs 200 and BYEs the agent, whose task completes at once. 1004
// hangs up, which ends the caller.
func TestSIPpAgentTransfersCaller(t *testing.T) {
	t.Parallel()
	r := newRig(t, "5s")
	tport := testenv.FreePort(t)
	r.register("1004", tport, false)
	target := r.sipp("target 1004", "target_offer.xml", tport, "-m", "1")
	agent := r.agentPhone("1001", "agent_refer.xml", "-d", "300", "-key", "referto", "sip:1004@"+r.addr,
		"-au", "1001", "-ap", "secret1001", "-auth_uri", "ccswitch@"+r.addr)
	uac := r.caller("caller_transferred.xml", "+15550103")
	agent.wait()
	// The agent is done once it transferred: its task completes while the caller talks on.
	deadline := time.Now().Add(5 * time.Second)
	for r.queue("sales").Completed != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("sales %+v after the transfer", r.queue("sales"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	target.wait()
	uac.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAnswered || s.Agent != "1001" {
		t.Fatalf("result %+v agent %q err %v", s.Result, s.Agent, s.Err)
	}
}

// TestSIPpDesktopTransfersCall: the desktop's Transfer button (web → App.TransferCall). Agent
// 1001's phone answers a queued caller; the call named by the screen pop is transferred to
// 1004 (routed with 1001's permission): 1004 is rung without SDP, joined to the caller by a
// re-INVITE, the agent's phone gets a BYE and its task completes. Another agent cannot
// transfer the call, nor can a call that does not exist be transferred.
func TestSIPpDesktopTransfersCall(t *testing.T) {
	t.Parallel()
	r := newRig(t, "5s")
	tport := testenv.FreePort(t)
	r.register("1004", tport, false)
	target := r.sipp("target 1004", "target_offer.xml", tport, "-m", "1")
	agent := r.agentPhone("1001", "agent_wait_bye.xml", "-d", "300")
	uac := r.caller("caller_transferred.xml", "+15550103")
	var callID string
	select {
	case ring := <-r.rings:
		callID = ring[1]
	case <-time.After(20 * time.Second):
		t.Fatal("the agent's phone was not rung")
	}
	// Wait until the agent's phone answered and the call is bridged (the wallboard lists it),
	// then press Transfer. The queue counts the answer when the engine accepts the
	// reservation, a moment before the bridge: waiting on that count raced the bridge.
	r.waitLive("1001 bridged", func(c voice.LiveCall) bool { return c.CallID == callID && c.Agent == "1001" })
	if err := r.app.TransferCall("1002", callID, "1004"); !errors.Is(err, voice.ErrNoCall) {
		t.Fatalf("another agent transferred the call: %v", err)
	}
	if err := r.app.TransferCall("1001", "no-such-call", "1004"); !errors.Is(err, voice.ErrNoCall) {
		t.Fatalf("a call that does not exist: %v", err)
	}
	if err := r.app.TransferCall("1001", callID, "1004"); err != nil {
		t.Fatal(err)
	}
	agent.wait()
	target.wait()
	uac.wait()
	if q := r.queue("sales"); q.Completed != 1 {
		t.Fatalf("sales %+v", q)
	}
}
