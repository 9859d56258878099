package sip_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/internal/testpki"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// tlsRig is a server with UDP, TCP and TLS listeners on fixed free ports, a certificate
// from its own test CA, and a metrics registry.
type tlsRig struct {
	*testServer
	ca       *testpki.CA
	cfg      *config.Config
	reg      *prometheus.Registry
	udp      string
	tcp      string
	tls      string
	certFile string
	keyFile  string
}

// tlsConfig is testConfig with TCP and TLS listeners on host (127.0.0.1 or ::1).
func tlsConfig(t testing.TB, host string) (*config.Config, *testpki.CA, string, string) {
	cfg := testConfig()
	ca := testpki.NewCA(t, "ccswitch-test")
	cert, key := ca.Issue(t, "ccswitch", "127.0.0.1", "::1", "localhost")
	p := func() string { return net.JoinHostPort(host, fmt.Sprint(testenv.FreePort(t))) }
	cfg.SIP.UDP = []string{p()}
	cfg.SIP.TCP = []string{p()}
	cfg.SIP.TLS = config.TLS{Listen: []string{p()}, Cert: cert, Key: key}
	cfg.SIP.DigestAlgorithms = []string{"MD5"}
	cfg.ApplyDefaults()
	return cfg, ca, cert, key
}

func startTLS(t testing.TB, cfg *config.Config, ca *testpki.CA, opts ...sip.Option) *tlsRig {
	t.Helper()
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	opts = append(opts, sip.WithRegisterer(reg), sip.WithDataDir(dir))
	ts := startServer(t, cfg, dir, opts...)
	r := &tlsRig{testServer: ts, ca: ca, cfg: cfg, reg: reg, udp: cfg.SIP.UDP[0]}
	if len(cfg.SIP.TCP) > 0 {
		r.tcp = cfg.SIP.TCP[0]
	}
	if len(cfg.SIP.TLS.Listen) > 0 {
		r.tls = cfg.SIP.TLS.Listen[0]
	}
	return r
}

// metric returns the value of a counter or gauge with the given labels (0 when absent).
func (r *tlsRig) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(m, labels[i], labels[i+1]) {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// options is an OPTIONS request for a stream transport (Content-Length, Via transport).
func options(transport, ruri, from string) string {
	return fmt.Sprintf("OPTIONS %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK%d;rport\r\nMax-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=t%d\r\nTo: <%s>\r\nCall-ID: %d@probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		ruri, transport, from, time.Now().UnixNano(), from, time.Now().UnixNano(), ruri, time.Now().UnixNano())
}

// readStatus reads one SIP response's status line and headers from a stream.
func readStatus(t testing.TB, r *bufio.Reader) (status string, head string) {
	t.Helper()
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v (so far %q)", err, b.String())
		}
		if line == "\r\n" && b.Len() > 0 {
			break
		}
		if line == "\r\n" {
			continue // keep-alive
		}
		b.WriteString(line)
	}
	head = b.String()
	status, _, _ = strings.Cut(head, "\r\n")
	return status, head
}

// TestTLSOpenSSLOptions: openssl s_client, verifying ccswitch's certificate against the
// test CA and the IP it dialled, sends OPTIONS over TLS and gets 200 whose Via says TLS —
// on an IPv4 and an IPv6 listener.
func TestTLSOpenSSLOptions(t *testing.T) {
	bin := testenv.Tool(t, "openssl")
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
			r := startTLS(t, cfg, ca)
			cmd := exec.Command(bin, "s_client", "-connect", r.tls, "-CAfile", ca.File, "-verify_return_error", "-verify_ip", host, "-quiet", "-no_ign_eof")
			in, _ := cmd.StdinPipe()
			out, _ := cmd.StdoutPipe()
			var stderr lockedBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			io.WriteString(in, options("TLS", "sip:"+r.tls, "probe.invalid"))
			done := make(chan struct{})
			var status, head string
			go func() {
				defer close(done)
				status, head = readStatus(t, bufio.NewReader(out))
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("no answer over TLS; openssl said:\n%s", stderr.String())
			}
			if status != "SIP/2.0 200 OK" || !strings.Contains(head, "Via: SIP/2.0/TLS probe.invalid") {
				t.Fatalf("answer:\n%s", head)
			}
			in.Close() // openssl ends at the end of its input
			cmd.Wait()
			if !strings.Contains(stderr.String(), "verify return:1") {
				t.Errorf("openssl did not verify the chain:\n%s", stderr.String())
			}
		})
	}
}

