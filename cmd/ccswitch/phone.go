package main

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/ccswitch/ccswitch/webphone"
)

// newPhone builds the browser phone when webrtc.port is set (nil otherwise): it registers
// and calls on the SIP server's first UDP listener. Bindings of browser phones left in the
// store by an earlier process are removed first.
func newPhone(cfg *config.Config, srv *sip.Server, metrics prometheus.Registerer, log *slog.Logger) (*webphone.Gateway, error) {
	if cfg.WebRTC.Port == 0 {
		return nil, nil
	}
	// A browser phone's registration does not outlive its desktop's WebSocket: what the store
	// kept from before a crash reaches no browser (its agent would look signed in for voice).
	reg := srv.Registrar()
	for _, u := range cfg.Users {
		for _, c := range reg.Lookup(u.Extension) {
			if strings.HasPrefix(c.URI.User, webphone.ContactPrefix) {
				reg.Remove(u.Extension, c.Contact, registrar.ReasonUnreachable)
			}
		}
	}
	sipAddr := func() (netip.AddrPort, bool) {
		for _, a := range srv.Addrs() {
			if u, ok := a.(*net.UDPAddr); ok {
				return u.AddrPort(), true
			}
		}
		return netip.AddrPort{}, false
	}
	g, err := webphone.New(webphone.Options{Config: cfg, SIP: sipAddr, Registerer: metrics, Logger: log})
	if err != nil {
		return nil, err
	}
	// Every browser phone registers and calls from this one socket: the flood limit per source
	// must not take them all down at a shift's start.
	srv.ExemptSource(g.SIPSource())
	return g, nil
}
