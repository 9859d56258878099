// Command sip is ccswitch's SIP benchmark (issues 2 and 16). In one run it measures, on the
// same machine and with the same SIPp load:
//
//   - the highest clean call rate of ccswitch (a B2BUA) and of Kamailio (a transaction-stateful
//     proxy, 8 children), a clean step being one with 0 failed calls and setup p99 ≤ 50 ms;
//   - the highest clean registration rate (REGISTER with digest qop=auth, 10,000 users) of
//     ccswitch's registrar (bindings synced to pebble) and of Kamailio's (auth + usrloc in
//     memory, 8 children), same criterion;
//   - memory per registration and per idle established call;
//   - with -profile DIR, CPU and heap profiles of ccswitch under its highest clean load.
//
// It prints a report and, last, one line per comparison:
//
//	ratio ccswitch/kamailio calls/s=R cpu/call=C
//	ratio ccswitch/kamailio registrations/s=R
//
// Two other modes drive the real binary: -e2e (routing latency end to end: carrier INVITE →
// agent's phone ringing, webhook POST → desktop offer) and -soak D (calls, registrations and
// webhooks at a steady rate for D, RSS sampled). See README.md.
//
//	go run ./bench/sip -media passthrough              # the comparison, ≤ 15 minutes
//	go run ./bench/sip -e2e                             # routing latency end to end
//	go run ./bench/sip -soak 30m -rate 1000             # under load for long
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
	"strconv"
	"strings"
	"syscall"
	"time"
)

//go:embed kamailio.cfg kamailio-registrar.cfg uac-late180.xml register-digest.xml e2e-carrier.xml e2e-agent.xml register-contact.xml
var assets embed.FS

// Fixed addresses: those of ccswitch's demo config (trunk "carrier" matched by source
// 127.0.0.1:5080, DID +15550100 → extension 2000 at sip:2000@127.0.0.1:5090), which the bench
// config starts from, and the peers' ports.
const (
	defaultUACPort = 5080
	defaultUASPort = 5090
	defaultRegPort = 5086 // the registration generator's source port (exempted in the bench config)
	ccswitchPort   = 5060
	ccswitchHTTP   = 8080
	kamailioPort   = 5070
	did            = "+15550100"
	sippBuf        = "4194304" // SIPp -buff_size: the kernel's rmem_max on this machine kind
)

// kamRegPort is Kamailio's registrar port (a variable: the harness test moves it to a free port).
var kamRegPort = 5072

// toolPackages names the Debian package of each external program.
var toolPackages = map[string]string{"sipp": "sip-tester", "kamailio": "kamailio", "go": "golang-go (or go.dev/dl)"}

// kind is what a ladder measures.
type kind int

const (
	kindCalls kind = iota
	kindRegs
)

func (k kind) String() string {
	if k == kindRegs {
		return "regs"
	}
	return "calls"
}

// unit names one unit of work of the kind, for reports.
func (k kind) unit() string {
	if k == kindRegs {
		return "registration"
	}
	return "call"
}

