package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// drainRig is the binary on the demo configuration with a SIPp callee behind extension 2000
// and the carrier on a free port.
type drainRig struct {
	t                 *testing.T
	bin, sipp, dir    string
	sipPort, httpPort int
	carrier, callee   int
	logs              syncBuffer
	cmd               *exec.Cmd
	done              chan error
}

func startDrainRig(t *testing.T, drainTimeout string) *drainRig {
	t.Helper()
	r := &drainRig{t: t, bin: buildBinary(t), sipp: testenv.Tool(t, "sipp"), dir: t.TempDir(), done: make(chan error, 1)}
	demo, sipPort, httpPort, _ := demoOnFreePorts(t)
	r.sipPort, r.httpPort = sipPort, httpPort
	r.carrier, r.callee = testenv.FreePort(t), testenv.FreePort(t)
	demo = strings.Replace(demo, `sources: ["127.0.0.1:5080"]`, fmt.Sprintf(`sources: ["127.0.0.1:%d"]`, r.carrier), 1)
	demo = strings.Replace(demo, "sip:2000@127.0.0.1:5090", fmt.Sprintf("sip:2000@127.0.0.1:%d", r.callee), 1)
	demo = strings.Replace(demo, "\nsip:\n", "\nsip:\n  drain_timeout: "+drainTimeout+"\n", 1)
	cfgPath := filepath.Join(r.dir, "ccswitch.yaml")
	if err := os.WriteFile(cfgPath, []byte(demo), 0o644); err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(r.bin, "-config", cfgPath, "-data", r.data())
	r.cmd.Dir = r.dir
	r.cmd.Stdout, r.cmd.Stderr = &r.logs, &r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		if t.Failed() {
			t.Logf("ccswitch output:\n%s", r.logs.String())
		}
	})
	waitFor(t, "ccswitch ready", func() bool { return strings.Contains(r.logs.String(), "ccswitch ready") })
	return r
}

func (r *drainRig) data() string { return filepath.Join(r.dir, "data") }

// sippStart runs SIPp in the background; the channel gets its error and output.
func (r *drainRig) sippStart(args ...string) <-chan string {
	out := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, r.sipp, append([]string{"-i", "127.0.0.1", "-m", "1", "-nostdin", "-timeout", "40s", "-timeout_error"}, args...)...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		defer cancel()
		err := cmd.Wait()
		s := ""
		if err != nil {
			s = fmt.Sprintf("%v\n%s", err, tailString(b.String(), 4000))
		}
		out <- s
	}()
	r.t.Cleanup(func() { cancel() })
	return out
}

// activeCalls reads ccswitch_sip_active_calls from /metrics (summed over trunks).
func (r *drainRig) metric(name string) string {
	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.httpPort))
	if err != nil {
		return ""
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name) {
			return line
		}
	}
	return ""
}

