package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// -e2e: routing latency end to end, on the real binary with a generated config.
//
//   - voice: a carrier (SIPp, from the trunk's source port) calls a DID whose flow queues the
//     call; the agents' phones (one SIPp UAS, every agent registered with digest to it,
//     auto_login) ring. Latency = the agent phone's INVITE − the carrier's INVITE, both taken
//     with gettimeofday by SIPp's [timestamp] (µs), paired by the caller ID.
//   - text: signed WhatsApp-format webhooks (each a new customer) at a steady rate; text agents
//     hold desktop sessions (login, ready, the event WebSocket). Latency = the offer's frame
//     on the WebSocket − the start of the POST, both in this process.
//
// Beside them, the engine-only figure of bench/routing at the same size (`go run ./bench/routing
// -agents A -skills 2 -waiting 0`: an idle agent's reservation after an enqueue).

const e2eDID = "+15550199"

// e2eLine is one "SENT n time" or "RING n time" line of the SIPp logs; time is SIPp's
// [timestamp]: "YYYY-MM-DD<TAB>hh:mm:ss.micro<TAB>epoch.micro".
var e2eLine = regexp.MustCompile(`^(SENT|RING) (\d+) .*?(\d{9,})\.(\d{6})\s*$`)

// parseE2ELogs reads SIPp -trace_logs text and returns the µs epoch of each call number, per
// kind ("SENT" or "RING"); a number logged twice keeps the first.
func parseE2ELogs(r io.Reader) (map[string]map[int]int64, error) {
	out := map[string]map[int]int64{"SENT": {}, "RING": {}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := e2eLine.FindStringSubmatch(strings.TrimRight(sc.Text(), "\r"))
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[2])
		sec, _ := strconv.ParseInt(m[3], 10, 64)
		us, _ := strconv.ParseInt(m[4], 10, 64)
		if _, ok := out[m[1]][n]; !ok {
			out[m[1]][n] = sec*1e6 + us
		}
	}
	return out, sc.Err()
}

// pairLatencies returns the RING−SENT latencies (ms) of the calls that rang, and how many SENT
// calls never rang.
func pairLatencies(logs map[string]map[int]int64) (lat []float64, missing int) {
	for n, s := range logs["SENT"] {
		r, ok := logs["RING"][n]
		if !ok {
			missing++
			continue
		}
		lat = append(lat, float64(r-s)/1000)
	}
	return lat, missing
}

// e2eUsers are the agents' phones: extension e2ePhoneNNN, with a password each.
func e2eUsers(n int) []regUser {
	users := make([]regUser, n)
	b := make([]byte, 8*n)
	rand.Read(b)
	for i := range users {
		users[i] = regUser{name: fmt.Sprintf("e2ephone%03d", i+1), password: hex.EncodeToString(b[8*i : 8*i+8])}
	}
	return users
}

// textConfig is the text half of the e2e and soak config: desk agents in queue bench-text, and
// WhatsApp (its secret generated here) routing there.
func textConfig(desks []deskAgent, waSecret string) string {
	var w strings.Builder
	w.WriteString("queues:\n  - {name: bench-text, channels: [social], wrapup: 100ms, rona_timeout: 30s}\nagents:\n")
	for _, d := range desks {
		fmt.Fprintf(&w, "  - {id: %q, name: bench desk, password_hash: %q, queues: [bench-text]}\n", d.id, d.hash)
	}
	fmt.Fprintf(&w, "channels:\n  whatsapp: {app_secret: %q, verify_token: bench, token: bench, graph_url: \"http://127.0.0.1:1\", queue: bench-text}\n", waSecret)
	return w.String()
}

