package sip_test

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
)

// TestDefaultConfigDemo runs the embedded demo configuration (as decoded and defaulted by
// package config) with only its ports moved: a SIPp "carrier" calls +15550100 and reaches
// extension 2000's static contact; 1001 registers with the demo password (the demo offers
// MD5 only, so SIPp can answer).
func TestDefaultConfigDemo(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	carrier := testenv.FreePort(t)
	sink := testenv.FreePortExcept(t, carrier)
	cfg.SIP.UDP, cfg.SIP.TCP = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	cfg.SIP.TLS.Listen = []string{"127.0.0.1:0"} // the demo's 127.0.0.1:5061, moved
	found := false
	for i := range cfg.Users {
		if cfg.Users[i].Extension == "2000" {
			cfg.Users[i].Contact = fmt.Sprintf("sip:2000@127.0.0.1:%d", sink)
			found = true
		}
	}
	if !found || len(cfg.Trunks) == 0 {
		t.Fatalf("demo config changed shape: %+v", cfg.Trunks)
	}
	cfg.Trunks[0].Sources = []string{fmt.Sprintf("127.0.0.1:%d", carrier)}
	cfg.Trunks[0].Outbound = fmt.Sprintf("sip:127.0.0.1:%d", carrier)
	ts := startServer(t, cfg, "", sip.WithDigestAlgorithms(cfg.SIP.DigestAlgorithms...))

	registerContact(t, ts, "1001", testenv.FreePort(t))
	if len(ts.Registrar().Lookup("1001")) != 1 {
		t.Fatal("1001 not registered with the demo password")
	}
	uas := startSIPp(t, "uas 2000", sippArgs("uas.xml", sink, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	c := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550100", "-m", "1"), ts.addr)[2:]...)
	uas.wait(t)
	c.wait(t)
}
