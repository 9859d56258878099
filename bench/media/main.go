// Command media benchmarks ccswitch's RTP relay against rtpengine (userspace) on loopback:
// concurrent anchored G.711 calls, 50 packets/s each way, in steps of call count. Each step
// reports loss, one-way delay and its variation, and the CPU of the relay process and of this
// load generator separately. See RESULTS.md.
//
//	go run ./bench/media [-steps 50,100,200,400,800] [-dur 10s] [-relays ccswitch,rtpengine]
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	flagSteps    = flag.String("steps", "50,100,200,400,800,1200,1600", "concurrent call counts, ascending")
	flagDur      = flag.Duration("dur", 10*time.Second, "measured time per step (after warm-up)")
	flagWarmup   = flag.Duration("warmup", time.Second, "warm-up per step, not measured")
	flagRelays   = flag.String("relays", "ccswitch,rtpengine", "relays to measure, in this order at each step")
	flagRtpeng   = flag.String("rtpengine", "rtpengine", "rtpengine binary")
	flagServe    = flag.String("serve", "", "internal: run ccswitch's relay behind an ng socket at this address")
	flagMaxLoss  = flag.Float64("max-loss", 0.001, "pass criterion: loss fraction")
	flagMaxJit   = flag.Duration("max-jitter", time.Millisecond, "pass criterion: p99 added jitter")
	flagReps     = flag.Int("reps", 3, "runs per step and relay, interleaved; a step passes if one run passes (the machine is shared: other jobs and VM steal add stalls)")
	flagKeepGoin = flag.Int("past-fail", 1, "failing steps tolerated before a relay stops (the machine is shared: one noisy step is not the ceiling)")
)

const (
	ptime       = 20 * time.Millisecond
	payloadSize = 160
	ccswitchNG  = "127.0.0.1:2224"
	rtpengNG    = "127.0.0.1:2223"
)

func main() {
	flag.Parse()
	if *flagServe != "" {
		if err := serve(*flagServe, 10000, 19999); err != nil {
			log.Fatal(err)
		}
		return
	}
	steps, err := parseSteps(*flagSteps)
	if err != nil {
		log.Fatal(err)
	}
	relays := map[string]*relay{}
	var order []string
	for _, name := range strings.Split(*flagRelays, ",") {
		r, err := startRelay(name)
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		defer r.stop()
		relays[name] = r
		order = append(order, name)
	}
	fmt.Printf("# machine: %d CPUs, %s; GOMAXPROCS %d; %s per step after %s warm-up\n", runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), *flagDur, *flagWarmup)
	fmt.Printf("%-10s %6s %8s %8s %9s %9s %9s %9s %9s %9s %8s %10s %8s %7s %6s %5s %5s\n", "relay", "calls", "pkts/s", "loss%", "delay50", "delay99", "jit99", "jit999", "jit99/s", "relayCPU", "µs/pkt", "%core/call", "genCPU", "rcvbuf", "load1", "pass", "pass/s")
	failedSteps := map[string]int{}
	best, bestSec := map[string]int{}, map[string]int{}
	for _, n := range steps {
		passed, passedSec := map[string]bool{}, map[string]bool{}
		for rep := 0; rep < *flagReps; rep++ {
			for _, name := range order {
				if failedSteps[name] > *flagKeepGoin || passed[name] && passedSec[name] {
					continue
				}
				res, err := runStep(relays[name], n)
				if err != nil {
					log.Printf("%s at %d calls: %v", name, n, err)
					continue
				}
				// The offered load must have been sent: a generator starved by the machine sends
				// less, and a relay would look good for the wrong reason.
				offered := res.pps >= 0.95*float64(n)*2*float64(time.Second/ptime)
				pass := offered && res.loss < *flagMaxLoss && res.jit99 < *flagMaxJit
				passSec := offered && res.loss < *flagMaxLoss && res.jitSecMedian < *flagMaxJit
				fmt.Printf("%-10s %6d %8.0f %8.3f %9s %9s %9s %9s %9s %8.1f%% %8.2f %10.3f %7.1f%% %7d %6s %5v %5v\n",
					name, n, res.pps, 100*res.loss, res.delay50, res.delay99, res.jit99, res.jit999, res.jitSecMedian,
					100*res.relayCPU, res.usPerPkt, 100*res.relayCPU/float64(n), 100*res.genCPU, res.rcvbufErrors, loadavg(), pass, passSec)
				passed[name] = passed[name] || pass
				if passSec && !passedSec[name] {
					passedSec[name] = true
				}
			}
		}
		for _, name := range order {
			if failedSteps[name] > *flagKeepGoin {
				continue
			}
			if passed[name] {
				best[name] = n
			}
			if passedSec[name] {
				bestSec[name] = n
			}
			if !passed[name] && !passedSec[name] {
				failedSteps[name]++
			}
		}
	}
	fmt.Println()
	for _, name := range order {
		fmt.Printf("# highest passing step: %s %d calls (whole-step p99), %d calls (median-second p99)\n", name, best[name], bestSec[name])
	}
	if b, a := best["ccswitch"], best["rtpengine"]; a > 0 && b > 0 {
		fmt.Printf("# ratio ccswitch/rtpengine (whole-step): %.2f\n", float64(b)/float64(a))
	}
	if b, a := bestSec["ccswitch"], bestSec["rtpengine"]; a > 0 && b > 0 {
		fmt.Printf("# ratio ccswitch/rtpengine (median-second): %.2f\n", float64(b)/float64(a))
	}
}

