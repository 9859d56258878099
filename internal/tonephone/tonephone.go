// Package tonephone is a test phone's media: an RTP socket on loopback that talks on one
// frequency (PCMU) and keeps what it hears, so a test tells who hears whom with media's
// Goertzel detector (media.ToneLevel). A SIPp scenario names its socket in the SDP (-key
// rtpport); ccswitch sends first, and the phone answers to that address (symmetric RTP).
//
// Invariants:
//
//  1. Frame n leaves at start + n×20 ms, start being the first packet heard: a late sender
//     catches up, as a phone's does.
//  2. A key press (Keys) replaces one frame by an RFC 4733 event (payload type 101): five
//     updates and three end packets, one timestamp.
//  3. Its goroutines end and its socket closes at the test's cleanup.
package tonephone

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zaf/g711"

	"github.com/ccswitch/ccswitch/media"
)

// Phone is one test phone's media.
type Phone struct {
	Name string
	Hz   float64
	// Keys takes digits to send as RFC 4733 events.
	Keys chan byte

	t    testing.TB
	conn *net.UDPConn

	mu  sync.Mutex
	dst netip.AddrPort
	got []int16
}

// New starts a phone talking on hz.
func New(t testing.TB, name string, hz float64) *Phone {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &Phone{t: t, Name: name, Hz: hz, conn: c, Keys: make(chan byte, 4)}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.send(stop) }()
	go func() { defer wg.Done(); p.receive() }()
	t.Cleanup(func() { close(stop); c.Close(); wg.Wait() })
	return p
}

// Port is the phone's RTP port, for the SDP (-key rtpport).
func (p *Phone) Port() string { return fmt.Sprint(p.conn.LocalAddr().(*net.UDPAddr).Port) }

func (p *Phone) send(stop <-chan struct{}) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	pcm := make([]byte, 320)
	var seq uint16
	var ts uint32
	var start time.Time
	n := 0
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		p.mu.Lock()
		dst := p.dst
		p.mu.Unlock()
		if !dst.IsValid() {
			continue
		}
		if start.IsZero() {
			start = time.Now()
		}
		for ; time.Duration(n)*20*time.Millisecond <= time.Since(start); n++ {
			p.frame(dst, pcm, &seq, &ts, n)
		}
	}
}

func (p *Phone) frame(dst netip.AddrPort, pcm []byte, seq *uint16, ts *uint32, n int) {
	select {
	case d := <-p.Keys:
		for i := 0; i < 8; i++ {
			dur := uint16(min(i+1, 5) * 160)
			flags := byte(10)
			if i >= 5 {
				flags |= 0x80
			}
			b := append(rtpHdr(101, i == 0, *seq, *ts, 0x7e57), d-'0', flags, byte(dur>>8), byte(dur))
			p.conn.WriteToUDPAddrPort(b, dst)
			*seq++
		}
		*ts += 800
		return
	default:
	}
	for s := 0; s < 160; s++ {
		v := int16(6000 * math.Sin(2*math.Pi*p.Hz*float64(n*160+s)/8000))
		binary.LittleEndian.PutUint16(pcm[2*s:], uint16(v))
	}
	p.conn.WriteToUDPAddrPort(append(rtpHdr(0, false, *seq, *ts, 0x7e57), g711.EncodeUlaw(pcm)...), dst)
	*seq++
	*ts += 160
}

func rtpHdr(pt byte, marker bool, seq uint16, ts, ssrc uint32) []byte {
	h := make([]byte, 12, 12+160)
	h[0], h[1] = 0x80, pt
	if marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], seq)
	binary.BigEndian.PutUint32(h[4:], ts)
	binary.BigEndian.PutUint32(h[8:], ssrc)
	return h
}

func (p *Phone) receive() {
	buf := make([]byte, 1500)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if n < 12 || buf[1]&0x7f != 0 {
			continue
		}
		pcm := g711.DecodeUlaw(buf[12:n])
		p.mu.Lock()
		if !p.dst.IsValid() {
			p.dst = from
		}
		for i := 0; i+1 < len(pcm); i += 2 {
			p.got = append(p.got, int16(binary.LittleEndian.Uint16(pcm[i:])))
		}
		p.mu.Unlock()
	}
}

// Mark forgets what the phone heard so far.
func (p *Phone) Mark() {
	p.mu.Lock()
	p.got = nil
	p.mu.Unlock()
}

// Heard waits until the phone has heard n samples since Mark (hang guard 10 s).
func (p *Phone) Heard(n int) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		k := len(p.got)
		p.mu.Unlock()
		if k >= n {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the %s heard %d samples in 10 s, want %d", p.Name, k, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Level is the share of what the phone heard since Mark (minus its first 200 ms, still on
// its way when the mode changed) at hz, by media.ToneLevel.
func (p *Phone) Level(hz float64) float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.got) < 1600 {
		return 0
	}
	return media.ToneLevel(p.got[1600:], hz)
}

// MedianLevel is the median of media.ToneLevel at hz over the 200 ms windows of pcm (8 kHz)
// that are not silent: a phone's or a browser's jitter buffer conceals a late packet now and
// then (a click spreads a window's energy), which one level over the whole stretch would count.
func MedianLevel(pcm []int16, hz float64) float64 {
	var levels []float64
	for i := 0; i+1600 <= len(pcm); i += 1600 {
		w := pcm[i : i+1600]
		var e float64
		for _, v := range w {
			e += float64(v) * float64(v)
		}
		if e/1600 < 100*100 {
			continue
		}
		levels = append(levels, media.ToneLevel(w, hz))
	}
	if len(levels) == 0 {
		return 0
	}
	slices.Sort(levels)
	return levels[len(levels)/2]
}