type config struct {
	targets     []string
	calls, regs bool  // which ladders run
	rates       []int // calls/s
	regRates    []int // registrations/s
	regUsers    int   // users registering (each with its own digest credentials)
	maxP99      time.Duration
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
	rtpPorts    string          // non-empty: the bench config's rtp_ports
	media       string          // "passthrough": the carrier trunk's calls are not anchored
	uacPort     int             // the trunk's source port in ccswitch's config
	uasPort     int             // extension 2000's contact port in ccswitch's config
	regPort     int             // the registration generator's port
	retries     int             // repeats of a failed step
	quiet       float64         // neighbours' CPU (% of one core) to wait for before a step
	quietWait   time.Duration   // longest such wait
	memory      bool            // measure memory per registration and per idle call
	memCalls    int             // idle calls held for the memory figure
	memCallRate int
	memRegRate  int
	settle      time.Duration // wait after the memory phase's load before sampling (transactions expire)
	profile     string        // directory for pprof captures of ccswitch under load

	e2e          bool
	e2eRate      float64 // carrier calls/s
	e2eTextRate  float64 // webhooks/s
	e2eDuration  time.Duration
	e2eAgents    int // voice agents (SIPp phones, auto_login)
	e2eDesks     int // text agents (desktop sessions)
	e2eTalk      time.Duration
	soak         time.Duration
	soakRate     float64 // calls/s
	soakRegRate  float64 // registrations/s
	soakTextRate float64 // webhooks/s
	soakSample   time.Duration
	soakWindow   time.Duration // the RSS flatness window (last part of the run)
	soakFlat     float64       // % of mean RSS the window may grow by and still be flat

	command string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout))
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("bench/sip", flag.ContinueOnError)
	targets := fs.String("targets", "ccswitch,kamailio", "targets to measure, in order: ccswitch, kamailio, direct (UAC straight to the UAS: the generator's own ceiling; calls only)")
	runs := fs.String("runs", "calls,registrations", "ladders to run: calls, registrations")
	rates := fs.String("rates", "200,500,1000,1500,2000,2500,3000,3500,4000,5000,6000,7000,8000", "call rates (calls/s) to step through")
	maxRate := fs.Int("max-rate", 8000, "highest rate of the call ladder to run")
	regRates := fs.String("reg-rates", "200,500,1000,1500,2000,2500,3000,4000,5000,6000,7000", "registration rates (registrations/s) to step through")
	regUsers := fs.Int("reg-users", 10000, "users registering with digest, each with its own password (ccswitch users of the bench config, Kamailio credentials)")
	maxP99 := fs.Duration("max-p99", 50*time.Millisecond, "a clean step has setup (registration) p99 at most this, beside 0 failures; 0 judges failures only")
	step := fs.Duration("step", 5*time.Second, "length of a step: it places rate×step calls (registrations)")
	callMS := fs.Int("call-ms", 100, "pause between ACK and BYE, ms (SIPp -d); with 0 a multi-process proxy may relay the BYE before the ACK")
	gap := fs.Duration("gap", 4*time.Second, "idle time between steps: lets transactions expire and the UAS's 4 s timewait end")
	total := fs.Duration("total", 13*time.Minute+30*time.Second, "budget for the whole run, build included (the ladders share what the memory phase leaves)")
	recvTimeout := fs.Duration("recv-timeout", 5*time.Second, "a call waiting longer than this for a message fails (SIPp -recv_timeout)")
	out := fs.String("out", "", "also write the final report (markdown) to this file")
	keep := fs.Bool("keep", false, "keep the temporary directory (SIPp traces, logs, configs) and print its path")
	repo := fs.String("repo", "", "module root holding ./cmd/ccswitch and configs/ccswitch.yaml (default: found with 'go env GOMOD')")
	bin := fs.String("ccswitch-bin", "", "use this ccswitch binary instead of building ./cmd/ccswitch")
	quiet := fs.Float64("quiet", 50, "before each step, wait until the neighbours' CPU (host busy minus ours, % of one core over 1 s) is at most this; 0 disables")
	quietWait := fs.Duration("quiet-wait", 5*time.Second, "longest wait for -quiet before a step runs anyway (the step records it)")
	rtpPorts := fs.String("rtp-ports", "", "the bench config's media port range (e.g. 20000-29999) instead of configs/ccswitch.yaml's")
	mediaMode := fs.String("media", "anchor", "anchor: ccswitch relays the RTP of the bench calls (as configs/ccswitch.yaml); passthrough: the carrier trunk's SDP passes untouched, signalling only, as Kamailio does")
	nice := fs.Int("nice", 0, "run the targets and SIPp at this nice value (e.g. -10 as root: the shared machine's neighbours then disturb less; say so when you quote figures)")
	retries := fs.Int("retry", 1, "repeat a failed step this many times, on a freshly started target, before stopping the target (0: stop at the first failed step)")
	lenient := fs.String("lenient", "kamailio", "targets whose UAC accepts a 180 relayed after the 200 (uac-late180.xml); the others run SIPp's strict -sn uac")
	uacPort := fs.Int("uac-port", defaultUACPort, "UDP port of the SIPp UAC; ccswitch's config expects 5080 (change only for -targets direct)")
	uasPort := fs.Int("uas-port", defaultUASPort, "UDP port of the SIPp UAS; ccswitch's config and kamailio.cfg send to 5090 (same caveat)")
	regPort := fs.Int("reg-port", defaultRegPort, "UDP port of the SIPp registration generator (exempted from ccswitch's per-source limit in the bench config)")
	memory := fs.Bool("memory", true, "measure memory per registration (-reg-users bindings) and per idle call (-mem-calls) before the ladders")
	memCalls := fs.Int("mem-calls", 2000, "established calls held for the memory-per-idle-call figure (anchored media: at most a quarter of the RTP ports)")
	memCallRate := fs.Int("mem-call-rate", 200, "rate at which the memory phase places its calls")
	memRegRate := fs.Int("mem-reg-rate", 1000, "rate at which the memory phase registers its users")
	settle := fs.Duration("settle", 35*time.Second, "wait after the memory phase's load before sampling: ccswitch keeps a finished non-INVITE transaction for Timer J (32 s)")
	profile := fs.String("profile", "", "capture ccswitch's CPU, heap and allocation profiles under its highest clean call and registration load into this directory (ccswitch runs with -pprof on loopback)")

	e2e := fs.Bool("e2e", false, "routing latency end to end instead of the comparison: carrier INVITE → agent phone's INVITE, webhook POST → desktop offer")
	e2eRate := fs.Float64("e2e-rate", 5, "-e2e: carrier calls/s to the queue")
	e2eTextRate := fs.Float64("e2e-text-rate", 5, "-e2e: signed WhatsApp webhooks/s (each a new conversation)")
	e2eDuration := fs.Duration("e2e-duration", 60*time.Second, "-e2e: how long the steady rate runs")
	e2eAgents := fs.Int("e2e-agents", 30, "-e2e: voice agents, each a registered SIPp phone with auto_login")
	e2eDesks := fs.Int("e2e-desks", 10, "-e2e: text agents, each a desktop session (login, ready, WebSocket)")
	e2eTalk := fs.Duration("e2e-talk", time.Second, "-e2e: how long an agent talks before hanging up")
	soak := fs.Duration("soak", 0, "run the soak instead of the comparison, for this long (e.g. 30m): calls, registrations and webhooks at a steady rate, RSS sampled")
	soakRate := fs.Float64("rate", 500, "-soak: calls/s (half the clean rate is the issue's target)")
	soakRegRate := fs.Float64("reg-rate", 0, "-soak: registrations/s (default: half of -rate)")
	soakTextRate := fs.Float64("text-rate", 10, "-soak: webhooks/s, each a new conversation accepted and closed by a desktop agent")
	soakSample := fs.Duration("sample", 10*time.Second, "-soak: RSS and failure sampling period")
	soakWindow := fs.Duration("flat-window", 10*time.Minute, "-soak: RSS is judged over the last this-long of the run (all of it if shorter)")
	soakFlat := fs.Float64("flat-pct", 5, "-soak: RSS is flat when its least-squares growth over the window is at most this % of the window's mean RSS")
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
		rtpPorts: *rtpPorts, media: *mediaMode, uacPort: *uacPort, uasPort: *uasPort, regPort: *regPort,
		retries: *retries, quiet: *quiet, quietWait: *quietWait, maxP99: *maxP99, regUsers: *regUsers,
		memory: *memory, memCalls: *memCalls, memCallRate: *memCallRate, memRegRate: *memRegRate, settle: *settle,
		profile: *profile,
		e2e:     *e2e, e2eRate: *e2eRate, e2eTextRate: *e2eTextRate, e2eDuration: *e2eDuration, e2eAgents: *e2eAgents,
		e2eDesks: *e2eDesks, e2eTalk: *e2eTalk,
		soak: *soak, soakRate: *soakRate, soakRegRate: *soakRegRate, soakTextRate: *soakTextRate, soakSample: *soakSample,
		soakWindow: *soakWindow, soakFlat: *soakFlat,
		command: "go run ./bench/sip " + strings.Join(args, " ")}
	if c.soakRegRate == 0 {
		c.soakRegRate = c.soakRate / 2
	}
	for _, t := range splitList(*targets) {
		switch t {
		case "ccswitch", "kamailio", "direct":
			c.targets = append(c.targets, t)
		default:
			return config{}, fmt.Errorf("-targets: unknown target %q (ccswitch, kamailio, direct)", t)
		}
	}
	for _, r := range splitList(*runs) {
		switch r {
		case "calls":
			c.calls = true
		case "registrations", "regs":
			c.regs = true
		default:
			return config{}, fmt.Errorf("-runs: unknown ladder %q (calls, registrations)", r)
		}
	}
	for _, t := range splitList(*lenient) {
		c.lenient[t] = true
	}
	var err error
	if c.rates, err = parseRates("-rates", *rates, *maxRate); err != nil {
		return config{}, err
	}
	if c.regRates, err = parseRates("-reg-rates", *regRates, 1<<30); err != nil {
		return config{}, err
	}
	switch {
	case len(c.targets) == 0:
		return config{}, errors.New("-targets: none")
	case !c.calls && !c.regs:
		return config{}, errors.New("-runs: none")
	case c.calls && len(c.rates) == 0:
		return config{}, errors.New("-rates: no rate at or below -max-rate")
	case c.step < time.Second || c.step > time.Minute:
		return config{}, errors.New("-step: want 1s to 1m")
	case c.total <= 0 || c.total > 2*time.Hour:
		return config{}, errors.New("-total: want up to 2h")
	case c.uacPort <= 0 || c.uacPort > 65535 || c.uasPort <= 0 || c.uasPort > 65535 || c.uacPort == c.uasPort:
		return config{}, errors.New("-uac-port, -uas-port: want two different ports")
	case c.regPort <= 0 || c.regPort > 65535 || c.regPort == c.uacPort || c.regPort == c.uasPort:
		return config{}, errors.New("-reg-port: want a port other than the UAC's and the UAS's")
	case c.retries < 0 || c.retries > 3:
		return config{}, errors.New("-retry: want 0 to 3")
	case c.callMS < 0 || c.callMS > 10000:
		return config{}, errors.New("-call-ms: want 0 to 10000")
	case c.maxP99 < 0:
		return config{}, errors.New("-max-p99: want 0 or more")
	case c.regUsers < 1 || c.regUsers > 1000000:
		return config{}, errors.New("-reg-users: want 1 to 1000000")
	case c.media != "anchor" && c.media != "passthrough":
		return config{}, errors.New("-media: want anchor or passthrough")
	case c.memCalls < 1 || c.memCallRate < 1 || c.memRegRate < 1:
		return config{}, errors.New("-mem-calls, -mem-call-rate, -mem-reg-rate: want 1 or more")
	case c.e2e && c.soak > 0:
		return config{}, errors.New("-e2e and -soak: pick one")
	case c.e2e && (c.e2eRate <= 0 || c.e2eTextRate < 0 || c.e2eDuration < time.Second || c.e2eAgents < 1 || c.e2eDesks < 0):
		return config{}, errors.New("-e2e: want -e2e-rate > 0, -e2e-duration ≥ 1s, -e2e-agents ≥ 1")
	case c.soak < 0 || c.soak > 24*time.Hour:
		return config{}, errors.New("-soak: want up to 24h")
	case c.soak > 0 && (c.soakRate <= 0 || c.soakRegRate < 0 || c.soakTextRate < 0 || c.soakSample < time.Second || c.soakFlat <= 0):
		return config{}, errors.New("-soak: want -rate > 0, -reg-rate and -text-rate ≥ 0, -sample ≥ 1s, -flat-pct > 0")
	}
	return c, nil
}

