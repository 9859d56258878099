// Command webrtc measures what a browser leg costs: concurrent calls through ccswitch's media
// engine whose callee is either a plain RTP peer (the relay alone) or a browser leg (webphone:
// ICE-lite, DTLS-SRTP, the loopback RTP hop into the relay) answered by a pion "browser" that
// echoes. Both modes run in the same process and the same run, interleaved per step; a caller
// sends G.711 at 50 packets/s per call and counts its echo.
//
// Everything is in one process: the CPU figures include the callers and the simulated
// browsers' own SRTP, so they are an upper bound of ccswitch's cost (a lower bound of calls
// per core). On the shared 2-core machine, run it briefly and read the ratio between modes.
//
//	go run ./bench/webrtc [-steps 25,50,100] [-dur 5s]
package main

import (
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/webphone"
)

var (
	flagSteps   = flag.String("steps", "25,50,100", "concurrent calls, ascending")
	flagDur     = flag.Duration("dur", 5*time.Second, "measured time per step and mode")
	flagModes   = flag.String("modes", "rtp,webrtc", "callee kinds, interleaved at each step")
	flagMaxLoss = flag.Float64("max-loss", 0.001, "pass criterion: loss fraction")
)

func main() {
	flag.Parse()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 30000, PortMax: 39999, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	cfg := &config.Config{Media: config.Media{IP: "127.0.0.1"}, WebRTC: config.WebRTC{Port: 0}}
	gw, err := webphone.New(webphone.Options{Config: cfg, Logger: quiet})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("# %d CPUs, GOMAXPROCS %d, %s per step and mode; CPU = this whole process (callers, relay, browser legs, simulated browsers)\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), *flagDur)
	fmt.Printf("%-7s %6s %8s %8s %8s %10s %11s %5s\n", "mode", "calls", "pkts/s", "loss%", "CPU", "%core/call", "calls/core", "pass")
	for _, f := range strings.Split(*flagSteps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatalf("-steps: %v", err)
		}
		for _, mode := range strings.Split(*flagModes, ",") {
			r, err := step(eng, gw, mode, n, *flagDur)
			if err != nil {
				log.Fatalf("%s %d: %v", mode, n, err)
			}
			pass := r.loss <= *flagMaxLoss
			perCall := r.cores / float64(n) * 100
			fmt.Printf("%-7s %6d %8.0f %8.3f %8.2f %10.3f %11.0f %5v\n", mode, n, r.pps, r.loss*100, r.cores, perCall, float64(n)/r.cores, pass)
		}
	}
}

type result struct {
	pps, loss, cores float64
}

// callRig is one call: the caller's socket on leg A, the callee (RTP echo or browser) on B.
type callRig struct {
	mc     *media.Call
	caller *net.UDPConn
	toA    netip.AddrPort
	sent   atomic.Uint64
	got    atomic.Uint64
	close  []func()
}

var portRE = regexp.MustCompile(`m=audio (\d+) `)

func portOf(sdp []byte) (uint16, error) {
	m := portRE.FindSubmatch(sdp)
	if m == nil {
		return 0, fmt.Errorf("no m=audio in %q", sdp)
	}
	p, err := strconv.Atoi(string(m[1]))
	return uint16(p), err
}

func plainSDP(port int) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", port))
}

func udp() (*net.UDPConn, int, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, 0, err
	}
	c.SetReadBuffer(1 << 20)
	return c, c.LocalAddr().(*net.UDPAddr).Port, nil
}

func newCall(eng *media.Engine, gw *webphone.Gateway, mode string, i int) (*callRig, error) {
	r := &callRig{}
	mc, err := eng.NewCall(media.CallOptions{ID: fmt.Sprintf("%s-%d", mode, i)})
	if err != nil {
		return nil, err
	}
	r.mc = mc
	r.close = append(r.close, func() { mc.Close() })
	lo := netip.MustParseAddr("127.0.0.1")
	mc.SetPeer(media.LegA, media.Peer{Signal: lo})
	mc.SetPeer(media.LegB, media.Peer{Signal: lo})
	c, port, err := udp()
	if err != nil {
		return nil, err
	}
	r.caller = c
	r.close = append(r.close, func() { c.Close() })
	ansA, err := mc.AnswerLocal(media.LegA, plainSDP(port))
	if err != nil {
		return nil, err
	}
	pa, err := portOf(ansA)
	if err != nil {
		return nil, err
	}
	r.toA = netip.AddrPortFrom(lo, pa)
	offB, err := mc.OfferTo(media.LegB, media.SendRecv)
	if err != nil {
		return nil, err
	}
	pb, err := portOf(offB)
	if err != nil {
		return nil, err
	}
	switch mode {
	case "rtp":
		e, ep, err := udp()
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, func() { e.Close() })
		go echo(e)
		if _, err := mc.AnswerFrom(media.LegB, plainSDP(ep)); err != nil {
			return nil, err
		}
	case "webrtc":
		leg, err := gw.NewLeg(webphone.PCMU)
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, leg.Close)
		leg.SetPeer(netip.AddrPortFrom(lo, pb), 101)
		pc, offer, err := browser()
		if err != nil {
			return nil, err
		}
		r.close = append(r.close, func() { pc.Close() })
		answer, err := leg.Answer(offer)
		if err != nil {
			return nil, err
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
			return nil, err
		}
		select {
		case <-leg.Connected():
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("browser leg %d did not connect", i)
		}
		if _, err := mc.AnswerFrom(media.LegB, leg.SDP(1, 1, 101, "sendrecv")); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}
	go r.count()
	return r, nil
}

