package sip_test

import (
	"fmt"
	"testing"

	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// transferor runs a SIPp transferor (extension user calling service, then REFERring it to
// referTo) and waits for it.
func transferor(t *testing.T, ts *testServer, scenario, user, service, referTo string, extra ...string) {
	t.Helper()
	args := append(sippArgs(scenario, testenv.FreePort(t), "-key", "user", user, "-au", user, "-ap", "secret"+user,
		"-auth_uri", authURI(service, ts.addr), "-s", service, "-key", "referto", referTo, "-m", "1"), extra...)
	if len(extra) == 0 {
		args = append(args, "-d", "200")
	}
	r := startSIPp(t, "transferor "+scenario, append(args, ts.addr)...)
	r.wait(t)
}

// TestSIPpBlindTransfer: 1001 (SIPp) calls 1002 and REFERs it (authenticated) to a target:
// another extension, or an external number through the trunk (1001 may call out). ccswitch
// answers 202, NOTIFYs 100 then 200, rings the target without SDP, joins the target's offer to
// the transferee by a re-INVITE (both checking they see only ccswitch's media address), and
// BYEs the transferor. The target's BYE ends the transferee.
func TestSIPpBlindTransfer(t *testing.T) {
	for _, tc := range []struct{ name, target string }{
		{"extension", "1003"},
		{"external number", "+15551234"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, carrier, _ := trunkConfig(t)
			reg := prometheus.NewRegistry()
			ts, a := anchoredServer(t, cfg, sip.WithRegisterer(reg))
			py := testenv.FreePort(t)
			registerContact(t, ts, "1002", py)
			y := startSIPp(t, "transferee", sippArgs("uas_transferee.xml", py, "-m", "1")...)
			pt := carrier
			if tc.target == "1003" {
				pt = testenv.FreePort(t)
				registerContact(t, ts, "1003", pt)
			}
			tg := startSIPp(t, "target", sippArgs("uas_target.xml", pt, "-m", "1")...)
			transferor(t, ts, "uac_refer.xml", "1001", "1002", fmt.Sprintf("sip:%s@%s", tc.target, ts.addr))
			y.wait(t)
			tg.wait(t)
			rec := records(t, ts, 1)[0]
			if rec.Code != 200 || len(rec.Legs) != 3 {
				t.Fatalf("record %+v", rec)
			}
			if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "blind"); n != 1 {
				t.Fatalf("%v blind transfers counted", n)
			}
			waitReleased(t, a)
		})
	}
}

// TestSIPpTransferNoOpenRelay: a REFER is not a way around the permission of a dialled call.
// Each variant is refused (the transferor's scenario requires the status), nothing is rung
// (no transfer counted, the record keeps its two legs), and the refusal is counted by reason:
//   - unauthenticated: the 407 is not answered;
//   - an extension without the outbound right (1004) transferring to an external number;
//   - a Refer-To on another host;
//   - a Refer-To naming the trunk's address.
func TestSIPpTransferNoOpenRelay(t *testing.T) {
	for _, tc := range []struct {
		name, scenario, user, referTo, reason string
	}{
		{"unauthenticated", "uac_refer_407.xml", "1001", "sip:+15551234@%s", ""},
		{"no outbound right", "uac_refer_403.xml", "1004", "sip:+15551234@%s", "route-403"},
		{"foreign host", "uac_refer_403.xml", "1001", "sip:+15551234@evil.example", "foreign-host"},
		{"trunk address", "uac_refer_403.xml", "1001", "sip:+15551234@127.0.0.1:%d", "foreign-host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, carrier, _ := trunkConfig(t)
			reg := prometheus.NewRegistry()
			ts, _ := anchoredServer(t, cfg, sip.WithRegisterer(reg))
			py := testenv.FreePort(t)
			registerContact(t, ts, "1002", py)
			y := startSIPp(t, "transferee", sippArgs("uas.xml", py, "-m", "1")...)
			referTo := tc.referTo
			switch {
			case tc.name == "trunk address":
				referTo = fmt.Sprintf(referTo, carrier)
			case tc.name != "foreign host":
				referTo = fmt.Sprintf(referTo, ts.addr)
			}
			transferor(t, ts, tc.scenario, tc.user, "1002", referTo)
			y.wait(t)
			rec := records(t, ts, 1)[0]
			if len(rec.Legs) != 2 {
				t.Fatalf("record %+v", rec)
			}
			if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "blind"); n != 0 {
				t.Fatalf("%v transfers done", n)
			}
			if tc.reason != "" {
				if n := metricValue(t, reg, "ccswitch_sip_transfers_total", tc.reason); n != 1 {
					t.Fatalf("refusal %s counted %v times", tc.reason, n)
				}
			}
		})
	}
}