// parseRates reads a comma-separated ladder, keeping the rates at or below max.
func parseRates(name, s string, max int) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		r, err := strconv.Atoi(f)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("%s: bad rate %q", name, f)
		}
		if r <= max {
			out = append(out, r)
		}
	}
	return out, nil
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

// server is a program the targets run on: ccswitch (calls and registrations), Kamailio's
// proxy, Kamailio's registrar.
type server struct {
	name  string
	proc  *process
	start func(context.Context) (*process, error) // (re)starts proc
	pprof string                                  // ccswitch: its -pprof address
	skip  string                                  // why it could not start at all
}

// restart stops the server (if running) and starts it again.
func (s *server) restart(ctx context.Context) error {
	if s.proc != nil {
		s.proc.stop(2 * time.Second)
	}
	p, err := s.start(ctx)
	if err != nil {
		return err
	}
	s.proc = p
	return nil
}

func (s *server) running() bool { return s != nil && s.proc != nil && !s.proc.exited() }

// target is one system under test for one kind of load.
type target struct {
	name      string
	kind      kind
	srv       *server  // nil for "direct"
	addr      string   // where the UAC sends
	scenario  []string // SIPp scenario arguments
	skip      string   // why it was not measured at all
	stopped   string   // why stepping ended
	disturbed int      // steps repeated because something outside killed a process
	failed    bool     // it ended on a failed rate: the ceiling was found
	steps     []stepResult
	next      int // registrations: the user the next step starts with
}

