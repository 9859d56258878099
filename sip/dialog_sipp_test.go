package sip_test

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
)

// anchoredServer is startServer with the real media anchor on a port range of
// 46000–46999 (the scenarios of this file check that the SDP they get names it).
func anchoredServer(t testing.TB, cfg *config.Config, opts ...sip.Option) (*testServer, *anchor.Anchor) {
	t.Helper()
	base := 46000 + (os.Getpid()%45)*20
	eng, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: base, PortMax: base + 19,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	a := anchor.New(eng, anchor.Options{Config: cfg})
	ts := startServer(t, cfg, "", append([]sip.Option{md5Only, sip.WithSDPAnchor(a)}, opts...)...)
	a.SetCalls(ts.Server)
	return ts, a
}

// TestSIPpOfferAnswerAnchored: the case and its class. A carrier calls +15550100
// (target 2000, a SIPp callee); whichever side offers, and whether the SDP comes in a 183 or
// the 200, each party sees only ccswitch's media address (ports 46000–46999), never the
// other's (callee m=audio 6000, carrier 7000). Every scenario checks the SDP it receives.
//   - delayed offer: the INVITE has no SDP; the 200 to the carrier carries ccswitch's offer, the
//     carrier's ACK answer reaches the callee anchored in the callee's ACK;
//   - delayed offer with early media: the callee's offer in a 183 and again in its 200;
//   - early media: the carrier's offer, the callee's answer in a 183 then in its 200;
//   - re-INVITE without SDP, and glare (below).
func TestSIPpOfferAnswerAnchored(t *testing.T) {
	for _, tc := range []struct{ name, carrier, callee string }{
		{"delayed offer", "carrier_late_offer.xml", "uas_late_offer.xml"},
		{"delayed offer, early media", "carrier_late_offer.xml", "uas_late_offer_183.xml"},
		{"early media", "carrier_early_media.xml", "uas_early_media.xml"},
		// A re-INVITE without SDP from the carrier: the callee's offer in its 200 is anchored
		// into ccswitch's offer to the carrier, whose ACK answer reaches the callee's ACK.
		{"re-INVITE without SDP", "carrier_reinvite_late.xml", "uas_reinvite_late.xml"},
		// The carrier's hold re-INVITE is relayed; the callee sends its own re-INVITE before
		// answering it: glare, answered 491 (the callee's scenario requires it).
		{"glare", "carrier_reinvite_hold.xml", "uas_glare.xml"},
		// An UPDATE with an offer (RFC 3311) is relayed and anchored both ways.
		{"UPDATE", "carrier_update.xml", "uas_update.xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, carrier, uasPort := trunkConfig(t)
			ts, a := anchoredServer(t, cfg)
			uas := startSIPp(t, "callee 2000", sippArgs(tc.callee, uasPort, "-m", "1")...)
			uac := startSIPp(t, "carrier", append(sippArgs(tc.carrier, carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
			uac.wait(t)
			uas.wait(t)
			rec := records(t, ts, 1)[0]
			if rec.Code != 200 || len(rec.Legs) != 2 || rec.Cause != "caller-bye" {
				t.Fatalf("record %+v", rec)
			}
			waitReleased(t, a)
		})
	}
}

// waitReleased waits until the anchor holds no call.
func waitReleased(t testing.TB, a *anchor.Anchor) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for a.Calls() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.Calls(); n != 0 {
		t.Fatalf("%d anchored calls left after the BYE", n)
	}
}

// TestSIPpReliableProvisional (RFC 3262): a carrier whose INVITE says Require: 100rel is not
// refused 420; the callee's 180 reaches it reliably (Require: 100rel, RSeq), its PRACK is
// answered 200, then the call is answered and ends normally.
func TestSIPpReliableProvisional(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	ts, _ := anchoredServer(t, cfg)
	uas := startSIPp(t, "callee 2000", sippArgs("uas_slow.xml", uasPort, "-m", "1")...)
	uac := startSIPp(t, "carrier", append(sippArgs("carrier_100rel.xml", carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
	uac.wait(t)
	uas.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpReliableProvisionalCallee (RFC 3262 on leg B): ccswitch's INVITE with an offer says
// Supported: 100rel; the callee's reliable 183 (its early media, anchored for the carrier) is
// PRACKed with the right RAck before it answers, and the ACK that follows carries the INVITE's
// CSeq, not the PRACK's (the callee logs both).
func TestSIPpReliableProvisionalCallee(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	ts, _ := anchoredServer(t, cfg)
	log := filepath.Join(t.TempDir(), "callee.log")
	uas := startSIPp(t, "callee 2000", sippArgs("uas_100rel.xml", uasPort, "-m", "1", "-trace_logs", "-log_file", log)...)
	uac := startSIPp(t, "carrier", append(sippArgs("carrier_early_media.xml", carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
	uac.wait(t)
	uas.wait(t)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var inv, ack string
	for _, line := range strings.Split(string(b), "\n") {
		if _, rest, ok := strings.Cut(line, "CSEQ invite="); ok {
			inv, ack, _ = strings.Cut(strings.TrimSpace(rest), " ack=")
		}
	}
	if inv == "" || inv != ack {
		t.Fatalf("INVITE CSeq %q, ACK CSeq %q\n%s", inv, ack, b)
	}
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
}
