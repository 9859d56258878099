// Command sip is ccswitch's SIP call-rate benchmark (issue 2): in one run it steps the call
// rate of a SIPp UAC through ccswitch (a B2BUA) and through Kamailio (a transaction-stateful
// proxy) to the same SIPp UAS, and reports the highest rate with zero failed calls of each,
// their setup times, and the CPU of every process involved. See README.md.
//
//	go run ./bench/sip                       # ccswitch and Kamailio, default ladder
//	go run ./bench/sip -targets kamailio -rates 1000,2000 -step 3
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

//go:embed kamailio.cfg uac-late180.xml
var assets embed.FS

// Fixed addresses: those of ccswitch's embedded default config (trunk "carrier" matched by
// source 127.0.0.1:5080, DID +15550100 → extension 2000 at sip:2000@127.0.0.1:5090).
const (
	defaultUACPort = 5080
	defaultUASPort = 5090
	ccswitchPort   = 5060
	kamailioPort   = 5070
	did            = "+15550100"
	sippBuf        = "4194304" // SIPp -buff_size: the kernel's rmem_max on this machine kind
)

// toolPackages names the Debian package of each external program.
var toolPackages = map[string]string{"sipp": "sip-tester", "kamailio": "kamailio", "go": "golang-go (or go.dev/dl)"}

