package voice_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/store"
	"github.com/prometheus/client_golang/prometheus"
)

// rigConfig is the demo configuration, configs/ccswitch.yaml (the one embedded in the binary),
// moved onto free ports: SIP on 127.0.0.1:0, the carrier's source port, an RTP block, the
// queues' RONA timeout and the RTP timeout (no prompt folder: the prompts embedded in the
// binary play); plus a trunk "direct" with media: passthrough and two test numbers
// (+15550104 transfers to 1002, +15550105 waits at most 2 s in support, then in sales).
func rigConfig(t *testing.T, r *rig, rona, rtpTimeout string) *config.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "configs", "ccswitch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	y := string(b)
	for _, rep := range [][2]string{
		{`"127.0.0.1:5060"`, `"127.0.0.1:0"`},
		{`"127.0.0.1:5061"`, `"127.0.0.1:0"`}, // the demo's TLS listener
		{"rtp_ports: 20000-23999", fmt.Sprintf("rtp_ports: %d-%d\n  rtp_timeout: %s", r.portMin, r.portMax, rtpTimeout)},
		{`sources: ["127.0.0.1:5080"]`, fmt.Sprintf(`sources: ["127.0.0.1:%d"]`, r.carrier)},
		{"    outbound: sip:127.0.0.1:5080\n", ""},
		{"trunks:\n", fmt.Sprintf("trunks:\n  - {name: direct, sources: [\"127.0.0.1:%d\"], media: passthrough}\n", r.direct)},
		{"rona_timeout: 15s", "rona_timeout: " + rona},
		// Test-only numbers: a transfer to extension 1002, and support with a 2 s max wait.
		{"\nnumbers:\n", "\nnumbers:\n  - {did: \"+15550104\", flow: xfer}\n  - {did: \"+15550105\", flow: wait}\n"},
		{"\nflows:\n", "\nflows:\n  - {name: xfer, nodes: [{id: x, type: transfer, target: \"1002\"}]}\n" +
			"  - name: wait\n    nodes:\n      - {id: q, type: queue, queue: support, max_wait: 2s, overflow: q2}\n" +
			"      - {id: q2, type: queue, queue: sales, max_wait: 10s, overflow: bye}\n" +
			"      - {id: bye, type: hangup, prompt: goodbye}\n"},
	} {
		if !strings.Contains(y, rep[0]) {
			t.Fatalf("configs/ccswitch.yaml has no %q (the test moves the demo onto free ports)", rep[0])
		}
		y = strings.ReplaceAll(y, rep[0], rep[1])
	}
	cfg, err := config.Parse("ccswitch.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var rtpBlock atomic.Int32

type rig struct {
	t            *testing.T
	cfg          *config.Config
	srv          *sip.Server
	st           *store.Store
	eng          *media.Engine
	acd          *center.Center
	anc          *anchor.Anchor
	app          *voice.App
	stack        *voice.Stack
	addr         string
	carrier      int
	direct       int
	portMin      int
	portMax      int
	dir          string
	ends         chan voice.Summary
	released     chan media.Stats
	rings        chan [3]string // agent, call ID, caller: the screen pop hook
	cancel       context.CancelFunc
	done         chan struct{}
	promptsDir   string
	welcome      time.Duration        // the welcome prompt's length
	welcomeDelay time.Duration        // when callers press their first key: well past the welcome prompt
	reg          *prometheus.Registry // the media engine's metrics
	previews     chan voice.Preview   // callbacks previewed to agents
	voicemails   chan voice.Voicemail // messages to queues taken by agents
	prompts      chan promptPlayed    // hold prompts played
	stopOnce     sync.Once
}

// promptPlayed is one hold prompt (OnPrompt).
type promptPlayed struct {
	call, name string
	at         time.Time
}

func logger() *slog.Logger {
	if os.Getenv("VOICE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// freeEvenPort returns p with p and p+2 free a moment ago (SIPp's -mp uses both).
func freeEvenPort(t testing.TB) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 != 0 || p > 65000 {
			continue
		}
		c2, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+2))
		if err != nil {
			continue
		}
		c2.Close()
		return p
	}
	t.Fatal("no free even port pair")
	return 0
}

// newRig boots sip + media + anchor + acd + ivr + voice from the demo config on loopback, with the
// queues' RONA timeout rona and a 30 s RTP timeout.
func newRig(t *testing.T, rona string) *rig { return newRigTimeout(t, rona, "30s") }

func newRigTimeout(t *testing.T, rona, rtpTimeout string) *rig {
	t.Helper()
	return newRigWith(t, rona, rtpTimeout, nil)
}

// newRigWith is newRigTimeout with the parsed configuration changed by mutate first (nil: as
// is). The media engine's metrics go to r.reg.
func newRigWith(t *testing.T, rona, rtpTimeout string, mutate func(*config.Config)) *rig {
	t.Helper()
	return newRigIn(t, t.TempDir(), rona, rtpTimeout, mutate)
}

