package main

import (
	"testing"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/configs"
)

// The demo's RTP range holds more anchored calls than this kind of machine relays at once
// (~400-800 concurrent G.711 calls on 2 cores, bench/media), counting four ports a call
// (RTP and RTCP on both legs, no rtcp-mux, as SIPp and most phones offer): the soak found a
// 1,000-port range refusing a sixth of 300 calls/s while the machine had room.
func TestDemoRTPRangeHoldsTheMachine(t *testing.T) {
	cfg, err := config.Parse("ccswitch.yaml", configs.Default)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi, err := config.PortRange(cfg.Media.RTPPorts)
	if err != nil {
		t.Fatal(err)
	}
	if calls := (hi - lo + 1) / 4; calls < 1000 {
		t.Fatalf("demo rtp_ports %s holds %d anchored calls without rtcp-mux, want at least 1,000", cfg.Media.RTPPorts, calls)
	}
}