// lockedBuffer is a strings.Builder a child process may write while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// tlsDial opens a verifying TLS connection to the rig (roots: pool).
func tlsDial(addr string, pool *x509.CertPool) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return tls.DialWithDialer(d, "tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
}

func pool(t testing.TB, files ...string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p.AppendCertsFromPEM(b)
	}
	return p
}

// TestTLSCertificateReload: a reload with new certificate files changes what the running
// listener presents to the next handshake (the old CA no longer verifies it); a reload whose
// files cannot be read keeps the certificate in use.
func TestTLSCertificateReload(t *testing.T) {
	cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
	r := startTLS(t, cfg, ca)
	if c, err := tlsDial(r.tls, pool(t, ca.File)); err != nil {
		t.Fatalf("first certificate: %v", err)
	} else {
		c.Close()
	}
	ca2 := testpki.NewCA(t, "renewed")
	cert2, key2 := ca2.Issue(t, "ccswitch-renewed", "127.0.0.1")
	next := *cfg
	next.SIP.TLS.Cert, next.SIP.TLS.Key = cert2, key2
	r.Reload(&next)
	if _, err := tlsDial(r.tls, pool(t, ca.File)); err == nil {
		t.Fatal("after reload the old CA still verifies: the certificate did not change")
	}
	c, err := tlsDial(r.tls, pool(t, ca2.File))
	if err != nil {
		t.Fatalf("after reload: %v", err)
	}
	c.Close()
	broken := next
	broken.SIP.TLS.Cert = filepath.Join(t.TempDir(), "gone.pem")
	r.Reload(&broken)
	if c, err := tlsDial(r.tls, pool(t, ca2.File)); err != nil {
		t.Fatalf("a reload with a missing file dropped the certificate in use: %v", err)
	} else {
		c.Close()
	}
}

// TestTLSSelfSigned: with no cert and key the server makes a self-signed certificate in
// the data folder (key 0600), serves it, and reuses the same files after a restart.
func TestTLSSelfSigned(t *testing.T) {
	cfg, _, _, _ := tlsConfig(t, "127.0.0.1")
	cfg.SIP.TLS.Cert, cfg.SIP.TLS.Key = "", ""
	data := t.TempDir()
	run := func() []byte {
		ts := startServer(t, cfg, data, sip.WithDataDir(data))
		certFile := filepath.Join(data, "tls", "cert.pem")
		st, err := os.Stat(filepath.Join(data, "tls", "key.pem"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v, mode %v", err, st.Mode())
		}
		c, err := tlsDial(cfg.SIP.TLS.Listen[0], pool(t, certFile))
		if err != nil {
			t.Fatalf("the self-signed certificate does not verify for 127.0.0.1: %v", err)
		}
		c.Close()
		ts.stop()
		b, _ := os.ReadFile(certFile)
		return b
	}
	first, second := run(), run()
	if string(first) != string(second) {
		t.Error("a restart made a new certificate instead of reusing the one in the data folder")
	}
}

// TestStreamIdleAndHandshakeBounds: a TCP connection that never registers is closed after
// sip.connections.idle_timeout, a TLS connection that never completes its handshake after
// sip.tls.handshake_timeout; both counted.
func TestStreamIdleAndHandshakeBounds(t *testing.T) {
	cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
	cfg.SIP.Connections.IdleTimeout = dur(300 * time.Millisecond)
	cfg.SIP.TLS.HandshakeTimeout = dur(300 * time.Millisecond)
	r := startTLS(t, cfg, ca)
	cases := []struct {
		name, addr, transport, reason string
		send                          string
	}{
		{"tcp idle after a request", r.tcp, "tcp", "idle", options("TCP", "sip:"+r.tcp, "probe.invalid")},
		{"tcp silent", r.tcp, "tcp", "idle", ""},
		{"tls silent: no handshake", r.tls, "tls", "handshake", ""},
		{"tls garbage handshake", r.tls, "tls", "handshake", "GET / HTTP/1.0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.metric(t, "ccswitch_sip_connections_closed_total", "transport", tc.transport, "reason", tc.reason)
			c, err := net.Dial("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.send != "" {
				c.Write([]byte(tc.send))
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a bound on the test, not the assertion
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatalf("connection not closed by the server: %v", err)
			}
			if got := r.metric(t, "ccswitch_sip_connections_closed_total", "transport", tc.transport, "reason", tc.reason); got != before+1 {
				t.Errorf("closed{%s,%s} = %v, want %v", tc.transport, tc.reason, got, before+1)
			}
		})
	}
}