func (t *target) proc() *process {
	if t.srv == nil {
		return nil
	}
	return t.srv.proc
}

func run(args []string, stdout io.Writer) int {
	cfg, err := parseFlags(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/sip:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	budget := cfg.total
	if cfg.soak > 0 {
		budget = cfg.soak + 10*time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
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
	switch {
	case cfg.e2e:
		return runE2E(ctx, cfg, tmp, stdout, logf)
	case cfg.soak > 0:
		return runSoak(ctx, cfg, tmp, stdout, logf)
	}

	env, err := setupEnv(ctx, cfg, tmp, logf)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/sip:", err)
		return 1
	}
	if cfg.memory {
		env.memory = measureMemory(ctx, cfg, env, tmp, logf)
	}
	// The ladders share what is left, calls first; a reserve keeps the report (and the
	// profiles) in the budget.
	reserve := 20 * time.Second
	if cfg.profile != "" {
		reserve += 2 * (cfg.step + cfg.recvTimeout + 15*time.Second)
	}
	if dl, ok := ctx.Deadline(); ok && len(env.calls) > 0 && len(env.regs) > 0 {
		left := time.Until(dl) - reserve
		cctx, ccancel := context.WithDeadline(ctx, time.Now().Add(left*55/100))
		measure(cctx, cfg, env, env.calls, cfg.rates, tmp, logf)
		ccancel()
	} else if len(env.calls) > 0 {
		measure(ctx, cfg, env, env.calls, cfg.rates, tmp, logf)
	}
	if len(env.regs) > 0 {
		rctx, rcancel := ctx, context.CancelFunc(func() {})
		if dl, ok := ctx.Deadline(); ok {
			rctx, rcancel = context.WithDeadline(ctx, dl.Add(-reserve))
		}
		measure(rctx, cfg, env, env.regs, cfg.regRates, tmp, logf)
		rcancel()
	}
	if cfg.profile != "" {
		env.profiles = captureProfiles(ctx, cfg, env, tmp, logf)
	}
	children.stopAll()

	report := renderReport(cfg, env)
	ratios := ratioLines(env)
	fmt.Fprint(stdout, "\n"+report+"\n"+ratios)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(report+"\n```\n"+ratios+"```\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench/sip:", err)
			return 1
		}
	}
	for _, t := range append(append([]*target(nil), env.calls...), env.regs...) {
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
	startUAS func(recvTimeout time.Duration) error // (re)starts uas in a fresh uasDir
	servers  []*server
	calls    []*target
	regs     []*target
	users    []regUser
	regFiles regFiles // the registration scenario and the rotating injection file
	machine  machineInfo
	started  time.Time
	config   string // the ccswitch config folder
	ccBin    string
	memory   []memResult
	profiles []string // what -profile wrote, or why not
}