// echo sends every packet back where it came from (a plain RTP callee).
func echo(c *net.UDPConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		c.WriteToUDPAddrPort(buf[:n], from)
	}
}

// browser is a pion PeerConnection that echoes the audio it gets (a simulated browser).
func browser() (*webrtc.PeerConnection, string, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, PayloadType: 0}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, "", err
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "mic", "browser")
	if err != nil {
		return nil, "", err
	}
	if _, err := pc.AddTrack(track); err != nil {
		return nil, "", err
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			buf := make([]byte, 1500)
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				track.Write(buf[:n])
			}
		}()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return nil, "", err
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return nil, "", err
	}
	<-done
	return pc, pc.LocalDescription().SDP, nil
}

func (r *callRig) count() {
	buf := make([]byte, 1500)
	for {
		n, _, err := r.caller.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n >= 12 && buf[1]&0x7f == 0 {
			r.got.Add(1)
		}
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// step runs n calls of mode: set up, warm up 1 s, measure dur, then drain and tear down.
func step(eng *media.Engine, gw *webphone.Gateway, mode string, n int, dur time.Duration) (result, error) {
	rigs := make([]*callRig, 0, n)
	defer func() {
		for _, r := range rigs {
			for i := len(r.close) - 1; i >= 0; i-- {
				r.close[i]()
			}
		}
	}()
	for i := range n {
		r, err := newCall(eng, gw, mode, i)
		if err != nil {
			if r != nil {
				rigs = append(rigs, r)
			}
			return result{}, err
		}
		rigs = append(rigs, r)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	// One sender paces every call from absolute deadlines (20 ms, 160 bytes of PCMU).
	wg.Add(1)
	go func() {
		defer wg.Done()
		payload := make([]byte, 160)
		for i := range payload {
			payload[i] = 0xFF
		}
		buf := make([]byte, 200)
		start := time.Now()
		for k := 0; !stop.Load(); k++ {
			for i, r := range rigs {
				p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(k), Timestamp: uint32(k * 160), SSRC: uint32(i + 1)}, Payload: payload}
				m, _ := p.MarshalTo(buf)
				if _, err := r.caller.WriteToUDPAddrPort(buf[:m], r.toA); err == nil {
					r.sent.Add(1)
				}
			}
			time.Sleep(time.Until(start.Add(time.Duration(k+1) * 20 * time.Millisecond)))
		}
	}()
	time.Sleep(time.Second) // warm-up: latching, DTLS done, buffers primed
	var sent0, got0 uint64
	for _, r := range rigs {
		sent0 += r.sent.Load()
		got0 += r.got.Load()
	}
	c0, t0 := cpu(), time.Now()
	time.Sleep(dur)
	c1, el := cpu(), time.Since(t0)
	var sent1 uint64
	for _, r := range rigs {
		sent1 += r.sent.Load()
	}
	stop.Store(true)
	wg.Wait()
	time.Sleep(300 * time.Millisecond) // in flight at the end of the window
	var got1, sentEnd uint64
	for _, r := range rigs {
		got1 += r.got.Load()
		sentEnd += r.sent.Load()
	}
	// Packets sent after the window are echoed too: count what was sent in and after the
	// window against what came back after its start.
	sentTotal := sentEnd - sent0
	gotTotal := got1 - got0
	loss := 0.0
	if sentTotal > 0 && gotTotal < sentTotal {
		loss = float64(sentTotal-gotTotal) / float64(sentTotal)
	}
	return result{pps: float64(sent1-sent0) / el.Seconds(), loss: loss, cores: float64(c1-c0) / float64(el)}, nil
}