// newRigIn is newRigWith on the data folder dir (the store in dir/db): a second rig on the
// same folder is ccswitch restarted. opts change the voice stack's options (test hooks).
func newRigIn(t *testing.T, dir, rona, rtpTimeout string, mutate func(*config.Config), opts ...func(*voice.StackOptions)) *rig {
	t.Helper()
	testenv.Tool(t, "sipp")
	prompts, err := filepath.Abs(filepath.Join("..", "..", "configs", "prompts"))
	if err != nil {
		t.Fatal(err)
	}
	base := 46000 + int((int32(os.Getpid())+rtpBlock.Add(1))%60)*200
	r := &rig{t: t, carrier: testenv.FreePort(t), direct: testenv.FreePort(t), portMin: base, portMax: base + 199, dir: dir,
		ends: make(chan voice.Summary, 8), released: make(chan media.Stats, 8), rings: make(chan [3]string, 8), done: make(chan struct{}),
		promptsDir: prompts, previews: make(chan voice.Preview, 8), voicemails: make(chan voice.Voicemail, 8),
		prompts: make(chan promptPlayed, 256)}
	r.cfg = rigConfig(t, r, rona, rtpTimeout)
	if mutate != nil {
		mutate(r.cfg)
	}
	r.reg = prometheus.NewRegistry()
	w, err := media.LoadWAV(filepath.Join(prompts, "en", "welcome.wav"))
	if err != nil {
		t.Fatal(err)
	}
	// Keys pressed during the welcome prompt (no barge-in) are dropped by design; the menu
	// prompt after it is ~5 s long and takes them. 2 s of margin: on a loaded machine the
	// player re-bases late frames, so a prompt can last longer than its length.
	r.welcome = w.Duration()
	r.welcomeDelay = r.welcome + 2*time.Second

	// The center and the stack cmd/ccswitch runs, with test hooks.
	log := logger()
	r.st, err = store.Open(filepath.Join(r.dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	cc, err := center.New(r.cfg, center.Options{Store: r.st, SnapshotEvery: 10 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	so := voice.StackOptions{Logger: log, OnEnd: func(s voice.Summary) { r.ends <- s },
		OnRing: func(agent, callID, caller string) {
			select {
			case r.rings <- [3]string{agent, callID, caller}:
			default:
			}
		},
		OnRelease: func(_ string, st media.Stats) { r.released <- st }, Registerer: r.reg,
		Store: r.st, OnPreview: func(p voice.Preview) {
			select {
			case r.previews <- p:
			default:
			}
		},
		OnVoicemail: func(v voice.Voicemail) {
			select {
			case r.voicemails <- v:
			default:
			}
		},
		OnPrompt: func(callID, name string) {
			select {
			case r.prompts <- promptPlayed{callID, name, time.Now()}:
			default:
			}
		}}
	for _, o := range opts {
		o(&so)
	}
	stack, err := voice.NewStack(r.cfg, cc, so)
	if err != nil {
		t.Fatal(err)
	}
	r.stack, r.eng, r.acd, r.anc, r.app = stack, stack.Media, cc, stack.Anchor, stack.App
	r.srv, err = sip.New(r.cfg, r.st, log, append(stack.SIPOptions(), sip.WithDigestAlgorithms(r.cfg.SIP.DigestAlgorithms...), sip.WithDataDir(r.dir))...)
	if err != nil {
		t.Fatal(err)
	}
	stack.Attach(r.srv)

	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	stackDone, sipDone, centerDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() { r.srv.Run(ctx); close(sipDone) }()
	go func() { r.stack.Run(ctx); close(stackDone) }()
	// The center stops after the protocols, as cmd/ccswitch stops it: the calls ended by the
	// shutdown still reach it.
	cctx, stopCenter := context.WithCancel(context.Background())
	go func() { cc.Run(cctx); close(centerDone) }()
	go func() { <-sipDone; <-stackDone; stopCenter(); <-centerDone; close(r.done) }()
	select {
	case <-r.srv.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("sip server not ready")
	}
	r.addr = r.srv.Addrs()[0].String()
	t.Cleanup(r.stop)
	return r
}

func (r *rig) stop() { r.stopOnce.Do(r.stopNow) }

func (r *rig) stopNow() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		buf := make([]byte, 1<<20)
		n := runtime.Stack(buf, true)
		r.t.Errorf("rig did not stop in 20s\n%s", buf[:n])
	}
	r.st.Close()
}

// summary waits for the next call the voice App ended.
func (r *rig) summary() voice.Summary {
	r.t.Helper()
	select {
	case s := <-r.ends:
		return s
	case <-time.After(20 * time.Second):
		r.t.Fatal("no voice call ended in 20s")
	}
	return voice.Summary{}
}

// releasedStats waits for the next anchored call's media figures.
func (r *rig) releasedStats() media.Stats {
	r.t.Helper()
	select {
	case s := <-r.released:
		return s
	case <-time.After(20 * time.Second):
		r.t.Fatal("no anchored call released in 20s")
	}
	return media.Stats{}
}

// register registers ext's contact at 127.0.0.1:cport (a SIPp UAS), sending from that port
// as a phone does (calls reach a contact only through the address it registered from),
// and, for agents with auto_login, waits until the center has them available (the
// registrar's event is a device).
func (r *rig) register(ext string, cport int, agent bool) {
	r.t.Helper()
	s := r.sipp("register "+ext, "register_as.xml", cport, "-key", "user", ext, "-key", "cport", fmt.Sprint(cport),
		"-key", "exp", "3600", "-au", ext, "-ap", "secret"+ext, "-m", "1", r.addr)
	s.wait()
	if !agent {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r.acd.Sync(ctx)
		cancel()
		if a, ok := r.acd.Snapshot().Agent(ext); ok && a.State == acd.Available {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("agent %s not available 5s after registering", ext)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queue returns a queue's figures after the engine processed everything.
func (r *rig) queue(name string) acd.QueueStats {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.acd.Sync(ctx); err != nil {
		r.t.Fatal(err)
	}
	q, ok := r.acd.Snapshot().Queue(name)
	if !ok {
		r.t.Fatalf("no queue %s", name)
	}
	return q
}

// sippRun is one SIPp process, bounded by -timeout and a 60 s kill.
type sippRun struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  strings.Builder
	done chan error
	log  string // -log_file (the scenario's <log> lines)
}

// sipp starts SIPp on scenario testdata/<scenario> listening on port, with extra args.
func (r *rig) sipp(name, scenario string, port int, extra ...string) *sippRun {
	r.t.Helper()
	bin := testenv.Tool(r.t, "sipp")
	if sc, err := os.ReadFile(filepath.Join("testdata", scenario)); err == nil && strings.Contains(string(sc), "play_pcap_audio") {
		needRawSocket(r.t, bin)
	}
	s := &sippRun{t: r.t, name: name, done: make(chan error, 1),
		log: filepath.Join(r.dir, strings.ReplaceAll(name, " ", "_")+".log")}
	args := append([]string{"-sf", filepath.Join("testdata", scenario), "-i", "127.0.0.1", "-p", fmt.Sprint(port),
		"-nostdin", "-timeout", "40s", "-timeout_error", "-trace_logs", "-log_file", s.log,
		"-trace_msg", "-message_file", s.log + ".msg"}, extra...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	r.t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// wait fails the test if SIPp did not complete its scenario (exit 0) within 60 s.
func (s *sippRun) wait() {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			msgs, _ := os.ReadFile(s.log + ".msg")
			s.t.Fatalf("sipp %s failed: %v\n%s\n%s\nmessages:\n%s", s.name, err, tail(s.out.String()), tail(s.logText()), tail(string(msgs)))
		}
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		s.t.Fatalf("sipp %s did not finish\n%s", s.name, tail(s.out.String()))
	}
}

func (s *sippRun) logText() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// sdp returns the c= address and m= port the scenario logged with prefix ("SDP-ANSWER",
// "SDP-OFFER").
func (s *sippRun) sdp(prefix string) (string, int) {
	s.t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s.logText()))
	for sc.Scan() {
		if i := strings.Index(sc.Text(), prefix+" c="); i >= 0 {
			var c string
			var m int
			if _, err := fmt.Sscanf(strings.ReplaceAll(sc.Text()[i+len(prefix)+1:], " m=", " "), "c=%s %d", &c, &m); err == nil {
				return c, m
			}
		}
	}
	s.t.Fatalf("sipp %s logged no %s line:\n%s", s.name, prefix, s.logText())
	return "", 0
}

// checkSDP asserts that a leg's SDP pointed at ccswitch: c= 127.0.0.1, m= in the RTP range.
func (r *rig) checkSDP(s *sippRun, prefix string) int {
	r.t.Helper()
	c, m := s.sdp(prefix)
	if c != "127.0.0.1" || m < r.portMin || m > r.portMax {
		r.t.Fatalf("%s %s: c=%s m=%d, want c=127.0.0.1 and m in %d-%d", s.name, prefix, c, m, r.portMin, r.portMax)
	}
	return m
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}

// needRawSocket: SIPp's play_pcap_audio sends from a raw socket, which needs root or the
// binary to carry CAP_NET_RAW (setcap cap_net_raw+ep $(command -v sipp)). Missing, the test
// fails under CI and is skipped loudly elsewhere, like a missing tool.
func needRawSocket(t testing.TB, sipp string) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if n, err := syscall.Getxattr(sipp, "security.capability", make([]byte, 64)); err == nil && n > 0 {
		return
	}
	msg := "SIPp's play_pcap_audio needs root or CAP_NET_RAW: setcap cap_net_raw+ep " + sipp
	if testenv.CI() {
		t.Fatal(msg)
	}
	t.Skip("SKIPPED: " + msg)
}