type config struct {
	targets     []string
	rates       []int
	step        time.Duration // calls per step = rate × step
	callMS      int           // SIPp -d: pause between ACK and BYE
	gap         time.Duration // idle time between steps
	total       time.Duration // whole-run budget
	recvTimeout time.Duration // SIPp -recv_timeout: a call waiting longer fails
	out         string
	keep        bool
	repo        string
	ccswitchBin string
	lenient     map[string]bool // targets run with uac-late180.xml instead of -sn uac
	rtpPorts    string          // non-empty: ccswitch runs configs/ccswitch.yaml with this rtp_ports
	media       string          // "passthrough": the carrier trunk's calls are not anchored
	uacPort     int             // the trunk's source port in ccswitch's default config
	uasPort     int             // extension 2000's contact port in ccswitch's default config
	retries     int             // repeats of a failed step
	quiet       float64         // neighbours' CPU (% of one core) to wait for before a step
	quietWait   time.Duration   // longest such wait
	command     string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench/sip", flag.ContinueOnError)
	targets := fs.String("targets", "ccswitch,kamailio", "targets to measure, in order: ccswitch, kamailio, direct (UAC straight to the UAS: the generator's own ceiling)")
	rates := fs.String("rates", "100,200,400,600,800,1000,1200,1600,2000,2500,3000,3500,4000,5000,6000,7000,8000", "call rates (calls/s) to step through")
	maxRate := fs.Int("max-rate", 8000, "highest rate of the ladder to run")
	step := fs.Duration("step", 5*time.Second, "length of a step: it places rate×step calls")
	callMS := fs.Int("call-ms", 100, "pause between ACK and BYE, ms (SIPp -d); with 0 a multi-process proxy may relay the BYE before the ACK")
	gap := fs.Duration("gap", 4*time.Second, "idle time between steps: lets transactions expire and the UAS's 4 s timewait end")
	total := fs.Duration("total", 10*time.Minute, "budget for the whole run, build included")
	recvTimeout := fs.Duration("recv-timeout", 5*time.Second, "a call waiting longer than this for a message fails (SIPp -recv_timeout)")
	out := fs.String("out", "", "also write the final report (markdown) to this file")
	keep := fs.Bool("keep", false, "keep the temporary directory (SIPp traces, logs) and print its path")
	repo := fs.String("repo", "", "module root holding ./cmd/ccswitch (default: found with 'go env GOMOD')")
	bin := fs.String("ccswitch-bin", "", "use this ccswitch binary instead of building ./cmd/ccswitch")
	quiet := fs.Float64("quiet", 50, "before each step, wait until the neighbours' CPU (host busy minus ours, % of one core over 1 s) is at most this; 0 disables")
	quietWait := fs.Duration("quiet-wait", 5*time.Second, "longest wait for -quiet before a step runs anyway (the step records it)")
	rtpPorts := fs.String("rtp-ports", "", "run ccswitch on configs/ccswitch.yaml with this media port range (e.g. 20000-29999) instead of the embedded default config")
	mediaMode := fs.String("media", "anchor", "anchor: ccswitch relays the RTP of the bench calls (default config); passthrough: the carrier trunk's SDP passes untouched, signalling only, as Kamailio does")
	nice := fs.Int("nice", 0, "run the targets and SIPp at this nice value (e.g. -10 as root: the shared machine's neighbours then disturb less; say so when you quote figures)")
	retries := fs.Int("retry", 1, "repeat a failed step this many times, on a freshly started target, before stopping the target (0: stop at the first failed step)")
	lenient := fs.String("lenient", "kamailio", "targets whose UAC accepts a 180 relayed after the 200 (uac-late180.xml); the others run SIPp's strict -sn uac")
	uacPort := fs.Int("uac-port", defaultUACPort, "UDP port of the SIPp UAC; ccswitch's default config expects 5080 (change only for -targets direct, or with a ccswitch/Kamailio config to match)")
	uasPort := fs.Int("uas-port", defaultUASPort, "UDP port of the SIPp UAS; ccswitch's default config and kamailio.cfg send to 5090 (same caveat)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *nice < -20 || *nice > 19 {
		return config{}, errors.New("-nice: want -20 to 19")
	}
	niceness = *nice
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c := config{step: *step, callMS: *callMS, gap: *gap, total: *total, recvTimeout: *recvTimeout,
		out: *out, keep: *keep, repo: *repo, ccswitchBin: *bin, lenient: map[string]bool{},
		rtpPorts: *rtpPorts, media: *mediaMode, uacPort: *uacPort, uasPort: *uasPort, retries: *retries, quiet: *quiet, quietWait: *quietWait,
		command: "go run ./bench/sip " + strings.Join(args, " ")}
	for _, t := range splitList(*targets) {
		switch t {
		case "ccswitch", "kamailio", "direct":
			c.targets = append(c.targets, t)
		default:
			return config{}, fmt.Errorf("-targets: unknown target %q (ccswitch, kamailio, direct)", t)
		}
	}
	for _, t := range splitList(*lenient) {
		c.lenient[t] = true
	}
	for _, s := range splitList(*rates) {
		r, err := strconv.Atoi(s)
		if err != nil || r <= 0 {
			return config{}, fmt.Errorf("-rates: bad rate %q", s)
		}
		if r <= *maxRate {
			c.rates = append(c.rates, r)
		}
	}
	switch {
	case len(c.targets) == 0:
		return config{}, errors.New("-targets: none")
	case len(c.rates) == 0:
		return config{}, errors.New("-rates: no rate at or below -max-rate")
	case c.step < time.Second || c.step > time.Minute:
		return config{}, errors.New("-step: want 1s to 1m")
	case c.total <= 0 || c.total > time.Hour:
		return config{}, errors.New("-total: want up to 1h")
	case c.uacPort <= 0 || c.uacPort > 65535 || c.uasPort <= 0 || c.uasPort > 65535 || c.uacPort == c.uasPort:
		return config{}, errors.New("-uac-port, -uas-port: want two different ports")
	case c.retries < 0 || c.retries > 3:
		return config{}, errors.New("-retry: want 0 to 3")
	case c.callMS < 0 || c.callMS > 10000:
		return config{}, errors.New("-call-ms: want 0 to 10000")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// target is one system under test.
type target struct {
	name      string
	addr      string                                  // where the UAC sends its INVITE
	scenario  []string                                // SIPp scenario arguments
	proc      *process                                // nil for "direct"
	start     func(context.Context) (*process, error) // (re)starts proc; nil for "direct"
	skip      string                                  // why it was not measured at all
	stopped   string                                  // why stepping ended
	disturbed int                                     // steps repeated because something outside killed a process
	failed    bool                                    // it ended on a failed rate: the ceiling was found
	steps     []stepResult
}

func run(args []string, stdout io.Writer) int {
	cfg, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/sip:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.total)
	defer cancel()

	tmp, err := os.MkdirTemp("", "ccswitch-bench-sip-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/sip:", err)
		return 1
	}
	defer func() { // every child first, then their files
		children.stopAll()
		if cfg.keep {
			fmt.Fprintln(stdout, "kept", tmp)
		} else {
			os.RemoveAll(tmp)
		}
	}()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stdout, "%s "+format+"\n", append([]any{time.Now().UTC().Format("15:04:05")}, a...)...)
	}

	env, err := setupEnv(ctx, cfg, tmp, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/sip:", err)
		return 1
	}
	measure(ctx, cfg, env, tmp, logf)
	children.stopAll()

	report := renderReport(cfg, env)
	fmt.Fprint(stdout, "\n"+report)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench/sip:", err)
			return 1
		}
	}
	for _, t := range env.targets {
		if t.skip != "" || len(t.steps) == 0 {
			return 1
		}
	}
	return 0
}

// env is what setupEnv started.
type env struct {
	sipp     string
	uas      *process
	uasDir   string
	startUAS func() error // (re)starts uas in a fresh uasDir
	targets  []*target
	machine  machineInfo
	started  time.Time
}

// lookTool finds an external program or says which Debian package ships it.
func lookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH: install Debian package %s (apt-get install -y %s)", name, toolPackages[name], strings.Fields(toolPackages[name])[0])
	}
	return p, nil
}

