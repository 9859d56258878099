package sip_test

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
)

// TestSIPpBusyIs486: the callee answers 486; the caller gets 486; cause busy.
func TestSIPpBusyIs486(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_busy.xml", port)
	uac(t, ts, "uac_auth_486.xml", "1001", "1002")
	b.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 486 || rec.Cause != "busy" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpRingTimeoutIs480: nobody answers within ring_timeout: the fork is CANCELled
// (the callee's scenario requires it) and the caller gets 480; cause no-answer.
func TestSIPpRingTimeoutIs480(t *testing.T) {
	cfg := testConfig()
	cfg.SIP.RingTimeout = dur(time.Second)
	ts := startServer(t, cfg, "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas_ring.xml", port)
	uac(t, ts, "uac_auth_480.xml", "1001", "1002")
	b.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 480 || rec.Cause != "no-answer" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpNoContactIs480: a known extension with no registration and no static contact.
func TestSIPpNoContactIs480(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	uac(t, ts, "uac_auth_480.xml", "1001", "1003")
}

// TestSIPpUnknownExtensionIs404: a number that is neither an extension nor ours, dialled
// by an extension allowed out but with no trunk configured, is 404; so is an unknown DID
// from a trunk.
func TestSIPpUnknownExtensionIs404(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	uac(t, ts, "uac_auth_404.xml", "1001", "1099")
}

// TestSIPpMaxForwardsAndContactOnLegB: leg B carries Max-Forwards 69 for the caller's 70
// and ccswitch's own Contact (the callee scenario checks both).
func TestSIPpMaxForwardsAndContactOnLegB(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	uas := callee(t, "uas_mf.xml", uasPort)
	c := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550100", "-m", "1"), ts.addr)[2:]...)
	uas.wait(t)
	c.wait(t)
}

// TestSIPpTrunkDownIsSkipped: the carrier does not answer OPTIONS; once the health check
// marks the trunk down, an outbound call gets 503 instead of going to it.
func TestSIPpTrunkDownIsSkipped(t *testing.T) {
	cfg, _, _ := trunkConfig(t)
	cfg.Trunks[0].Outbound = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // nobody there
	iv := config.Duration(time.Second)
	cfg.Trunks[0].OptionsInterval = &iv
	ts := startServer(t, cfg, "", md5Only)
	deadline := time.Now().Add(15 * time.Second)
	for ts.TrunkUp("carrier") {
		if time.Now().After(deadline) {
			t.Fatal("trunk still up after 15 s without OPTIONS answers")
		}
		time.Sleep(50 * time.Millisecond)
	}
	uac(t, ts, "uac_auth_503.xml", "1001", "+4930123456")
}

// TestSIPpTrunkUpWhenItAnswers: a carrier that answers OPTIONS (a SIPp UAS replying 200)
// stays up.
func TestSIPpTrunkUpWhenItAnswers(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	iv := config.Duration(time.Second)
	cfg.Trunks[0].OptionsInterval = &iv
	opts := startSIPp(t, "carrier OPTIONS", sippArgs("uas_options.xml", carrier, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	ts := startServer(t, cfg, "", md5Only)
	opts.wait(t) // the carrier got (and answered) an OPTIONS
	if !ts.TrunkUp("carrier") {
		t.Fatal("trunk down although it answered")
	}
}

// TestSIPpTrunkByDigest: a carrier that is not in any trunk's sources authenticates with
// the trunk's username/secret (407) and reaches the DID.
func TestSIPpTrunkByDigest(t *testing.T) {
	cfg, _, uasPort := trunkConfig(t)
	cfg.Trunks[0].Sources = nil
	cfg.Trunks[0].Username, cfg.Trunks[0].Secret = "carrier", "secretcarrier"
	ts := startServer(t, cfg, "", md5Only)
	uas := callee(t, "uas.xml", uasPort)
	uac(t, ts, "uac_auth.xml", "carrier", "+15550100")
	uas.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Direction != "inbound" || rec.Trunk != "carrier" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpReloadKeepsCalls: a config reload that removes the callee's extension does not
// drop the call in progress; new calls see the new config.
func TestSIPpReloadKeepsCalls(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	uas := callee(t, "uas.xml", uasPort)
	c := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550100", "-m", "1", "-d", "1500"), ts.addr)[2:]...)
	time.Sleep(700 * time.Millisecond)
	next, _, _ := trunkConfig(t)
	next.Trunks[0].Sources = cfg.Trunks[0].Sources
	next.Numbers = nil
	ts.Reload(next)
	c.wait(t)
	uas.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
	// The DID is gone for new calls.
	c2 := startSIPp(t, "carrier after reload", append(sippArgs("uac_404_noauth.xml", carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
	c2.wait(t)
}
