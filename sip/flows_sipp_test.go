package sip_test

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
)

// uac runs a caller scenario as extension user dialling service, and waits for it.
func uac(t testing.TB, ts *testServer, scenario, user, service string) {
	t.Helper()
	r := startSIPp(t, "uac "+scenario, append(sippArgs(scenario, testenv.FreePort(t), "-key", "user", user,
		"-au", user, "-ap", "secret"+user, "-auth_uri", authURI(service, ts.addr), "-s", service, "-m", "1"), ts.addr)...)
	r.wait(t)
}

// callee starts a SIPp callee scenario on port.
func callee(t testing.TB, scenario string, port int) *sippRun {
	t.Helper()
	r := startSIPp(t, "callee "+scenario, sippArgs(scenario, port, "-m", "1")...)
	time.Sleep(100 * time.Millisecond) // let SIPp bind
	return r
}

// TestSIPpCalleeHangsUp: the callee's BYE is relayed to the caller; cause callee-bye.
func TestSIPpCalleeHangsUp(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_bye.xml", port)
	uac(t, ts, "uac_auth_recvbye.xml", "1001", "1002")
	b.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || rec.Cause != "callee-bye" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpCallerCancels: the caller CANCELs while 1002 rings: 200 + 487 to the caller,
// CANCEL (200, 487, ACK) on leg B; record code 487, cause cancel.
func TestSIPpCallerCancels(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_ring.xml", port)
	uac(t, ts, "uac_auth_cancel.xml", "1001", "1002")
	b.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 487 || rec.Cause != "cancel" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpOutboundNeedsAuth: an INVITE to an external number without credentials gets
// 407 — from a stranger, and from an extension's address alike; nothing reaches the
// carrier (no open relay).
func TestSIPpOutboundNeedsAuth(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	carrierUAS := startSIPp(t, "carrier must stay silent", sippArgs("uas.xml", carrier, "-m", "1", "-timeout", "2s")...)
	for _, dialled := range []string{"+4930123456", "+15550100"} {
		r := startSIPp(t, "uac 407", append(sippArgs("uac_407.xml", testenv.FreePort(t), "-key", "user", "1001", "-s", dialled, "-m", "1"), ts.addr)...)
		r.wait(t)
	}
	<-carrierUAS.done
	if carrierUAS.err == nil {
		t.Fatal("the carrier received a call")
	}
}

// TestSIPpOutboundForbidden: extension 1004 authenticates but may not call out: 403.
func TestSIPpOutboundForbidden(t *testing.T) {
	cfg, _, _ := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	uac(t, ts, "uac_auth_403.xml", "1004", "+4930123456")
	rec := records(t, ts, 1)[0]
	if rec.Code != 403 || rec.Direction != "outbound" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpOutboundThroughTrunk: extension 1001 (outbound allowed) calls an external
// number; it goes to the carrier (a SIPp UAS on the trunk's outbound address).
func TestSIPpOutboundThroughTrunk(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	c := callee(t, "uas.xml", carrier)
	uac(t, ts, "uac_auth.xml", "1001", "+4930123456")
	c.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || rec.Direction != "outbound" || rec.Trunk != "carrier" || len(rec.Legs) != 2 {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpOutboundPrefixes: a trunk whose prefixes do not match the number is not used.
func TestSIPpOutboundPrefixes(t *testing.T) {
	cfg, _, _ := trunkConfig(t)
	cfg.Trunks[0].Prefixes = []string{"+33"}
	ts := startServer(t, cfg, "", md5Only)
	uac(t, ts, "uac_auth_404.xml", "1001", "+4930123456")
}

// TestSIPpRestartKeepsBindings: 1002 registers; the server stops; a new server on the same
// store (and a new port) still reaches 1002's contact.
func TestSIPpRestartKeepsBindings(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, testConfig(), dir, md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	ts.stop()

	ts2 := startServer(t, testConfig(), dir, md5Only)
	if got := ts2.Registrar().Lookup("1002"); len(got) != 1 {
		t.Fatalf("after restart: %d bindings for 1002", len(got))
	}
	b := callee(t, "uas.xml", port)
	uac(t, ts2, "uac_auth.xml", "1001", "1002")
	b.wait(t)
}

// TestSIPpForkingFirstAnswerWins: 1002 has two contacts; both ring, one answers, the other
// is CANCELled (its scenario requires the CANCEL, 487 and ACK).
func TestSIPpForkingFirstAnswerWins(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	p1 := testenv.FreePort(t)
	p2 := testenv.FreePortExcept(t, p1)
	registerContact(t, ts, "1002", p1)
	registerContact(t, ts, "1002", p2)
	if n := len(ts.Registrar().Lookup("1002")); n != 2 {
		t.Fatalf("%d contacts, want 2", n)
	}
	answer := callee(t, "uas.xml", p1)
	ring := callee(t, "uas_ring.xml", p2)
	uac(t, ts, "uac_auth.xml", "1001", "1002")
	answer.wait(t)
	ring.wait(t)
}

var _ = fmt.Sprint
var _ config.Duration

// TestSIPpReinviteRelayed: the caller's re-INVITE (a=sendonly) reaches the callee with that
// offer, the callee's answer (a=recvonly) reaches the caller, each side gets its ACK, and
// the call then ends normally.
func TestSIPpReinviteRelayed(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_reinvite.xml", port)
	uac(t, ts, "uac_auth_reinvite.xml", "1001", "1002")
	b.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
}

// cancelRecorder is a pass-through anchor that records refused offers.
type cancelRecorder struct {
	sip.PassThrough
	cancelled chan string
}

func (c *cancelRecorder) CancelOffer(callID string) { c.cancelled <- callID }

// TestSIPpReinviteRefused: the callee refuses the caller's re-INVITE with 488; the caller
// gets the 488, the call goes on to a normal BYE, and the media anchor is told to forget
// the refused offer (CancelOffer).
func TestSIPpReinviteRefused(t *testing.T) {
	anc := &cancelRecorder{cancelled: make(chan string, 1)}
	ts := startServer(t, testConfig(), "", md5Only, sip.WithSDPAnchor(anc))
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_reinvite_488.xml", port)
	uac(t, ts, "uac_auth_reinvite_488.xml", "1001", "1002")
	b.wait(t)
	select {
	case id := <-anc.cancelled:
		if rec := records(t, ts, 1)[0]; rec.ID != id || rec.Code != 200 {
			t.Fatalf("CancelOffer(%s), record %+v", id, rec)
		}
	default:
		t.Fatal("CancelOffer not called for the refused offer")
	}
}