func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad step %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// relay is a relay process driven through ng.
type relay struct {
	name string
	cmd  *exec.Cmd
	ng   *ngClient
}

func startRelay(name string) (*relay, error) {
	var cmd *exec.Cmd
	var addr string
	switch name {
	case "ccswitch":
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		addr = ccswitchNG
		cmd = exec.Command(self, "-serve", addr)
	case "rtpengine":
		addr = rtpengNG
		cmd = exec.Command(*flagRtpeng, "--table=-1", "--interface=127.0.0.1", "--listen-ng="+addr,
			"--port-min=30000", "--port-max=40000", "--foreground", "--log-stderr", "--log-level=3")
	default:
		return nil, fmt.Errorf("unknown relay %q", name)
	}
	logf, err := os.Create(fmt.Sprintf("%s/bench-media-%s.log", os.TempDir(), name))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &relay{name: name, cmd: cmd}
	if r.ng, err = dialNG(addr); err != nil {
		r.stop()
		return nil, err
	}
	for i := 0; ; i++ { // wait until it answers ping
		if _, err := r.ng.do(map[string]any{"command": "ping"}); err == nil {
			break
		} else if i == 50 {
			r.stop()
			return nil, fmt.Errorf("no ng reply: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return r, nil
}

func (r *relay) stop() {
	if r.cmd.Process != nil {
		r.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { r.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			r.cmd.Process.Kill()
			<-done
		}
	}
}

// kernelTimestamps asks the kernel to stamp each received datagram (SO_TIMESTAMPNS).
func kernelTimestamps(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return err
	}
	return serr
}

// rxTimestamp finds the SCM_TIMESTAMPNS control message (struct timespec) in oob.
func rxTimestamp(oob []byte) (int64, bool) {
	for len(oob) >= 16 {
		l := int(binary.NativeEndian.Uint64(oob[0:]))
		level := int32(binary.NativeEndian.Uint32(oob[8:]))
		typ := int32(binary.NativeEndian.Uint32(oob[12:]))
		if l < 16 || l > len(oob) {
			return 0, false
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SO_TIMESTAMPNS && l >= 32 {
			sec := int64(binary.NativeEndian.Uint64(oob[16:]))
			nsec := int64(binary.NativeEndian.Uint64(oob[24:]))
			return sec*1e9 + nsec, true
		}
		oob = oob[(l+7)&^7:]
	}
	return 0, false
}

// loadavg is the 1-minute load average: the machine is shared, so each row says how busy it was.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// cpuTime returns utime+stime of a process from /proc/PID/stat.
func cpuTime(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:] // fields after the command name; field 3 first
	f := strings.Fields(s)
	ut, _ := strconv.ParseInt(f[11], 10, 64)        // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)        // field 15
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// udpRcvbufErrors reads Udp RcvbufErrors from /proc/net/snmp.
func udpRcvbufErrors() int64 {
	b, _ := os.ReadFile("/proc/net/snmp")
	var hdr []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)
		if hdr == nil {
			hdr = f
			continue
		}
		for i, h := range hdr {
			if h == "RcvbufErrors" && i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				return n
			}
		}
	}
	return -1
}

var (
	reMPort = regexp.MustCompile(`m=audio (\d+) `)
	reCAddr = regexp.MustCompile(`c=IN IP4 ([0-9.]+)`)
)

func sdpAddr(sdp string) (netip.AddrPort, error) {
	m, c := reMPort.FindStringSubmatch(sdp), reCAddr.FindStringSubmatch(sdp)
	if m == nil || c == nil {
		return netip.AddrPort{}, fmt.Errorf("no address in SDP: %q", sdp)
	}
	return netip.ParseAddrPort(c[1] + ":" + m[1])
}

func genSDP(port int, sess int) string {
	return fmt.Sprintf("v=0\r\no=- %d 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", sess, port)
}

