package sip_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/store"
	"github.com/prometheus/client_golang/prometheus"
)

func dur(d time.Duration) config.Duration { return config.Duration(d) }

// testConfig is the demo shape: extensions 1001–1005 (1001–1003 may call out), 2000 with
// a static contact, a carrier trunk, DIDs.
func testConfig() *config.Config {
	cfg := &config.Config{SIP: config.SIP{
		UDP: []string{"127.0.0.1:0"}, Realm: "ccswitch",
		MinExpires: dur(60 * time.Second), MaxExpires: dur(time.Hour), DefaultExpires: dur(time.Hour),
		NonceTTL: dur(5 * time.Minute), RingTimeout: dur(10 * time.Second),
	}}
	for i := 1001; i <= 1005; i++ {
		cfg.Users = append(cfg.Users, config.User{Extension: fmt.Sprint(i), Secret: fmt.Sprintf("secret%d", i), Name: fmt.Sprintf("User %d", i), Outbound: i <= 1003})
	}
	return cfg
}

type testServer struct {
	*sip.Server
	st     *store.Store
	dir    string
	addr   string // UDP host:port
	cancel context.CancelFunc
	done   chan error
}

// testLogger is a test server's logger: with SIP_TEST_LOG set, everything on stderr;
// otherwise Info and above are kept (the last 64 KiB) and printed if the test fails, so that a
// failure in CI says what the server refused and why.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("SIP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	b := &tailBuffer{max: 64 << 10}
	t.Cleanup(func() { // registered before the server's stop: runs after it
		if t.Failed() {
			t.Logf("the server's log (Info and above, its last 64 KiB):\n%s", b.String())
		}
	})
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// tailBuffer keeps the last max bytes written to it. It trims only once it holds twice that,
// so that a busy test's log does not move max bytes for every record.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > 2*w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.b[max(0, len(w.b)-w.max):])
}

// startServer runs a Server with cfg on a store in dir (a temp dir when "").
func startServer(t testing.TB, cfg *config.Config, dir string, opts ...sip.Option) *testServer {
	t.Helper()
	return startServerWith(t, cfg, dir, nil, opts...)
}

// startServerWith is startServer with more options made from the server's store (nil: none).
func startServerWith(t testing.TB, cfg *config.Config, dir string, withStore func(*store.Store) []sip.Option, opts ...sip.Option) *testServer {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts = append([]sip.Option{sip.WithDataDir(dir)}, opts...) // a self-signed TLS certificate goes there
	st, err := store.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	if withStore != nil {
		opts = append(opts, withStore(st)...)
	}
	srv, err := sip.New(cfg, st, testLogger(t), opts...)
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, st: st, dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-ts.done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready after 10s")
	}
	ts.addr = srv.Addrs()[0].String()
	t.Cleanup(ts.stop)
	return ts
}

// stop stops the server and closes its store (idempotent).
func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	ts.cancel = nil
	select {
	case <-ts.done:
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		panic("server did not stop in 20s\n" + string(buf[:n]))
	}
	ts.st.Close()
}

func (ts *testServer) port() string {
	_, p, _ := net.SplitHostPort(ts.addr)
	return p
}

// sippRun is one SIPp process.
type sippRun struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan struct{} // closed when SIPp exited; err is then set
	err  error
	name string
}

// sippArgs are the common arguments: scenario, local port, bounded run time.
func sippArgs(scenario string, port int, extra ...string) []string {
	return append([]string{"-sf", filepath.Join("testdata", scenario), "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-nostdin", "-timeout", "40s", "-timeout_error"}, extra...)
}

// startSIPp starts SIPp in the background; wait() returns its exit error.
func startSIPp(t testing.TB, name string, args ...string) *sippRun {
	t.Helper()
	bin := testenv.Tool(t, "sipp")
	r := &sippRun{name: name, done: make(chan struct{})}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Dir = "."
	r.cmd.Stdout = &r.out
	r.cmd.Stderr = &r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	r.waitBound(args)
	return r
}

// waitBound returns once a UDP SIPp has bound its -p port (a callee started just before a
// call must be there to answer it: on a loaded machine SIPp takes longer than the 100 ms the
// tests used to sleep), or once it exited, or after 10 s. It only reads /proc/net/udp*: a
// probe socket on the port could take it from SIPp.
func (r *sippRun) waitBound(args []string) {
	port := 0
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "-p":
			fmt.Sscan(args[i+1], &port)
		case "-t":
			if !strings.HasPrefix(args[i+1], "u") {
				return // TCP or TLS: SIPp connects, nothing to wait for
			}
		}
	}
	if port == 0 {
		return
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-r.done:
			return
		default:
		}
		if udpBound(port) {
			return
		}
	}
}

// udpBound reports whether a UDP socket of this host is bound to port (Linux /proc).
func udpBound(port int) bool {
	want := fmt.Sprintf(":%04X", port)
	for _, f := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if fields := strings.Fields(line); len(fields) > 1 && strings.HasSuffix(fields[1], want) {
				return true
			}
		}
	}
	return false
}

func (r *sippRun) wait(t testing.TB) {
	t.Helper()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("sipp %s failed: %v\n%s", r.name, r.err, tail(r.out.String(), 10000))
		}
	case <-time.After(60 * time.Second):
		r.cmd.Process.Kill()
		t.Fatalf("sipp %s did not finish\n%s", r.name, tail(r.out.String(), 10000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// metricValue sums the samples of metric name in reg whose labels include the value label
// ("" for a metric without labels).
func metricValue(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					match = true
				}
			}
			if !match {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}
