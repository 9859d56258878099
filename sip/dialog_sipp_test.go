package sip_test

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
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

// TestSIPpDelayedOfferAnchored: the case. A carrier INVITE without SDP to +15550100
// (target 2000, a SIPp callee) is answered with ccswitch's offer, not the callee's SDP
// (m=audio 6000); the carrier's ACK answer reaches the callee anchored, in the callee's ACK.
// Both scenarios check the SDP they receive; the call is anchored until the BYE.
func TestSIPpDelayedOfferAnchored(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	ts, a := anchoredServer(t, cfg)
	uas := startSIPp(t, "callee 2000", sippArgs("uas_late_offer.xml", uasPort, "-m", "1")...)
	uac := startSIPp(t, "carrier", append(sippArgs("carrier_late_offer.xml", carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
	uac.wait(t)
	uas.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || len(rec.Legs) != 2 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
	deadline := time.Now().Add(5 * time.Second)
	for a.Calls() != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := a.Calls(); n != 0 {
		t.Fatalf("%d anchored calls left after the BYE", n)
	}
}