// stream is one direction of one call: the generator sends to dst (the relay's leg socket)
// from its side's socket, and the relay delivers to the other side's socket.
type stream struct {
	id     uint32
	dst    netip.AddrPort
	seq    uint16
	ts     uint32
	sent   atomic.Int64 // packets sent inside the measured window
	phase  time.Duration
	sender int
}

type result struct {
	pps                       float64
	loss                      float64
	delay50, delay99          time.Duration
	jit99, jit999             time.Duration
	jitSecMedian              time.Duration // median over 1 s windows of each window's p99
	relayCPU, genCPU          float64       // cores
	usPerPkt                  float64       // relay CPU µs per relayed packet
	rcvbufErrors, recvd, sent int64
}

// histogram of one-way delay in 5 µs buckets up to 200 ms.
const (
	bucket   = 5 * time.Microsecond
	nBuckets = 40000
)

type hist struct{ b [nBuckets]int64 }

func (h *hist) add(d time.Duration) {
	i := int(d / bucket)
	if i < 0 {
		i = 0
	}
	if i >= nBuckets {
		i = nBuckets - 1
	}
	h.b[i]++
}

func (h *hist) quantile(q float64) time.Duration {
	var total int64
	for _, v := range h.b {
		total += v
	}
	target := int64(math.Ceil(q * float64(total)))
	var acc int64
	for i, v := range h.b {
		acc += v
		if acc >= target && v > 0 {
			return time.Duration(i) * bucket
		}
	}
	return 0
}

func (h *hist) min() time.Duration {
	for i, v := range h.b {
		if v > 0 {
			return time.Duration(i) * bucket
		}
	}
	return 0
}