// TestSIPpAttendedTransfer: 1001 calls 1002 (the transferee), then consults 1003 in a second
// call (a fixed Call-ID and From tag), and REFERs 1002 to 1003 with Replaces naming the
// consultation dialog. ccswitch re-INVITEs 1003 without SDP, joins its offer to 1002 (both
// check they see only ccswitch's media address), and BYEs both of 1001's calls; 1003 then
// hangs up, which ends 1002.
func TestSIPpAttendedTransfer(t *testing.T) {
	cfg, _, _ := trunkConfig(t)
	reg := prometheus.NewRegistry()
	ts, a := anchoredServer(t, cfg, sip.WithRegisterer(reg))
	py, pt := testenv.FreePort(t), testenv.FreePort(t)
	registerContact(t, ts, "1002", py)
	registerContact(t, ts, "1003", pt)
	y := startSIPp(t, "transferee", sippArgs("uas_transferee.xml", py, "-m", "1")...)
	tg := startSIPp(t, "target", sippArgs("uas_target_attended.xml", pt, "-m", "1")...)
	consult := startSIPp(t, "consultation", append(sippArgs("uac_consult.xml", testenv.FreePort(t), "-key", "user", "1001",
		"-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("1003", ts.addr), "-s", "1003", "-m", "1",
		"-cid_str", "consult-%u@x"), ts.addr)...)
	referTo := fmt.Sprintf("sip:1003@%s?Replaces=consult-1%%40x%%3Bto-tag%%3Dunknown%%3Bfrom-tag%%3Dconsulttag", ts.addr)
	transferor(t, ts, "uac_refer.xml", "1001", "1002", referTo, "-d", "1500")
	consult.wait(t)
	y.wait(t)
	tg.wait(t)
	records(t, ts, 2)
	if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "attended"); n != 1 {
		t.Fatalf("%v attended transfers counted", n)
	}
	waitReleased(t, a)
}

// TestSIPpReplacesOtherExtension: Replaces cannot hijack another extension's call. 1005 talks
// to 1003 (a consultation-like call with a known Call-ID and tag); 1001, in a call with 1002,
// REFERs naming that dialog: 403 (counted replaces-not-owner), nothing changes, and each call
// ends as its parties hang up.
func TestSIPpReplacesOtherExtension(t *testing.T) {
	cfg, _, _ := trunkConfig(t)
	reg := prometheus.NewRegistry()
	ts, _ := anchoredServer(t, cfg, sip.WithRegisterer(reg))
	py, pt := testenv.FreePort(t), testenv.FreePort(t)
	registerContact(t, ts, "1002", py)
	registerContact(t, ts, "1003", pt)
	y := startSIPp(t, "callee 1002", sippArgs("uas.xml", py, "-m", "1")...)
	other := startSIPp(t, "callee 1003", sippArgs("uas_bye_late.xml", pt, "-m", "1")...)
	consult := startSIPp(t, "1005's call", append(sippArgs("uac_consult.xml", testenv.FreePort(t), "-key", "user", "1005",
		"-au", "1005", "-ap", "secret1005", "-auth_uri", authURI("1003", ts.addr), "-s", "1003", "-m", "1",
		"-cid_str", "consult-%u@x"), ts.addr)...)
	referTo := fmt.Sprintf("sip:1003@%s?Replaces=consult-1%%40x%%3Bto-tag%%3Dunknown%%3Bfrom-tag%%3Dconsulttag", ts.addr)
	transferor(t, ts, "uac_refer_403.xml", "1001", "1002", referTo, "-d", "1000")
	y.wait(t)
	consult.wait(t)
	other.wait(t)
	if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "replaces-not-owner"); n != 1 {
		t.Fatalf("replaces-not-owner counted %v times", n)
	}
	if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "attended"); n != 0 {
		t.Fatalf("%v attended transfers done", n)
	}
}

// TestSIPpTrunkReferOnlyToOurNumbers: a REFER from a carrier's leg is routed as the carrier's
// own INVITE would be: an external number is not ours, 404 (counted route-404), no relay.
func TestSIPpTrunkReferOnlyToOurNumbers(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	reg := prometheus.NewRegistry()
	ts, _ := anchoredServer(t, cfg, sip.WithRegisterer(reg))
	uas := startSIPp(t, "callee 2000", sippArgs("uas.xml", uasPort, "-m", "1")...)
	uac := startSIPp(t, "carrier", append(sippArgs("carrier_refer_404.xml", carrier, "-s", "+15550100", "-m", "1",
		"-key", "referto", fmt.Sprintf("sip:+15551234@%s", ts.addr)), ts.addr)...)
	uac.wait(t)
	uas.wait(t)
	if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "route-404"); n != 1 {
		t.Fatalf("route-404 counted %v times", n)
	}
}
