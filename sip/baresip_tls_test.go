package sip_test

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/baresip"
	"github.com/ccswitch/ccswitch/sip/registrar"
)

// phone writes a baresip folder for ext over transport to the rig.
func (r *tlsRig) phone(t testing.TB, ext, transport string, autoAnswer bool) string {
	t.Helper()
	addr := map[string]string{"udp": r.udp, "tcp": r.tcp, "tls": r.tls}[transport]
	return baresip.Write(t, baresip.Config{CAFile: r.ca.File}, baresip.Account{
		User: ext, Password: "secret" + ext, Registrar: addr, Transport: transport, AutoAnswer: autoAnswer,
	})
}

// registered waits until baresip printed its 200 to REGISTER over transport.
func registered(t testing.TB, p *baresip.Process, transport string) {
	t.Helper()
	if !p.WaitOutput("{0/"+strings.ToUpper(transport)+"/v4} 200 OK", 15*time.Second) {
		t.Fatalf("baresip did not register over %s:\n%s", transport, p.Tail(4000))
	}
}

// TestBaresipTLSCall: two baresips register over TLS; 1002 calls 1001 through ccswitch,
// which sends the INVITE over the connection 1001 registered on (Via SIP/2.0/TLS, our
// Contact transport=tls); the call is answered and, when 1002 quits, hung up over TLS.
func TestBaresipTLSCall(t *testing.T) {
	cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
	r := startTLS(t, cfg, ca)
	callee := baresip.Start(t, r.phone(t, "1001", "tls", true), 20*time.Second)
	registered(t, callee, "tls")
	caller := baresip.Start(t, r.phone(t, "1002", "tls", false), 6*time.Second, "/dial 1001")
	if !callee.WaitOutput("Call established", 15*time.Second) || !caller.WaitOutput("Call established", 15*time.Second) {
		t.Fatalf("call not established\ncallee:\n%s\ncaller:\n%s", callee.Tail(6000), caller.Tail(6000))
	}
	out := callee.Output()
	invite := strings.Index(out, "INVITE sip:1001")
	if invite < 0 {
		t.Fatalf("callee saw no INVITE:\n%s", callee.Tail(6000))
	}
	msg := out[invite:]
	if !strings.Contains(msg[:min(len(msg), 600)], "Via: SIP/2.0/TLS ") || !strings.Contains(msg[:min(len(msg), 1200)], ";transport=tls>") {
		t.Errorf("INVITE to the TLS contact:\n%s", msg[:min(len(msg), 1200)])
	}
	// The INVITE came over the connection the REGISTER opened: baresip's trace names the
	// same local port for both.
	if regConn, invConn := traceConn(out, "REGISTER sip:"), traceConn(out, "INVITE sip:1001"); regConn == "" || regConn != invConn {
		t.Errorf("REGISTER went over %q, the INVITE came over %q: not the same flow", regConn, invConn)
	}
	if !caller.Wait(20 * time.Second) {
		t.Fatal("caller did not quit")
	}
	if !callee.WaitOutput("BYE sip:", 10*time.Second) {
		t.Fatalf("callee got no BYE after the caller quit:\n%s", callee.Tail(4000))
	}
}

// traceConn names the connection that carried the first message starting with start in a
// baresip SIP trace, whose header line reads "TLS 127.0.0.1:40312 -> 127.0.0.1:5061" one
// way and the reverse the other: both ends, in a fixed order.
func traceConn(out, start string) string {
	i := strings.Index(out, start)
	if i < 0 {
		return ""
	}
	head := out[:i]
	j := strings.LastIndex(head, "TLS ")
	if j < 0 {
		return ""
	}
	line, _, _ := strings.Cut(head[j+4:], "\n")
	a, b, _ := strings.Cut(strings.TrimSpace(line), " -> ")
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

// TestBaresipFlowClosedRemovesBinding: a phone registered over TCP or TLS that dies
// (SIGKILL: no unREGISTER, its connection resets) loses its binding at once, with a
// flow-closed event, not at expiry an hour later.
func TestBaresipFlowClosedRemovesBinding(t *testing.T) {
	for _, transport := range []string{"tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
			r := startTLS(t, cfg, ca)
			evs := watch(t, r.Registrar())
			p := baresip.Start(t, r.phone(t, "1001", transport, true), 30*time.Second)
			registered(t, p, transport)
			bound := evs.wait(t, 5*time.Second, func(ev registrar.Event) bool { return ev.Kind == registrar.Bound && ev.AOR == "1001" })
			if bound.Transport != transport {
				t.Errorf("bound over %q, want %q", bound.Transport, transport)
			}
			p.Kill()
			ev := evs.wait(t, 10*time.Second, func(ev registrar.Event) bool { return ev.Kind == registrar.Unbound && ev.AOR == "1001" })
			if ev.Reason != registrar.ReasonFlowClosed || ev.Source != bound.Source {
				t.Errorf("unbound %+v, want reason %q from %s", ev, registrar.ReasonFlowClosed, bound.Source)
			}
			if n := len(r.Registrar().Lookup("1001")); n != 0 {
				t.Errorf("%d bindings left after the flow closed", n)
			}
		})
	}
}

// TestBaresipFlowOutlivesIdleBound: with a short idle bound, a connection that never
// registers is closed by it, while a phone registered over TCP or TLS, silent for longer
// than that, keeps its connection and is rung over it.
func TestBaresipFlowOutlivesIdleBound(t *testing.T) {
	for _, transport := range []string{"tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
			cfg.SIP.Connections.IdleTimeout = config.Duration(500 * time.Millisecond)
			r := startTLS(t, cfg, ca)
			callee := baresip.Start(t, r.phone(t, "1001", transport, true), 30*time.Second)
			registered(t, callee, transport)
			// A connection opened after the phone's last byte, and never registered: when the
			// server has closed it, the phone's flow has been quiet for longer than the bound.
			probe, err := net.Dial("tcp", r.tcp)
			if err != nil {
				t.Fatal(err)
			}
			probe.SetReadDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.Copy(io.Discard, probe); err != nil {
				t.Fatalf("unregistered connection not closed: %v", err)
			}
			probe.Close()
			if got := r.metric(t, "ccswitch_sip_connections_closed_total", "transport", "tcp", "reason", "idle"); got != 1 {
				t.Errorf("idle closes = %v, want 1 (the probe only)", got)
			}
			if n := len(r.Registrar().Lookup("1001")); n != 1 {
				t.Fatalf("%d bindings after the idle bound, want 1", n)
			}
			caller := baresip.Start(t, r.phone(t, "1002", "udp", false), 6*time.Second, "/dial 1001")
			if !callee.WaitOutput("Call established", 15*time.Second) {
				t.Fatalf("the registered phone was not reached over its flow\ncallee:\n%s\ncaller:\n%s", callee.Tail(4000), caller.Tail(4000))
			}
			caller.Wait(20 * time.Second)
		})
	}
}
