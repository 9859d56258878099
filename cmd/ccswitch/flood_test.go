package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/configs"
	"github.com/ccswitch/ccswitch/internal/testenv"
)

var floodCompare = flag.Bool("flood.unprotected", false, "TestFloodFromOneAddress also runs with sip.limits.source_rate: 0 and logs the figures (no assertions; RSS may reach GBs)")

// Flood figures (issue 10): 25,000 unauthenticated INVITEs/s from 127.0.0.3 while the carrier
// (SIPp from the trunk's source) places 20 calls at 2/s.
const (
	floodRate   = 25000
	floodMax    = 40 * time.Second // the flood never lasts longer, whatever happens
	trunkCalls  = 20
	maxCPUCores = 1.0
	maxRSSBytes = 300 << 20
)

// floodFigures is what one run measured.
type floodFigures struct {
	sent     int64
	rate     float64 // achieved flood rate, messages/s
	cpu      float64 // ccswitch CPU over the flood, cores
	peakRSS  int64   // highest VmRSS sampled, bytes
	hwm      int64   // VmHWM at the end, bytes
	calls    int     // trunk calls completed
	logLines int     // ccswitch log lines that name the flooding address
}

func (f floodFigures) String() string {
	return fmt.Sprintf("flood %d msgs at %.0f/s; ccswitch CPU %.2f cores, peak RSS %d MB (VmHWM %d MB); trunk calls %d/%d; log lines naming the flooder %d",
		f.sent, f.rate, f.cpu, f.peakRSS>>20, f.hwm>>20, f.calls, trunkCalls, f.logLines)
}

// TestFloodFromOneAddress runs the real binary on the demo configuration (its default limits,
// ports moved) and floods it with 25,000 unauthenticated INVITEs/s from 127.0.0.3 while SIPp,
// as the carrier from the trunk's source, places 20 calls at 2/s to +15550100 (extension
// 2000, a SIPp UAS). ccswitch must spend at most one core (utime+stime from /proc), keep its
// RSS under 300 MB and complete 20 of 20 calls.
func TestFloodFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("floods for ~12 s")
	}
	sipp := testenv.Tool(t, "sipp")
	dir := t.TempDir()
	bin := filepath.Join(dir, "ccswitch")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	runs := []struct {
		name      string
		protected bool
	}{{"defaults", true}}
	if *floodCompare {
		runs = append(runs, struct {
			name      string
			protected bool
		}{"source_rate 0", false})
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			f := floodRun(t, bin, sipp, filepath.Join(dir, strings.ReplaceAll(r.name, " ", "-")), r.protected)
			t.Logf("%s: %v", r.name, f)
			if !r.protected {
				return
			}
			if f.rate < 0.8*floodRate {
				t.Errorf("the generator reached %.0f msgs/s, want about %d: the machine is too busy for this test to mean anything", f.rate, floodRate)
			}
			if f.calls != trunkCalls {
				t.Errorf("%d of %d trunk calls completed", f.calls, trunkCalls)
			}
			if f.cpu > maxCPUCores {
				t.Errorf("ccswitch spent %.2f cores on the flood, want at most %.1f", f.cpu, maxCPUCores)
			}
			if f.peakRSS > maxRSSBytes || f.hwm > maxRSSBytes {
				t.Errorf("ccswitch RSS peaked at %d MB (VmHWM %d MB), want under %d MB", f.peakRSS>>20, f.hwm>>20, maxRSSBytes>>20)
			}
			if f.logLines > 5 {
				t.Errorf("%d log lines name the flooding address, want the one warning a minute", f.logLines)
			}
		})
	}
}