// TestStreamPerSourceCap: max_per_source connections from one IP are held, one more is
// closed at accept and counted; closing one frees a place; another source IP and a trunk's
// source are not affected.
func TestStreamPerSourceCap(t *testing.T) {
	cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
	cfg.SIP.Connections.MaxPerSource = 3
	cfg.Trunks = []config.Trunk{{Name: "carrier", Sources: []string{"127.0.0.3"}, Transport: "udp", Media: "anchor"}}
	r := startTLS(t, cfg, ca)
	dialFrom := func(ip string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", r.tcp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// answers reports whether the connection carries an OPTIONS to its 200.
	answers := func(c net.Conn) bool {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		defer c.SetDeadline(time.Time{})
		if _, err := c.Write([]byte(options("TCP", "sip:"+r.tcp, "probe.invalid"))); err != nil {
			return false
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.HasPrefix(line, "SIP/2.0 200")
	}
	var held []net.Conn
	for range 3 {
		c := dialFrom("127.0.0.1")
		if !answers(c) {
			t.Fatal("a connection under the cap was not served")
		}
		held = append(held, c)
	}
	extra := dialFrom("127.0.0.1")
	if answers(extra) {
		t.Fatal("a fourth connection from one source was served (max_per_source 3)")
	}
	if got := r.metric(t, "ccswitch_sip_connections_refused_total", "transport", "tcp", "reason", "per_source"); got != 1 {
		t.Errorf("refused{per_source} = %v, want 1", got)
	}
	other := dialFrom("127.0.0.2")
	if !answers(other) {
		t.Error("another source was refused: the cap is per source")
	}
	for range 5 {
		if c := dialFrom("127.0.0.3"); !answers(c) {
			t.Fatal("a trunk source was capped")
		}
	}
	held[0].Close()
	// The server sees the close asynchronously: a place frees up once it has.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c := dialFrom("127.0.0.1"); answers(c) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("closing a connection did not free a place under the cap")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sendUDP sends one request over UDP and returns the status line of the answer.
func sendUDP(t testing.TB, addr, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg = strings.ReplaceAll(msg, "SIP/2.0/UDP probe.invalid", "SIP/2.0/UDP "+c.LocalAddr().String())
	c.Write([]byte(msg))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
	return line
}

// TestInsecureRefused: what must come over TLS and did not is refused 403 and counted: a
// sips: Request-URI over UDP or TCP, a REGISTER binding a sips: contact over UDP, any request
// from a trunk with require_tls over UDP. Over TLS the same sips: request is served.
func TestInsecureRefused(t *testing.T) {
	cfg, ca, _, _ := tlsConfig(t, "127.0.0.1")
	cfg.Trunks = []config.Trunk{{Name: "secure", Sources: []string{"127.0.0.4"}, Transport: "tls", RequireTLS: true, Media: "anchor"}}
	r := startTLS(t, cfg, ca)
	register := func(contact string) string {
		return fmt.Sprintf("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP probe.invalid;branch=z9hG4bK%d;rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=r1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: %d@probe\r\nCSeq: 1 REGISTER\r\nContact: <%s>\r\nContent-Length: 0\r\n\r\n",
			r.udp, time.Now().UnixNano(), time.Now().UnixNano(), contact)
	}
	cases := []struct {
		name, reason string
		send         func() string
		want         string
	}{
		{"sips request over UDP", "sips", func() string { return sendUDP(t, r.udp, options("UDP", "sips:"+r.tls, "probe.invalid")) }, "SIP/2.0 403 TLS Required"},
		{"sips request over TCP", "sips", func() string {
			c, err := net.Dial("tcp", r.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte(options("TCP", "sips:"+r.tls, "probe.invalid")))
			s, _ := readStatus(t, bufio.NewReader(c))
			return s
		}, "SIP/2.0 403 TLS Required"},
		{"sips contact registered over UDP", "sips", func() string { return sendUDP(t, r.udp, register("sips:1001@127.0.0.1:5999")) }, "SIP/2.0 403 TLS Required"},
		{"require_tls trunk over UDP", "require_tls", func() string {
			c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.4")}, net.UDPAddrFromAddrPort(mustAddrPort(t, r.udp)))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte(strings.ReplaceAll(options("UDP", "sip:+15550100@"+r.udp, "probe.invalid"), "probe.invalid", c.LocalAddr().String())))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4096)
			n, err := c.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			return line
		}, "SIP/2.0 403 TLS Required"},
		{"sips request over TLS", "", func() string {
			c, err := tlsDial(r.tls, pool(t, ca.File))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte(options("TLS", "sips:"+r.tls, "probe.invalid")))
			s, _ := readStatus(t, bufio.NewReader(c))
			return s
		}, "SIP/2.0 200 OK"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := r.metric(t, "ccswitch_sip_insecure_refused_total", "reason", tc.reason)
			if got := tc.send(); got != tc.want {
				t.Fatalf("answer %q, want %q", got, tc.want)
			}
			if tc.reason != "" && r.metric(t, "ccswitch_sip_insecure_refused_total", "reason", tc.reason) != before+1 {
				t.Errorf("refusal not counted under reason %q", tc.reason)
			}
		})
	}
	if n := len(r.Registrar().Lookup("1001")); n != 0 {
		t.Errorf("a refused REGISTER left %d bindings", n)
	}
}

// events records registrar events (a subscriber: presence's view).
type events struct {
	mu  sync.Mutex
	evs []registrar.Event
	ch  chan registrar.Event
}

func watch(t testing.TB, reg *registrar.Registrar) *events {
	e := &events{ch: make(chan registrar.Event, 64)}
	cancel := reg.Subscribe(func(ev registrar.Event) {
		e.mu.Lock()
		e.evs = append(e.evs, ev)
		e.mu.Unlock()
		select {
		case e.ch <- ev:
		default:
		}
	})
	t.Cleanup(cancel)
	return e
}

// wait returns the first event that matches, or fails after timeout.
func (e *events) wait(t testing.TB, timeout time.Duration, match func(registrar.Event) bool) registrar.Event {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev := <-e.ch:
			if match(ev) {
				return ev
			}
		case <-deadline:
			e.mu.Lock()
			defer e.mu.Unlock()
			t.Fatalf("no matching registrar event in %v; saw %+v", timeout, e.evs)
		}
	}
}

func mustAddrPort(t testing.TB, s string) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		t.Fatal(err)
	}
	return ap
}