func setupEnv(ctx context.Context, cfg config, tmp string, logf func(string, ...any)) (*env, error) {
	e := &env{started: time.Now()}
	var err error
	if e.sipp, err = lookTool("sipp"); err != nil {
		return nil, err
	}
	for _, p := range []int{cfg.uacPort, cfg.uasPort} {
		if err := waitPort(ctx, p, logf); err != nil {
			return nil, err
		}
	}
	e.machine = probeMachine(cfg, e.sipp)

	// The UAS lives for the whole run (restarted only if something kills it): SIPp's built-in
	// strict "uas" (INVITE → 180, 200; ACK; BYE → 200; 4 s timewait).
	n := 0
	e.startUAS = func() error {
		n++
		e.uasDir = filepath.Join(tmp, fmt.Sprintf("uas-%d", n))
		if err := os.MkdirAll(e.uasDir, 0o755); err != nil {
			return err
		}
		if err := waitPort(ctx, cfg.uasPort, logf); err != nil {
			return err
		}
		p, err := start("sipp-uas", e.uasDir, filepath.Join(e.uasDir, "screen.log"), e.sipp,
			"-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(cfg.uasPort), "-buff_size", sippBuf,
			"-nostdin", "-trace_stat", "-stf", "stat.csv", "-fd", "1",
			"-trace_err", "-error_file", "errors.log",
			"-recv_timeout", strconv.Itoa(int(cfg.recvTimeout/time.Millisecond)))
		if err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
		if p.exited() {
			return fmt.Errorf("sipp uas exited at once: %v; %s", p.err, tail(p.log, 800))
		}
		e.uas = p
		logf("sipp uas on 127.0.0.1:%d (pid %d)", cfg.uasPort, p.pid())
		return nil
	}
	if err := e.startUAS(); err != nil {
		return nil, err
	}

	for _, name := range cfg.targets {
		t := &target{name: name, scenario: []string{"-sn", "uac"}}
		if cfg.lenient[name] {
			p := filepath.Join(tmp, "uac-late180.xml")
			b, _ := assets.ReadFile("uac-late180.xml")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return nil, err
			}
			t.scenario = []string{"-sf", p}
		}
		e.targets = append(e.targets, t)
		var err error
		switch name {
		case "ccswitch":
			t.addr = fmt.Sprintf("127.0.0.1:%d", ccswitchPort)
			var bin, config string
			if cfg.rtpPorts != "" || cfg.media == "passthrough" {
				config, err = benchConfig(ctx, cfg, tmp, cfg.rtpPorts, cfg.media)
			}
			if err == nil {
				bin, err = buildCcswitch(ctx, cfg, tmp, logf)
			}
			if err == nil {
				n := 0
				t.start = func(ctx context.Context) (*process, error) {
					// Three tries: a neighbour running ccswitch by hand holds its other ports
					// (HTTP 8080, TCP 5060) for a while.
					var err error
					for try := 1; try <= 3; try++ {
						n++
						var p *process
						if p, err = startCcswitch(ctx, bin, config, filepath.Join(tmp, fmt.Sprintf("ccswitch-run-%d", n)), logf); err == nil {
							return p, nil
						}
						logf("ccswitch did not start (try %d of 3): %s", try, oneLine(err.Error(), 400))
						select {
						case <-ctx.Done():
							return nil, err
						case <-time.After(10 * time.Second):
						}
					}
					return nil, err
				}
			}
		case "kamailio":
			t.addr = fmt.Sprintf("127.0.0.1:%d", kamailioPort)
			t.start = func(ctx context.Context) (*process, error) { return startKamailio(ctx, tmp, logf) }
		case "direct":
			t.addr = fmt.Sprintf("127.0.0.1:%d", cfg.uasPort)
		}
		if err == nil && t.start != nil {
			t.proc, err = t.start(ctx)
		}
		if err != nil {
			t.skip = err.Error()
			logf("%s: NOT MEASURED: %v", name, err)
		}
	}
	return e, nil
}

// moduleRoot is -repo, or the root of the module around the working directory.
func moduleRoot(ctx context.Context, cfg config) (string, error) {
	if cfg.repo != "" {
		return cfg.repo, nil
	}
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("find module root: go env GOMOD: %v (run from the repository or pass -repo)", err)
	}
	return filepath.Dir(mod), nil
}

// rtpPortsLine is the media port range line of configs/ccswitch.yaml.
var rtpPortsLine = regexp.MustCompile(`(?m)^(\s*rtp_ports:\s*)\S+`)

// carrierOutbound is the demo carrier trunk's outbound line, after which -media passthrough
// adds the trunk's media setting.
var carrierOutbound = regexp.MustCompile(`(?m)^(\s*)outbound: sip:127\.0\.0\.1:5080[ \t]*$`)