func floodRun(t *testing.T, bin, sipp, dir string, protected bool) floodFigures {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sipPort, httpPort, carrier, uas := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	rtp := 40000 + (sipPort % 500 * 40)
	demo := string(configs.Default)
	// Through placeholders, so that a new port never contains an old address.
	moves := []struct{ old, new string }{
		{"127.0.0.1:5060", fmt.Sprintf("127.0.0.1:%d", sipPort)},
		{"127.0.0.1:5080", fmt.Sprintf("127.0.0.1:%d", carrier)},
		{"127.0.0.1:5090", fmt.Sprintf("127.0.0.1:%d", uas)},
		{"listen: 127.0.0.1:8080", fmt.Sprintf("listen: 127.0.0.1:%d", httpPort)},
		{"rtp_ports: 20000-23999", fmt.Sprintf("rtp_ports: %d-%d", rtp, rtp+399)},
		{"  limits:\n", "  limits:\n"}, // the demo keeps its limits block (the unprotected run edits it)
	}
	for i, m := range moves {
		if !strings.Contains(demo, m.old) {
			t.Fatalf("the demo configuration no longer contains %q", m.old)
		}
		demo = strings.ReplaceAll(demo, m.old, fmt.Sprintf("\x00%d\x00", i))
	}
	for i, m := range moves {
		demo = strings.ReplaceAll(demo, fmt.Sprintf("\x00%d\x00", i), m.new)
	}
	if !protected {
		demo = strings.Replace(demo, "  limits:\n", "  limits:\n    source_rate: 0\n", 1)
	}
	cfgPath := filepath.Join(dir, "ccswitch.yaml")
	if err := os.WriteFile(cfgPath, []byte(demo), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "-config", cfgPath, "-data", filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "WEBCHAT_DISABLED=true", "EMAIL_ADDRESS=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("ccswitch output (tail):\n%s", tailString(logs.String(), 4000))
		}
	}()
	waitFor(t, "ccswitch ready", func() bool { return strings.Contains(logs.String(), "ccswitch ready") })

	uasRun := exec.Command(sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(uas), "-m", strconv.Itoa(trunkCalls),
		"-nostdin", "-timeout", "90s", "-buff_size", "4194304")
	uasRun.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := uasRun.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { uasRun.Process.Kill(); uasRun.Wait() }()

	pid := cmd.Process.Pid
	var f floodFigures
	ctx, stop := context.WithTimeout(context.Background(), floodMax)
	defer stop()
	var wg sync.WaitGroup
	var sent atomic.Int64
	wg.Add(2)
	go func() { defer wg.Done(); flood(t, ctx, fmt.Sprintf("127.0.0.1:%d", sipPort), &sent) }()
	go func() {
		defer wg.Done()
		for tick := time.NewTicker(100 * time.Millisecond); ; {
			if rss := procStatus(pid, "VmRSS:"); rss > f.peakRSS {
				f.peakRSS = rss
			}
			select {
			case <-ctx.Done():
				tick.Stop()
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	cpu0 := procCPU(t, pid)
	time.Sleep(time.Second) // the flood is on before the first call

	stat := filepath.Join(dir, "carrier.csv")
	carrierRun := exec.Command(sipp, "-sn", "uac", "-s", "+15550100", "-i", "127.0.0.1", "-p", strconv.Itoa(carrier),
		"-m", strconv.Itoa(trunkCalls), "-r", "2", "-d", "500", "-nostdin", "-timeout", "35s", "-recv_timeout", "10000",
		"-buff_size", "4194304", "-trace_stat", "-stf", stat, "-fd", "1", fmt.Sprintf("127.0.0.1:%d", sipPort))
	carrierRun.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, _ := carrierRun.CombinedOutput()
	stop()
	wg.Wait()
	wall := time.Since(start)
	f.cpu = (procCPU(t, pid) - cpu0).Seconds() / wall.Seconds()
	f.hwm = procStatus(pid, "VmHWM:")
	f.sent = sent.Load()
	f.rate = float64(f.sent) / wall.Seconds()
	f.calls = successfulCalls(stat)
	if f.calls < 0 {
		t.Logf("carrier SIPp output:\n%s", tailString(string(out), 2000))
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "127.0.0.3") {
			f.logLines++
		}
	}
	return f
}

// flood sends unauthenticated INVITEs from 127.0.0.3 to dst at floodRate, each with its own
// Call-ID and branch, until ctx ends.
func flood(t *testing.T, ctx context.Context, dst string, sent *atomic.Int64) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3)})
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	c.SetWriteBuffer(4 << 20)
	to, _ := net.ResolveUDPAddr("udp", dst)
	src := c.LocalAddr().String()
	const mark = "0000000000"
	sdp := "v=0\r\no=- 1 1 IN IP4 127.0.0.3\r\ns=-\r\nc=IN IP4 127.0.0.3\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	msg := []byte("INVITE sip:+4790000000@" + dst + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + src + ";branch=z9hG4bK" + mark + ";rport\r\n" +
		"From: <sip:1006@127.0.0.3>;tag=" + mark + "\r\nTo: <sip:+4790000000@" + dst + ">\r\n" +
		"Call-ID: " + mark + "@127.0.0.3\r\nCSeq: 1 INVITE\r\nContact: <sip:1006@" + src + ">\r\n" +
		"Max-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(sdp)) + "\r\n\r\n" + sdp)
	var marks []int
	for i := 0; ; {
		j := strings.Index(string(msg[i:]), mark)
		if j < 0 {
			break
		}
		marks = append(marks, i+j)
		i += j + len(mark)
	}
	start := time.Now()
	n := 0
	for ctx.Err() == nil {
		want := int(time.Since(start).Seconds() * floodRate)
		for ; n < want; n++ {
			num := strconv.AppendInt(make([]byte, 0, 10), int64(n), 10)
			for _, m := range marks {
				copy(msg[m:m+len(mark)], mark)
				copy(msg[m+len(mark)-len(num):], num)
			}
			if _, err := c.WriteToUDP(msg, to); err == nil {
				sent.Add(1)
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// procCPU is the process's utime+stime (USER_HZ = 100 on Linux).
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// procStatus reads a "kB" line of /proc/PID/status, in bytes (0 when unreadable).
func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// successfulCalls reads SuccessfulCall(C) from the last line of a SIPp -trace_stat file (-1
// when there is none).
func successfulCalls(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 2 {
		return -1
	}
	head, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	for i, h := range head {
		if h == "SuccessfulCall(C)" && i < len(last) {
			n, err := strconv.Atoi(last[i])
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
