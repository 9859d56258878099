package sip_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// regTrunkConfig is trunkConfig plus a registration trunk "reg" whose registrar is on
// 127.0.0.5:regPort (user ccsw, password pw123), with no sources: its calls are recognised
// by the registration only.
func regTrunkConfig(t testing.TB) (cfg *config.Config, regPort, uasPort int) {
	cfg, _, uasPort = trunkConfig(t)
	regPort = testenv.FreePort(t)
	off := config.Duration(0)
	cfg.Trunks = append(cfg.Trunks, config.Trunk{Name: "reg", Outbound: fmt.Sprintf("sip:127.0.0.5:%d", regPort),
		Register: true, OutboundUsername: "ccsw", OutboundSecret: "pw123", RegisterExpires: config.Duration(time.Minute),
		OptionsInterval: &off})
	return cfg, regPort, uasPort
}

func waitWithin(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIPpRegistrationTrunk: SIPp is a carrier's registrar with digest. ccswitch registers,
// answers the challenge, refreshes before the granted 2 s end, takes the carrier's call to
// the registered contact as the trunk's inbound call (DID in To, caller number from the
// trunk's P-Asserted-Identity), shows the registration in /metrics, and removes its binding
// when it stops. A restarted ccswitch registers again, backing off after a 503.
func TestSIPpRegistrationTrunk(t *testing.T) {
	cfg, regPort, uasPort := regTrunkConfig(t)
	carrier := sippOn(t, "carrier registrar", "127.0.0.5", regPort, "-sf", "testdata/carrier_registrar.xml", "-m", "1")
	uas := callee(t, "uas_pai.xml", uasPort)
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	uas.wait(t) // the carrier's call reached extension 2000 with the trusted caller number
	if !ts.TrunkRegistered("reg") {
		t.Fatal("trunk not registered after its call")
	}
	if v := metricValue(t, reg, "ccswitch_sip_trunk_registered", "reg"); v != 1 {
		t.Fatalf("ccswitch_sip_trunk_registered = %v", v)
	}
	if v := metricValue(t, reg, "ccswitch_sip_trunk_registrations_total", "ok"); v < 2 {
		t.Fatalf("registrations ok = %v, want the first and the refresh", v)
	}
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || rec.Direction != "inbound" || rec.Trunk != "reg" {
		t.Fatalf("record %+v", rec)
	}
	ts.stop()
	carrier.wait(t) // saw the unregistration

	// Restart: the registrar refuses once (503), ccswitch backs off and registers again.
	again := sippOn(t, "carrier registrar again", "127.0.0.5", regPort, "-sf", "testdata/carrier_register_once.xml", "-m", "1")
	reg2 := prometheus.NewRegistry()
	ts2 := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg2))
	waitWithin(t, "registered again after a restart", 20*time.Second, func() bool { return ts2.TrunkRegistered("reg") })
	if v := metricValue(t, reg2, "ccswitch_sip_trunk_registrations_total", "rejected"); v != 1 {
		t.Fatalf("rejected registrations = %v, want the 503", v)
	}
	again.wait(t)
}