// server returns the named server, nil if none.
func (e *env) server(name string) *server {
	for _, s := range e.servers {
		if s.name == name {
			return s
		}
	}
	return nil
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

	// The UAS lives for the whole run (restarted only if something kills it, or with another
	// receive timeout for the memory phase's long calls): SIPp's built-in strict "uas"
	// (INVITE → 180, 200; ACK; BYE → 200; 4 s timewait).
	n := 0
	e.startUAS = func(recvTimeout time.Duration) error {
		if e.uas != nil {
			e.uas.stop(2 * time.Second)
		}
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
			"-recv_timeout", strconv.Itoa(int(recvTimeout/time.Millisecond)))
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
	if cfg.calls || cfg.memory {
		if err := e.startUAS(cfg.recvTimeout); err != nil {
			return nil, err
		}
	}
	if cfg.regs || cfg.memory {
		e.users = makeUsers(cfg.regUsers)
		if e.regFiles, err = writeRegFiles(tmp, e.users); err != nil {
			return nil, err
		}
	}

	has := map[string]bool{}
	for _, name := range cfg.targets {
		has[name] = true
	}
	var cc, kam, kamReg *server
	if has["ccswitch"] {
		cc = &server{name: "ccswitch"}
		var bin, conf string
		conf, err := benchConfig(ctx, cfg, tmp, e.users, nil)
		if err == nil {
			bin, err = buildCcswitch(ctx, cfg, tmp, logf)
		}
		e.config, e.ccBin = conf, bin
		if err == nil {
			n := 0
			cc.start = func(ctx context.Context) (*process, error) {
				// Three tries: a neighbour running ccswitch by hand holds its other ports
				// (HTTP 8080, TCP 5060) for a while.
				var err error
				for try := 1; try <= 3; try++ {
					n++
					var p *process
					var pp string
					if p, pp, err = startCcswitch(ctx, bin, conf, filepath.Join(tmp, fmt.Sprintf("ccswitch-run-%d", n)), logf); err == nil {
						cc.pprof = pp
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
			cc.proc, err = cc.start(ctx)
		}
		if err != nil {
			cc.skip = err.Error()
			logf("ccswitch: NOT MEASURED: %v", err)
		}
		e.servers = append(e.servers, cc)
	}
	if has["kamailio"] && cfg.calls {
		kam = &server{name: "kamailio"}
		kam.start = func(ctx context.Context) (*process, error) {
			return startKamailio(ctx, tmp, "kamailio", "kamailio.cfg", kamailioPort, logf)
		}
		if kam.proc, err = kam.start(ctx); err != nil {
			kam.skip = err.Error()
			logf("kamailio: NOT MEASURED: %v", err)
		}
		e.servers = append(e.servers, kam)
	}
	if has["kamailio"] && (cfg.regs || cfg.memory) {
		kamReg = &server{name: "kamailio-registrar"}
		kamReg.start = func(ctx context.Context) (*process, error) {
			if err := writeKamailioCreds(filepath.Join(tmp, "kamailio-registrar", "db"), e.users); err != nil {
				return nil, err
			}
			return startKamailio(ctx, tmp, "kamailio-registrar", "kamailio-registrar.cfg", kamRegPort, logf)
		}
		if kamReg.proc, err = kamReg.start(ctx); err != nil {
			kamReg.skip = err.Error()
			logf("kamailio registrar: NOT MEASURED: %v", err)
		}
		e.servers = append(e.servers, kamReg)
	}

	for _, name := range cfg.targets {
		if cfg.calls {
			t := &target{name: name, kind: kindCalls, scenario: []string{"-sn", "uac"}}
			if cfg.lenient[name] {
				p := filepath.Join(tmp, "uac-late180.xml")
				b, _ := assets.ReadFile("uac-late180.xml")
				if err := os.WriteFile(p, b, 0o644); err != nil {
					return nil, err
				}
				t.scenario = []string{"-sf", p}
			}
			switch name {
			case "ccswitch":
				t.addr, t.srv = fmt.Sprintf("127.0.0.1:%d", ccswitchPort), cc
			case "kamailio":
				t.addr, t.srv = fmt.Sprintf("127.0.0.1:%d", kamailioPort), kam
			case "direct":
				t.addr = fmt.Sprintf("127.0.0.1:%d", cfg.uasPort)
			}
			if t.srv != nil {
				t.skip = t.srv.skip
			}
			e.calls = append(e.calls, t)
		}
		if cfg.regs && name != "direct" {
			t := &target{name: name, kind: kindRegs, scenario: []string{"-sf", e.regFiles.scenario}}
			switch name {
			case "ccswitch":
				t.addr, t.srv = fmt.Sprintf("127.0.0.1:%d", ccswitchPort), cc
			case "kamailio":
				t.addr, t.srv = fmt.Sprintf("127.0.0.1:%d", kamRegPort), kamReg
			}
			t.skip = t.srv.skip
			e.regs = append(e.regs, t)
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

// startCcswitch runs bin on the bench config with a fresh data directory under dir, its
// -pprof listener on a free loopback port, and waits until it answers OPTIONS. It returns
// the process and the pprof address.
func startCcswitch(ctx context.Context, bin, config, dir string, logf func(string, ...any)) (*process, string, error) {
	if err := waitPort(ctx, ccswitchPort, logf); err != nil {
		return nil, "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	pp, err := freeTCPAddr()
	if err != nil {
		return nil, "", err
	}
	args := []string{bin, "-data", filepath.Join(dir, "data"), "-pprof", pp}
	if config != "" {
		args = append(args, "-config", config)
	}
	p, err := start("ccswitch", dir, filepath.Join(dir, "ccswitch.log"), args...)
	if err != nil {
		return nil, "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", ccswitchPort)
	if err := waitOptions(wctx, addr, p); err != nil {
		p.stop(2 * time.Second)
		return nil, "", fmt.Errorf("%v; ccswitch log: %s", err, tail(p.log, 1500))
	}
	logf("ccswitch answers OPTIONS on %s (pid %d, pprof %s)", addr, p.pid(), pp)
	return p, pp, nil
}

// startKamailio runs the embedded config file under tmp/name and waits until it answers
// OPTIONS on port.
func startKamailio(ctx context.Context, tmp, name, file string, port int, logf func(string, ...any)) (*process, error) {
	bin, err := lookTool("kamailio")
	if err != nil {
		return nil, err
	}
	if err := waitPort(ctx, port, logf); err != nil {
		return nil, err
	}
	dir := filepath.Join(tmp, name)
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, file)
	b, _ := assets.ReadFile(file)
	b = []byte(strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", strconv.Itoa(port)).Replace(string(b)))
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		return nil, err
	}
	// -DD: stay in the foreground (workers still fork); -E: log to stderr; private pid file and
	// runtime dir so no system service or /run directory is needed. -x/-X fm: the "fast malloc"
	// memory manager for shm and pkg; Debian's default (qm, with debugging) spent 60 % of the
	// workers' time in qm_malloc here (perf), 2.5× the CPU per call.
	p, err := start(name, dir, filepath.Join(dir, "kamailio.log"), bin,
		"-f", cfgPath, "-DD", "-E", "-m", "1024", "-M", "16", "-x", "fm", "-X", "fm",
		"-P", filepath.Join(dir, "run", "kamailio.pid"), "-Y", filepath.Join(dir, "run"), "-w", dir)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := waitOptions(wctx, addr, p); err != nil {
		p.stop(2 * time.Second)
		return nil, fmt.Errorf("%v; %s log: %s", err, name, tail(p.log, 1500))
	}
	_, n := treeCPU(p.pid())
	logf("%s answers OPTIONS on %s (pid %d, %d processes)", name, addr, p.pid(), n)
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