// voiceConfig is the voice half of the e2e config: the agents' phones and agents (auto_login)
// in queue bench-voice, a flow that queues there, and the DID.
func voiceConfig(phones []regUser) string {
	var w strings.Builder
	w.WriteString("users:\n")
	for _, u := range phones {
		fmt.Fprintf(&w, "  - {extension: %q, secret: %q}\n", u.name, u.password)
	}
	w.WriteString("queues:\n  - {name: bench-voice, channels: [voice], wrapup: 100ms, rona_timeout: 10s}\nagents:\n")
	for i, u := range phones {
		fmt.Fprintf(&w, "  - {id: \"e2evoice%03d\", name: bench phone, extension: %q, queues: [bench-voice], auto_login: true}\n", i+1, u.name)
	}
	fmt.Fprintf(&w, "flows:\n  - name: bench-e2e\n    nodes:\n      - {id: queue, type: queue, queue: bench-voice}\n")
	fmt.Fprintf(&w, "numbers:\n  - {did: %q, flow: bench-e2e}\n", e2eDID)
	return w.String()
}

// freeUDPPort returns a UDP port of 127.0.0.1 that is free now, with the next three free too
// when even is set (SIPp's media ports: RTP and RTCP of audio, then video).
func freeUDPPort(even bool) (int, error) {
	for try := 0; try < 200; try++ {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if !even {
			return p, nil
		}
		if p%2 == 1 || p > 65530 {
			continue
		}
		ok := true
		for q := p; q < p+4 && ok; q++ {
			if portFree(q) != nil {
				ok = false
			}
		}
		if ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free UDP port range")
}

// freeTCPAddr returns a free loopback TCP address.
func freeTCPAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// latencyLine is "n=… p50=…ms p99=…ms max=…ms" of v (ms).
func latencyLine(v []float64) string {
	if len(v) == 0 {
		return "n=0"
	}
	return fmt.Sprintf("n=%d p50=%.2fms p99=%.2fms max=%.2fms", len(v), percentile(v, 50), percentile(v, 99), percentile(v, 100))
}

func runE2E(ctx context.Context, cfg config, tmp string, stdout io.Writer, logf func(string, ...any)) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench/sip -e2e:", err)
		return 1
	}
	sipp, err := lookTool("sipp")
	if err != nil {
		return fail(err)
	}
	repo, err := moduleRoot(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	phones := e2eUsers(cfg.e2eAgents)
	desks, err := makeDeskAgents(cfg.e2eDesks, "e2edesk")
	if err != nil {
		return fail(err)
	}
	sb := make([]byte, 16)
	rand.Read(sb)
	waSecret := hex.EncodeToString(sb)
	conf, err := benchConfig(ctx, cfg, tmp, nil, map[string]string{
		"20-e2e-voice.yaml": voiceConfig(phones),
		"21-e2e-text.yaml":  textConfig(desks, waSecret),
	})
	if err != nil {
		return fail(err)
	}
	bin, err := buildCcswitch(ctx, cfg, tmp, logf)
	if err != nil {
		return fail(err)
	}
	cc, _, err := startCcswitch(ctx, bin, conf, filepath.Join(tmp, "ccswitch-e2e"), logf)
	if err != nil {
		return fail(err)
	}
	for _, f := range []string{"e2e-carrier.xml", "e2e-agent.xml", "register-contact.xml"} {
		b, _ := assets.ReadFile(f)
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return fail(err)
		}
	}

	// The agents' phones: every agent registers its contact from the port the agents' SIPp
	// UAS then answers on (ccswitch reaches a registered contact only through the address its
	// REGISTER came from), then that SIPp starts.
	agentPort, err := freeUDPPort(false)
	if err != nil {
		return fail(err)
	}
	agentMedia, err := freeUDPPort(true)
	if err != nil {
		return fail(err)
	}
	regDir := filepath.Join(tmp, "e2e-register")
	os.MkdirAll(regDir, 0o755)
	inj := filepath.Join(regDir, "phones.csv")
	if err := writeInjection(inj, phones, 0); err != nil {
		return fail(err)
	}
	reg := exec.CommandContext(ctx, sipp, "-sf", filepath.Join(tmp, "register-contact.xml"), fmt.Sprintf("127.0.0.1:%d", ccswitchPort),
		"-i", "127.0.0.1", "-p", strconv.Itoa(agentPort), "-inf", inj, "-key", "cport", strconv.Itoa(agentPort),
		"-m", strconv.Itoa(len(phones)), "-r", "50", "-nostdin", "-timeout", "60s", "-timeout_error",
		"-trace_stat", "-stf", "stat.csv", "-trace_err", "-error_file", "errors.log")
	reg.Dir = regDir
	if out, err := reg.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("registering the agents' phones: %v: %s %s", err, lastBytes(string(out), 300), tail(filepath.Join(regDir, "errors.log"), 500)))
	}
	agentDir := filepath.Join(tmp, "e2e-agents")
	os.MkdirAll(agentDir, 0o755)
	agents, err := start("sipp-agents", agentDir, filepath.Join(agentDir, "screen.log"), sipp,
		"-sf", filepath.Join(tmp, "e2e-agent.xml"), "-i", "127.0.0.1", "-p", strconv.Itoa(agentPort),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(agentMedia), "-d", strconv.Itoa(int(cfg.e2eTalk/time.Millisecond)),
		"-buff_size", sippBuf, "-nostdin", "-trace_logs", "-trace_stat", "-stf", "stat.csv", "-fd", "1",
		"-trace_err", "-error_file", "errors.log", "-recv_timeout", "30000")
	if err != nil {
		return fail(err)
	}
	logf("%d agent phones registered on 127.0.0.1:%d (auto_login)", len(phones), agentPort)

	// The desks.
	base := fmt.Sprintf("http://127.0.0.1:%d", ccswitchHTTP)
	tr := newTextTracker()
	dctx, dcancel := context.WithCancel(ctx)
	var dwg sync.WaitGroup
	defer func() { dcancel(); dwg.Wait() }()
	for _, a := range desks {
		d, err := newDesk(base, a)
		if err == nil {
			err = d.start(dctx, tr, &dwg)
		}
		if err != nil {
			return fail(err)
		}
	}
	logf("%d desktop sessions ready", len(desks))
	select { // let the registrations' auto-login reach the ACD
	case <-ctx.Done():
	case <-time.After(time.Second):
	}

	// The load: carrier calls and webhooks side by side, for the same time.
	carrierDir := filepath.Join(tmp, "e2e-carrier")
	os.MkdirAll(carrierDir, 0o755)
	carrierMedia, err := freeUDPPort(true)
	if err != nil {
		return fail(err)
	}
	ncalls := int(math.Round(cfg.e2eRate * cfg.e2eDuration.Seconds()))
	if err := waitPort(ctx, cfg.uacPort, logf); err != nil {
		return fail(err)
	}
	tenths := int(math.Round(cfg.e2eRate * 10))
	carrier, err := start("sipp-carrier", carrierDir, filepath.Join(carrierDir, "screen.log"), sipp,
		"-sf", filepath.Join(tmp, "e2e-carrier.xml"), fmt.Sprintf("127.0.0.1:%d", ccswitchPort), "-s", e2eDID,
		"-i", "127.0.0.1", "-p", strconv.Itoa(cfg.uacPort), "-mi", "127.0.0.1", "-mp", strconv.Itoa(carrierMedia),
		"-r", strconv.Itoa(tenths), "-rp", "10000", "-m", strconv.Itoa(ncalls), "-l", strconv.Itoa(max(ncalls, 10)),
		"-buff_size", sippBuf, "-nostdin", "-trace_logs", "-trace_stat", "-stf", "stat.csv", "-fd", "1",
		"-trace_err", "-error_file", "errors.log", "-recv_timeout", "30000",
		"-timeout", fmt.Sprintf("%ds", int((cfg.e2eDuration+60*time.Second).Seconds())), "-timeout_error")
	if err != nil {
		return fail(err)
	}
	logf("e2e: %d carrier calls at %.1f/s to %s and webhooks at %.1f/s for %s", ncalls, cfg.e2eRate, e2eDID, cfg.e2eTextRate, cfg.e2eDuration)
	wh := &webhook{url: base + "/webhooks/whatsapp", secret: waSecret, client: &http.Client{Timeout: 15 * time.Second}}
	cpu0, _ := treeCPU(cc.pid())
	t0 := time.Now()
	posted := wh.postAt(ctx, cfg.e2eTextRate, cfg.e2eDuration, 1, tr)
	wctx, wcancel := context.WithTimeout(ctx, cfg.e2eDuration+90*time.Second)
	carrier.wait(wctx)
	wcancel()
	// Offers still on their way.
	for i := 0; i < 100 && tr.missing() > 0 && ctx.Err() == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	cpu1, _ := treeCPU(cc.pid())
	wall := time.Since(t0)
	agents.stop(2 * time.Second)

	// Voice figures.
	logs := map[string]map[int]int64{"SENT": {}, "RING": {}}
	for _, d := range []string{carrierDir, agentDir} {
		files, _ := filepath.Glob(filepath.Join(d, "*_logs.log"))
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				continue
			}
			l, err := parseE2ELogs(fh)
			fh.Close()
			if err != nil {
				continue
			}
			for k, m := range l {
				for n, v := range m {
					logs[k][n] = v
				}
			}
		}
	}
	lat, missing := pairLatencies(logs)
	cst, _ := readStatFile(filepath.Join(carrierDir, "stat.csv"))
	ast, _ := readStatFile(filepath.Join(agentDir, "stat.csv"))
	fmt.Fprintf(stdout, "\n## bench/sip -e2e: routing latency end to end\n\n")
	fmt.Fprintf(stdout, "- command: `%s`; ccswitch CPU %.0f%% of a core over %s (all of it: calls, media, webhooks, desktops)\n", strings.TrimSpace(cfg.command), pct(cpu1-cpu0, wall), wall.Round(time.Second))
	fmt.Fprintf(stdout, "- voice: %d calls at %.1f/s to %s (flow → queue bench-voice, %d agents, auto_login, talk %s); carrier SIPp ok %d failed %d; agents' SIPp ok %d failed %d\n",
		ncalls, cfg.e2eRate, e2eDID, len(phones), cfg.e2eTalk, cst.Success, cst.Failed, ast.Success, ast.Failed)
	fmt.Fprintf(stdout, "- text: %d webhooks at %.1f/s (signed WhatsApp, each a new customer → queue bench-text, %d desks accept and close); refused %d; offers %d (re-offers %d)\n",
		posted, cfg.e2eTextRate, len(desks), tr.refused, tr.offers, tr.dup)
	if len(tr.errs) > 0 {
		fmt.Fprintf(stdout, "- text errors: %v\n", tr.errs)
	}
	for _, f := range []struct{ name, dir string }{{"carrier", carrierDir}, {"agent phone", agentDir}} {
		if s, _ := os.ReadFile(filepath.Join(f.dir, "errors.log")); len(s) > 0 {
			if sum, ex := errorSummary(string(s)); sum != "" {
				fmt.Fprintf(stdout, "- %s failures: %s; first: %s\n", f.name, sum, oneLine(ex, 300))
			}
		}
	}

	engine := engineFigure(ctx, repo, len(phones)+len(desks))
	vfail := missing + cst.Failed
	tfail := tr.refused + tr.missing()
	fmt.Fprintf(stdout, "\ne2e voice carrier-INVITE→agent-INVITE %s failed=%d\n", latencyLine(lat), vfail)
	fmt.Fprintf(stdout, "e2e text webhook-POST→desktop-offer %s failed=%d\n", latencyLine(tr.lat), tfail)
	fmt.Fprintf(stdout, "e2e engine-only (bench/routing) %s\n", engine)
	if vfail > 0 || tfail > 0 || len(lat) == 0 {
		return 1
	}
	return 0
}

// engineFigure runs bench/routing at the e2e's size and returns its result line.
func engineFigure(ctx context.Context, repo string, agents int) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "go", "run", "./bench/routing", "-agents", strconv.Itoa(agents), "-skills", "2",
		"-waiting", "0", "-duration", "1s", "-probes", "5000", "-nobaseline")
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "routing ") {
			return strings.TrimSpace(l)
		}
	}
	return fmt.Sprintf("not measured: %v: %s", err, oneLine(string(out), 300))
}