// runStep sets up n calls through r, runs the load, tears down, and measures.
func runStep(r *relay, n int) (*result, error) {
	// Generator sockets: side A and side B, shared by every call (the relay tells calls apart
	// by its own ports; the payload carries the stream id).
	var socks [2]*net.UDPConn
	for i := range socks {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, err
		}
		c.SetReadBuffer(4 << 20)
		c.SetWriteBuffer(4 << 20)
		if err := kernelTimestamps(c); err != nil {
			return nil, err
		}
		defer c.Close()
		socks[i] = c
	}
	portA := socks[0].LocalAddr().(*net.UDPAddr).Port
	portB := socks[1].LocalAddr().(*net.UDPAddr).Port
	streams := make([]*stream, 0, 2*n)
	ids := make([]string, n)
	defer func() {
		for _, id := range ids {
			if id != "" {
				r.ng.do(map[string]any{"command": "delete", "call-id": id, "from-tag": "a"})
			}
		}
	}()
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("bench-%d-%d-%d", n, i, time.Now().UnixNano())
		off, err := r.ng.do(map[string]any{"command": "offer", "call-id": id, "from-tag": "a", "sdp": genSDP(portA, i)})
		if err != nil {
			return nil, err
		}
		ids[i] = id
		toB, err := sdpAddr(off["sdp"].(string)) // where B sends
		if err != nil {
			return nil, err
		}
		ans, err := r.ng.do(map[string]any{"command": "answer", "call-id": id, "from-tag": "a", "to-tag": "b", "sdp": genSDP(portB, i)})
		if err != nil {
			return nil, err
		}
		toA, err := sdpAddr(ans["sdp"].(string)) // where A sends
		if err != nil {
			return nil, err
		}
		streams = append(streams, &stream{id: uint32(2 * i), dst: toA, sender: 0},
			&stream{id: uint32(2*i + 1), dst: toB, sender: 1})
	}
	// Spread the 2n streams evenly over the 20 ms period.
	for i, s := range streams {
		s.phase = time.Duration(i) * ptime / time.Duration(len(streams))
	}

	base := time.Now()
	baseWall := base.UnixNano()
	mono := func() int64 { return int64(time.Since(base)) }
	// Packets carry the wall-clock send time; arrival is the kernel's receive timestamp
	// (SO_TIMESTAMPNS, same clock), so a stalled generator receiver does not count as delay.
	wall := func() int64 { return time.Now().UnixNano() - baseWall }
	winStart := int64(*flagWarmup)
	winEnd := winStart + int64(*flagDur)

	var recvd atomic.Int64
	hists := [2]*hist{new(hist), new(hist)}
	// Per-second histograms too: on a shared VM one stall of another job fails a whole step;
	// the median second shows the relay's own behaviour. Both are reported.
	nSec := int((*flagDur + time.Second - 1) / time.Second)
	secs := [2][]*hist{}
	for side := range secs {
		for i := 0; i < nSec; i++ {
			secs[side] = append(secs[side], new(hist))
		}
	}
	var wg sync.WaitGroup
	for side := 0; side < 2; side++ {
		wg.Add(1)
		go func(conn *net.UDPConn, h *hist, sec []*hist) {
			defer wg.Done()
			buf := make([]byte, 1500)
			oob := make([]byte, 128)
			for {
				nb, noob, _, _, err := conn.ReadMsgUDPAddrPort(buf, oob)
				if err != nil {
					return
				}
				now, ok := rxTimestamp(oob[:noob])
				if ok {
					now -= baseWall
				} else {
					now = wall()
				}
				if nb < 12+12 {
					continue
				}
				off := 12 + 4*int(buf[0]&0x0f)
				if nb < off+12 {
					continue
				}
				sentAt := int64(binary.BigEndian.Uint64(buf[off+4:]))
				if sentAt < winStart || sentAt >= winEnd {
					continue
				}
				recvd.Add(1)
				h.add(time.Duration(now - sentAt))
				if i := int((sentAt - winStart) / int64(time.Second)); i < len(sec) {
					sec[i].add(time.Duration(now - sentAt))
				}
			}
		}(socks[side], hists[side], secs[side])
	}

	// Senders: one goroutine per side, each walking its streams in phase order.
	stopSend := make(chan struct{})
	var swg sync.WaitGroup
	for side := 0; side < 2; side++ {
		var mine []*stream
		for _, s := range streams {
			if s.sender == side {
				mine = append(mine, s)
			}
		}
		swg.Add(1)
		go func(conn *net.UDPConn, mine []*stream) {
			defer swg.Done()
			buf := make([]byte, 12+payloadSize)
			for i := range buf[12:] {
				buf[12+i] = 0xFF
			}
			buf[0], buf[1] = 0x80, 0
			for period := int64(0); ; period++ {
				for _, s := range mine {
					due := int64(s.phase) + period*int64(ptime)
					if now := mono(); due > now+int64(200*time.Microsecond) {
						time.Sleep(time.Duration(due - now))
					}
					select {
					case <-stopSend:
						return
					default:
					}
					now := wall()
					binary.BigEndian.PutUint16(buf[2:], s.seq)
					binary.BigEndian.PutUint32(buf[4:], s.ts)
					binary.BigEndian.PutUint32(buf[8:], 0x1000+s.id)
					binary.BigEndian.PutUint32(buf[12:], s.id)
					binary.BigEndian.PutUint64(buf[16:], uint64(now))
					if _, err := conn.WriteToUDPAddrPort(buf, s.dst); err == nil && now >= winStart && now < winEnd {
						s.sent.Add(1)
					}
					s.seq++
					s.ts += payloadSize
				}
			}
		}(socks[side], mine)
	}

	time.Sleep(*flagWarmup)
	pid := strconv.Itoa(r.cmd.Process.Pid)
	relay0, gen0, rb0 := cpuTime(pid), cpuTime("self"), udpRcvbufErrors()
	t0 := time.Now()
	time.Sleep(*flagDur)
	relay1, gen1, rb1 := cpuTime(pid), cpuTime("self"), udpRcvbufErrors()
	elapsed := time.Since(t0).Seconds()
	close(stopSend)
	swg.Wait()
	time.Sleep(300 * time.Millisecond) // let the last packets of the window arrive
	for _, c := range socks {
		c.Close()
	}
	wg.Wait()

	var sent int64
	for _, s := range streams {
		sent += s.sent.Load()
	}
	if sent == 0 {
		return nil, errors.New("nothing sent")
	}
	var h hist
	for _, x := range hists {
		for i, v := range x.b {
			h.b[i] += v
		}
	}
	res := &result{sent: sent, recvd: recvd.Load(), rcvbufErrors: rb1 - rb0}
	res.pps = float64(sent) / elapsed
	res.loss = math.Max(0, 1-float64(res.recvd)/float64(sent))
	res.delay50, res.delay99 = h.quantile(0.5), h.quantile(0.99)
	min := h.min()
	res.jit99, res.jit999 = h.quantile(0.99)-min, h.quantile(0.999)-min
	var perSec []time.Duration
	for i := 0; i < nSec; i++ {
		var m hist
		for side := range secs {
			for k, v := range secs[side][i].b {
				m.b[k] += v
			}
		}
		perSec = append(perSec, m.quantile(0.99)-min)
	}
	sort.Slice(perSec, func(i, j int) bool { return perSec[i] < perSec[j] })
	res.jitSecMedian = perSec[len(perSec)/2]
	res.relayCPU = (relay1 - relay0).Seconds() / elapsed
	res.genCPU = (gen1 - gen0).Seconds() / elapsed
	if res.recvd > 0 {
		res.usPerPkt = (relay1 - relay0).Seconds() * 1e6 / float64(res.recvd)
	}
	return res, nil
}
