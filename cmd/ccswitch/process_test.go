package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/configs"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/store"
)

// syncBuffer is a bytes.Buffer the child's output can be written to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// waitFor polls cond every 50 ms for at most 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// buildBinary builds ccswitch once per test run, for the tests that run it as a process.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ccswitch-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ccswitch")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// demoOnFreePorts is the demo configuration moved to free SIP, HTTP and RTP ports.
func demoOnFreePorts(t *testing.T) (demo string, sipPort, httpPort, tlsPort int) {
	sipPort, httpPort, tlsPort = testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	rtp := 40000 + (sipPort % 500 * 40)
	demo = string(configs.Default)
	for _, s := range []string{"127.0.0.1:5060", "127.0.0.1:5061", "listen: 127.0.0.1:8080", "rtp_ports: 20000-23999"} {
		if !strings.Contains(demo, s) {
			t.Fatalf("configs/ccswitch.yaml has no %q (the tests move the demo onto free ports)", s)
		}
	}
	demo = strings.ReplaceAll(demo, "127.0.0.1:5060", fmt.Sprintf("127.0.0.1:%d", sipPort))
	demo = strings.ReplaceAll(demo, "127.0.0.1:5061", fmt.Sprintf("127.0.0.1:%d", tlsPort))
	demo = strings.Replace(demo, "listen: 127.0.0.1:8080", fmt.Sprintf("listen: 127.0.0.1:%d", httpPort), 1)
	demo = strings.Replace(demo, "rtp_ports: 20000-23999", fmt.Sprintf("rtp_ports: %d-%d", rtp, rtp+39), 1)
	demo = strings.Replace(demo, "webrtc:\n  port: 8443", fmt.Sprintf("webrtc:\n  port: %d", testenv.FreePort(t)), 1)
	return demo, sipPort, httpPort, tlsPort
}

// TestBinary runs the real binary, from an empty folder, on the demo configuration (moved to
// free ports): SIP answers a real client (sipsak); a carrier's call (SIPp, echoing the RTP it
// gets) to the always-closed number hears the prompt embedded in the binary, and its call
// record is exported with the echoed packets; the desktop is served; a SIGHUP with a broken
// configuration is refused while the process keeps serving; SIGTERM stops it cleanly.
func TestBinary(t *testing.T) {
	sipsak := testenv.Tool(t, "sipsak")
	sipp := testenv.Tool(t, "sipp")
	dir := t.TempDir()
	bin := buildBinary(t)
	demo, sipPort, httpPort, tlsPort := demoOnFreePorts(t)
	carrier := testenv.FreePort(t)
	demo = strings.Replace(demo, `sources: ["127.0.0.1:5080"]`, fmt.Sprintf(`sources: ["127.0.0.1:%d"]`, carrier), 1)
	demo += "\ncall_records: {export: calls.jsonl}\n"
	cfgPath := filepath.Join(dir, "ccswitch.yaml")
	if err := os.WriteFile(cfgPath, []byte(demo), 0o644); err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	cmd := exec.Command(bin, "-config", cfgPath, "-data", filepath.Join(dir, "data"))
	cmd.Dir = t.TempDir() // no configs/prompts here: the prompts are in the binary
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("ccswitch output:\n%s", logs.String())
		}
	}()
	waitFor(t, "ccswitch ready", func() bool { return strings.Contains(logs.String(), "ccswitch ready") })

	out, err := exec.Command(sipsak, "-s", fmt.Sprintf("sip:127.0.0.1:%d", sipPort), "-vv").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SIP/2.0 200 OK") {
		t.Fatalf("sipsak OPTIONS: %v\n%s", err, out)
	}
	// The demo listens TLS with a self-signed certificate it made in the data folder (key
	// 0600), which verifies for 127.0.0.1 when trusted; a restart would reuse it (sip tests).
	certFile := filepath.Join(dir, "data", "tls", "cert.pem")
	if st, err := os.Stat(filepath.Join(dir, "data", "tls", "key.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("self-signed key in the data folder: %v", err)
	}
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	tc, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS to the demo with its self-signed certificate trusted: %v", err)
	}
	tc.Close()

	// The closed number plays its "closed" prompt (1.9 s, ~95 packets), then hangs up.
	scenario, err := filepath.Abs(filepath.Join("testdata", "closed.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancelSIPp := context.WithTimeout(context.Background(), 60*time.Second)
	out, err = exec.CommandContext(sctx, sipp, "-sf", scenario, "-i", "127.0.0.1", "-p", fmt.Sprint(carrier), "-m", "1",
		"-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(testenv.FreePort(t)), "-nostdin", "-timeout", "30s", "-timeout_error",
		"-key", "user", "carrier", "-s", "+15550102", fmt.Sprintf("127.0.0.1:%d", sipPort)).CombinedOutput()
	cancelSIPp()
	if err != nil {
		t.Fatalf("sipp call to the closed number: %v\n%s", err, out)
	}
	var rec store.CallRecord
	waitFor(t, "the call's record exported", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "calls.jsonl"))
		line, _, _ := strings.Cut(string(b), "\n")
		return json.Unmarshal([]byte(line), &rec) == nil
	})
	if rec.To != "+15550102" || rec.Disposition != "unavailable" || rec.Flow != "demo" || len(rec.Legs) != 1 || rec.Legs[0].Packets < 50 {
		t.Fatalf("exported record %+v: want the closed number, unavailable, and the prompt's echo on leg a", rec)
	}
	// One registry: the SIP side (edge, NAT keepalives, abuse limits), the media engine, the
	// call records' media legs, the engine's queues, the runtime.
	mres, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	for _, want := range []string{`ccswitch_sip_requests_total{method="INVITE",status="200"} 1`, `ccswitch_sip_requests_total{method="OPTIONS",status="200"}`,
		`ccswitch_media_legs_total{role="a"} 1`, `ccswitch_queue_waiting{queue="sales"} 0`, `ccswitch_agents{state="offline"} 3`,
		`ccswitch_sip_bindings 0`, `ccswitch_sip_nat_pings_total 0`, `ccswitch_sip_flood_tracked_sources `,
		`ccswitch_media_ports_free 40`, `ccswitch_media_stranger_packets_total `, "go_goroutines"} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %s", res.Status)
	}

	// A broken configuration on SIGHUP is refused; the process goes on serving.
	if err := os.WriteFile(cfgPath, []byte(demo+"\nbogus: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload refused", func() bool { return strings.Contains(logs.String(), "reload refused") })
	if !regexp.MustCompile(`ccswitch\.yaml:\d+:1: bogus: unknown field`).MatchString(logs.String()) {
		t.Errorf("the refusal does not name the field:\n%s", logs.String())
	}
	out, err = exec.Command(sipsak, "-s", fmt.Sprintf("sip:127.0.0.1:%d", sipPort)).CombinedOutput()
	if err != nil {
		t.Fatalf("sipsak after a refused reload: %v\n%s", err, out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ccswitch exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ccswitch did not stop within 30 s of SIGTERM")
	}
	if !strings.Contains(logs.String(), "ccswitch stopped") {
		t.Errorf("no clean stop in the log:\n%s", logs.String())
	}
}