// benchConfig writes configs/ccswitch.yaml, the source of the embedded default, with its RTP
// port range replaced by ports (if set) and the carrier trunk set to media passthrough (if
// asked), into tmp, and returns the file's path.
func benchConfig(ctx context.Context, cfg config, tmp, ports, media string) (string, error) {
	repo, err := moduleRoot(ctx, cfg)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(repo, "configs", "ccswitch.yaml"))
	if err != nil {
		return "", fmt.Errorf("-rtp-ports: %w", err)
	}
	if ports != "" {
		if !rtpPortsLine.Match(b) {
			return "", errors.New("-rtp-ports: configs/ccswitch.yaml has no rtp_ports line to replace")
		}
		b = rtpPortsLine.ReplaceAll(b, []byte("${1}"+ports))
	}
	if media == "passthrough" {
		if !carrierOutbound.Match(b) {
			return "", errors.New("-media: configs/ccswitch.yaml has no carrier outbound line to follow")
		}
		b = carrierOutbound.ReplaceAll(b, []byte("${0}\n${1}media: passthrough"))
	}
	path := filepath.Join(tmp, "ccswitch-bench.yaml")
	return path, os.WriteFile(path, b, 0o644)
}

// buildCcswitch builds ./cmd/ccswitch into tmp, or returns -ccswitch-bin.
func buildCcswitch(ctx context.Context, cfg config, tmp string, logf func(string, ...any)) (string, error) {
	if cfg.ccswitchBin != "" {
		return cfg.ccswitchBin, nil
	}
	goTool, err := lookTool("go")
	if err != nil {
		return "", err
	}
	repo, err := moduleRoot(ctx, cfg)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "ccswitch")
	bctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	logf("building ./cmd/ccswitch in %s", repo)
	t0 := time.Now()
	var err2 error
	for try := 1; try <= 2; try++ { // a second try: a neighbour's cleanup once killed our build
		b := exec.CommandContext(bctx, goTool, "build", "-o", bin, "./cmd/ccswitch")
		b.Dir = repo
		out, err := b.CombinedOutput()
		if err == nil {
			err2 = nil
			break
		}
		err2 = fmt.Errorf("go build ./cmd/ccswitch: %v: %s", err, strings.TrimSpace(lastBytes(string(out), 1500)))
		logf("%v", err2)
	}
	if err2 != nil {
		return "", err2
	}
	logf("built in %.1fs", time.Since(t0).Seconds())
	return bin, nil
}

// startCcswitch runs bin on its embedded default config with a fresh data directory under dir
// and waits until it answers OPTIONS.
func startCcswitch(ctx context.Context, bin, config, dir string, logf func(string, ...any)) (*process, error) {
	if err := waitPort(ctx, ccswitchPort, logf); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	args := []string{bin, "-data", filepath.Join(dir, "data")}
	if config != "" {
		args = append(args, "-config", config)
	}
	p, err := start("ccswitch", dir, filepath.Join(dir, "ccswitch.log"), args...)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", ccswitchPort)
	if err := waitOptions(wctx, addr, p); err != nil {
		p.stop(2 * time.Second)
		return nil, fmt.Errorf("%v; ccswitch log: %s", err, tail(p.log, 1500))
	}
	logf("ccswitch answers OPTIONS on %s (pid %d)", addr, p.pid())
	return p, nil
}

func startKamailio(ctx context.Context, tmp string, logf func(string, ...any)) (*process, error) {
	bin, err := lookTool("kamailio")
	if err != nil {
		return nil, err
	}
	if err := waitPort(ctx, kamailioPort, logf); err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, "kamailio")
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "kamailio.cfg")
	b, _ := assets.ReadFile("kamailio.cfg")
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		return nil, err
	}
	// -DD: stay in the foreground (workers still fork); -E: log to stderr; private pid file and
	// runtime dir so no system service or /run directory is needed. -x/-X fm: the "fast malloc"
	// memory manager for shm and pkg; Debian's default (qm, with debugging) spent 60 % of the
	// workers' time in qm_malloc here (perf), 2.5× the CPU per call.
	p, err := start("kamailio", dir, filepath.Join(dir, "kamailio.log"), bin,
		"-f", cfgPath, "-DD", "-E", "-m", "1024", "-M", "16", "-x", "fm", "-X", "fm",
		"-P", filepath.Join(dir, "run", "kamailio.pid"), "-Y", filepath.Join(dir, "run"), "-w", dir)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", kamailioPort)
	if err := waitOptions(wctx, addr, p); err != nil {
		p.stop(2 * time.Second)
		return nil, fmt.Errorf("%v; kamailio log: %s", err, tail(p.log, 1500))
	}
	_, n := treeCPU(p.pid())
	logf("kamailio answers OPTIONS on %s (pid %d, %d processes)", addr, p.pid(), n)
	return p, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return lastBytes(string(b), n)
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
