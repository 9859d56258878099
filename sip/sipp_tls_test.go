package sip_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip/registrar"
)

// Debian's SIPp 3.6.1 is built without OpenSSL ("To use a TLS transport you must compile
// SIPp with OpenSSL" for -t l1), so SIPp reaches ccswitch's TLS listener through tlsBridge:
// SIPp speaks TCP to the bridge, which opens one verifying TLS connection to ccswitch per
// SIPp connection and copies bytes both ways (stunnel's client mode). ccswitch sees TLS
// connections; SIPp's Via says TCP, which ccswitch does not rely on.

// tlsBridge accepts TCP on a free port and relays each connection over TLS to target.
func tlsBridge(t testing.TB, target string, conf *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s, err := tls.Dial("tcp", target, conf)
				if err != nil {
					t.Errorf("bridge: %v", err)
					return
				}
				defer s.Close()
				done := make(chan struct{}, 2)
				go func() { io.Copy(s, c); done <- struct{}{} }()
				go func() { io.Copy(c, s); done <- struct{}{} }()
				<-done // either side closed: close both
			}()
		}
	}()
	return l.Addr().String()
}

// TestSIPpOverTLS: SIPp (through the bridge) registers 1001 over TLS with digest — the
// binding is a TLS one, and when SIPp exits and its connection closes, the binding goes
// with a flow-closed event — then calls 2000 with a digest-authenticated INVITE over TLS;
// the call is answered and hung up. The same on an IPv6 TLS listener ([::1]).
func TestSIPpOverTLS(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			if host == "::1" {
				if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
					t.Skip("no IPv6 loopback on this machine")
				} else {
					l.Close()
				}
			}
			cfg, ca, _, _ := tlsConfig(t, host)
			cfg.SIP.UDP = []string{fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))} // 2000 answers on IPv4 UDP
			uasPort := testenv.FreePort(t)
			cfg.Users = append(cfg.Users, config.User{Extension: "2000", Secret: "secret2000", Contact: fmt.Sprintf("sip:2000@127.0.0.1:%d", uasPort)})
			r := startTLS(t, cfg, ca, md5Only)
			bridge := tlsBridge(t, r.tls, &tls.Config{RootCAs: pool(t, ca.File), ServerName: host})
			evs := watch(t, r.Registrar())

			reg := startSIPp(t, "register over TLS", append(sippArgs("register.xml", testenv.FreePort(t), "-t", "t1", "-inf", usersCSV(t, [2]string{"1001", "secret1001"}), "-m", "1"), bridge)...)
			bound := evs.wait(t, 20*time.Second, func(ev registrar.Event) bool { return ev.Kind == registrar.Bound && ev.AOR == "1001" })
			if ap, err := netip.ParseAddrPort(bound.Source); bound.Transport != "tls" || err != nil || ap.Addr().String() != host {
				t.Errorf("REGISTER through the bridge bound over %q from %q, want tls from %s", bound.Transport, bound.Source, host)
			}
			reg.wait(t)
			gone := evs.wait(t, 20*time.Second, func(ev registrar.Event) bool { return ev.Kind == registrar.Unbound && ev.AOR == "1001" })
			if gone.Reason != registrar.ReasonFlowClosed {
				t.Errorf("when SIPp's connection closed the binding went with reason %q, want %q", gone.Reason, registrar.ReasonFlowClosed)
			}

			uas := startSIPp(t, "uas 2000", sippArgs("uas.xml", uasPort, "-m", "1")...)
			time.Sleep(100 * time.Millisecond) // SIPp binds its socket
			uac := startSIPp(t, "1001 over TLS", append(sippArgs("uac_auth.xml", testenv.FreePort(t), "-t", "t1", "-key", "user", "1001", "-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("2000", bridge), "-s", "2000", "-m", "1"), bridge)...)
			uac.wait(t)
			uas.wait(t)
			if rec := records(t, r.testServer, 1)[0]; rec.Code != 200 || rec.From != "1001" || rec.To != "2000" {
				t.Fatalf("record %+v", rec)
			}
		})
	}
}
