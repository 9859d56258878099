package main

import (
	"log/slog"
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/webphone"
)

// newPhone builds the browser phone when webrtc.port is set (nil otherwise): it registers
// and calls on the SIP server's first UDP listener.
func newPhone(cfg *config.Config, srv *sip.Server, reg prometheus.Registerer, log *slog.Logger) (*webphone.Gateway, error) {
	if cfg.WebRTC.Port == 0 {
		return nil, nil
	}
	sipAddr := func() (netip.AddrPort, bool) {
		for _, a := range srv.Addrs() {
			if u, ok := a.(*net.UDPAddr); ok {
				return u.AddrPort(), true
			}
		}
		return netip.AddrPort{}, false
	}
	return webphone.New(webphone.Options{Config: cfg, SIP: sipAddr, Registerer: reg, Logger: log})
}