// A stop drains: the call in progress goes on to its natural end (the caller's BYE after 6 s,
// no BYE from ccswitch before it), new calls get 503, OPTIONS gets 503 (a dispatcher takes
// the node out), REGISTER is still served; then the process stops by itself, well before
// drain_timeout. The stop comes from `ccswitch drain`, which waits and reports.
func TestDrainLetsCallsEnd(t *testing.T) {
	r := startDrainRig(t, "60s")
	callee := r.sippStart("-sn", "uas", "-p", fmt.Sprint(r.callee))
	caller := r.sippStart("-sn", "uac", "-d", "6000", "-s", "+15550100", "-p", fmt.Sprint(r.carrier), fmt.Sprintf("127.0.0.1:%d", r.sipPort))
	waitFor(t, "the call up", func() bool { return strings.HasSuffix(r.metric(`ccswitch_sip_active_calls{trunk="carrier"}`), " 1") })

	var drainOut bytes.Buffer
	drainCmd := exec.Command(r.bin, "drain", "-data", r.data(), "-timeout", "50s")
	drainCmd.Stdout, drainCmd.Stderr = &drainOut, &drainOut
	if err := drainCmd.Start(); err != nil {
		t.Fatal(err)
	}
	drained := make(chan error, 1)
	go func() { drained <- drainCmd.Wait() }()
	start := time.Now()
	waitFor(t, "draining", func() bool { return strings.HasSuffix(r.metric("ccswitch_sip_draining"), " 1") })

	// New calls: 503, from the carrier and from any other source.
	for _, port := range []int{testenv.FreePort(t), testenv.FreePort(t)} {
		if out := <-r.sippStart("-sf", filepath.Join("testdata", "refused.xml"), "-key", "user", "caller", "-s", "+15550103", "-p", fmt.Sprint(port), fmt.Sprintf("127.0.0.1:%d", r.sipPort)); out != "" {
			t.Fatalf("new call while draining: %s", out)
		}
	}
	// OPTIONS: 503 for a dispatcher.
	sipsak := testenv.Tool(t, "sipsak")
	out, _ := exec.Command(sipsak, "-s", fmt.Sprintf("sip:127.0.0.1:%d", r.sipPort), "-vv").CombinedOutput()
	if !strings.Contains(string(out), "SIP/2.0 503") {
		t.Fatalf("OPTIONS while draining:\n%s", out)
	}
	if !strings.Contains(r.metric(`ccswitch_sip_drain_refused_total{method="OPTIONS"}`), " 1") {
		t.Errorf("OPTIONS refusal not counted: %q", r.metric(`ccswitch_sip_drain_refused_total{method="OPTIONS"}`))
	}
	// REGISTER is still served (bindings are stored for after the restart).
	out, _ = exec.Command(sipsak, "-U", "-C", fmt.Sprintf("sip:1006@127.0.0.1:%d", testenv.FreePort(t)), "-s", fmt.Sprintf("sip:1006@127.0.0.1:%d", r.sipPort),
		"-u", "1006", "-a", "secret1006", "-x", "60", "-vv").CombinedOutput()
	if !strings.Contains(string(out), "usrloc tests completed successful") {
		t.Errorf("REGISTER while draining:\n%s", out)
	}

	// The call ends by the caller's own BYE: ccswitch sent none before (the caller's
	// scenario fails on any request during its pause).
	if out := <-caller; out != "" {
		t.Fatalf("caller: %s", out)
	}
	if out := <-callee; out != "" {
		t.Fatalf("callee: %s", out)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("ccswitch exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ccswitch did not stop once its last call ended")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("stopped %v after the drain began: it waited for the timeout, not for the call", took)
	}
	if err := <-drained; err != nil || !strings.Contains(drainOut.String(), "stopped after") {
		t.Errorf("ccswitch drain: %v\n%s", err, drainOut.String())
	}
	logs := r.logs.String()
	for _, want := range []string{"draining: new calls refused", "drained: no call in progress", "ccswitch stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(r.data(), pidFile)); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	// Nothing runs on the folder any more.
	if code := run([]string{"drain", "-data", r.data()}, io.Discard, io.Discard); code != 1 {
		t.Errorf("ccswitch drain with nothing running: exit %d, want 1", code)
	}
	// A stale pid file naming a live process that is not this folder's ccswitch (this test
	// process) is refused, not signalled.
	if err := os.WriteFile(filepath.Join(r.data(), pidFile), []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	if code := run([]string{"drain", "-data", r.data()}, io.Discard, &errOut); code != 1 || !strings.Contains(errOut.String(), "stale pid file") {
		t.Errorf("ccswitch drain with a stale pid file: exit %d, %s", code, errOut.String())
	}
}

// A call still up at sip.drain_timeout is ended with BYE on both legs, then the process
// stops; a stop with drain_timeout 0 would not wait at all (TestBinary stops with no call).
func TestDrainTimeoutEndsCalls(t *testing.T) {
	r := startDrainRig(t, "2s")
	callee := r.sippStart("-sn", "uas", "-p", fmt.Sprint(r.callee))
	caller := r.sippStart("-sf", filepath.Join("testdata", "closed.xml"), "-key", "user", "carrier", "-s", "+15550100",
		"-p", fmt.Sprint(r.carrier), fmt.Sprintf("127.0.0.1:%d", r.sipPort)) // waits for ccswitch's BYE
	waitFor(t, "the call up", func() bool { return strings.HasSuffix(r.metric(`ccswitch_sip_active_calls{trunk="carrier"}`), " 1") })
	start := time.Now()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("ccswitch exited with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ccswitch did not stop after its drain timeout")
	}
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("stopped %v after SIGTERM, before the 2 s drain timeout", took)
	}
	if out := <-caller; out != "" {
		t.Fatalf("caller (waits for ccswitch's BYE): %s", out)
	}
	if out := <-callee; out != "" {
		t.Fatalf("callee: %s", out)
	}
	if !strings.Contains(r.logs.String(), "drain timeout: ending the calls still in progress") {
		t.Errorf("log lacks the drain timeout")
	}
}
