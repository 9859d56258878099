package media_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/media/internal/fakeclock"
	"github.com/pion/rtp"
)

var t0 = time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC)

type peer struct {
	t    *testing.T
	conn *net.UDPConn
}

func newPeer(t *testing.T) *peer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, conn: c}
}

func (p *peer) sdp(fmts string) []byte {
	port := p.conn.LocalAddr().(*net.UDPAddr).Port
	s := "v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio " +
		itoa(port) + " RTP/AVP " + fmts + "\r\na=rtpmap:101 telephone-event/8000\r\n"
	return []byte(s)
}

func itoa(n int) string { return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(n)).String()[8:] }

func (p *peer) recv() rtp.Packet {
	p.t.Helper()
	buf := make([]byte, 1500)
	p.conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // hang guard only
	n, err := p.conn.Read(buf)
	if err != nil {
		p.t.Fatalf("no packet: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		p.t.Fatal(err)
	}
	return pkt
}

func (p *peer) send(to netip.AddrPort, b []byte) {
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatal(err)
	}
}

var nextBase = 24000

func engine(t *testing.T, clk media.Clock, timeout time.Duration) *media.Engine {
	t.Helper()
	nextBase += 20
	e, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: nextBase, PortMax: nextBase + 19, Clock: clk, RTPTimeout: timeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func ramp(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(i * 7)
	}
	return pcm
}

// TestPlayPacesAgainstAbsoluteDeadlines: each frame's deadline is start + n×20 ms even when
// the timer fires late, so lateness never accumulates (invariant 8).
func TestPlayPacesAgainstAbsoluteDeadlines(t *testing.T) {
	clk := fakeclock.New(t0)
	e := engine(t, clk, 0)
	c, _ := e.NewCall(media.CallOptions{})
	defer c.Close()
	a := newPeer(t)
	if _, err := c.AnswerLocal(media.LegA, a.sdp("0")); err != nil {
		t.Fatal(err)
	}
	prompt := media.NewPrompt("ramp", ramp(5*160))
	done := make(chan media.PlayResult)
	go func() {
		res, err := c.Play(context.Background(), media.LegA, prompt, media.PlayOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// The timer fires late by 5, 0, 9, 1 ms; the schedule must not slip.
	lateness := []time.Duration{5, 0, 9, 1, 0}
	var pkts []rtp.Packet
	now := time.Duration(0)
	for i := 0; i < 5; i++ {
		clk.WaitArmed(1) // frame i sent, timer armed for frame i+1
		pkts = append(pkts, a.recv())
		target := time.Duration(i+1)*20*time.Millisecond + lateness[i]*time.Millisecond
		clk.Advance(target - now)
		now = target
	}
	res := <-done
	if res.Frames != 5 || res.Digit != 0 {
		t.Fatalf("result %+v", res)
	}
	dl := clk.Deadlines()
	if len(dl) != 5 {
		t.Fatalf("%d timers armed, want 5", len(dl))
	}
	for i, d := range dl {
		if want := t0.Add(time.Duration(i+1) * 20 * time.Millisecond); !d.Equal(want) {
			t.Fatalf("frame %d deadline %v, want start+%d×20ms (%v)", i+1, d.Sub(t0), i+1, want.Sub(t0))
		}
	}
	for i, p := range pkts {
		if p.PayloadType != 0 || len(p.Payload) != 160 || (i == 0) != p.Marker {
			t.Fatalf("packet %d: pt %d len %d marker %v", i, p.PayloadType, len(p.Payload), p.Marker)
		}
		if i > 0 && (p.SequenceNumber != pkts[i-1].SequenceNumber+1 || p.Timestamp != pkts[i-1].Timestamp+160 || p.SSRC != pkts[0].SSRC) {
			t.Fatalf("packet %d: seq %d ts %d after %d %d", i, p.SequenceNumber, p.Timestamp, pkts[i-1].SequenceNumber, pkts[i-1].Timestamp)
		}
	}
}

// TestPlayRebasesAfterStall: a pacer 500 ms late sends one frame and re-bases instead of a burst.
func TestPlayRebasesAfterStall(t *testing.T) {
	clk := fakeclock.New(t0)
	e := engine(t, clk, 0)
	c, _ := e.NewCall(media.CallOptions{})
	defer c.Close()
	a := newPeer(t)
	c.AnswerLocal(media.LegA, a.sdp("8"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Play(ctx, media.LegA, media.NewPrompt("m", ramp(160)), media.PlayOptions{Loop: true})
		close(done)
	}()
	clk.WaitArmed(1)
	clk.Advance(500 * time.Millisecond)
	clk.WaitArmed(1)
	dl := clk.Deadlines()
	if got, want := dl[1].Sub(t0), 520*time.Millisecond; got != want {
		t.Fatalf("after a 480 ms stall the next deadline is %v, want %v (now+20ms)", got, want)
	}
	a.recv()
	if p := a.recv(); p.PayloadType != 8 {
		t.Fatalf("pt %d", p.PayloadType)
	}
	cancel()
	<-done
}

// TestPlayLoopAndBargeIn: hold music loops until a DTMF digit from the caller interrupts it.
func TestPlayLoopAndBargeIn(t *testing.T) {
	clk := fakeclock.New(t0)
	e := engine(t, clk, 0)
	c, _ := e.NewCall(media.CallOptions{})
	defer c.Close()
	a := newPeer(t)
	c.AnswerLocal(media.LegA, a.sdp("0 101"))
	music := media.NewPrompt("music", ramp(2*160+80)) // 2.5 frames: the loop wraps mid-frame
	done := make(chan media.PlayResult)
	go func() {
		res, err := c.Play(context.Background(), media.LegA, music, media.PlayOptions{Loop: true, BargeIn: true})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var frames []rtp.Packet
	for i := 0; i < 6; i++ {
		clk.WaitArmed(1)
		frames = append(frames, a.recv())
		clk.Advance(20 * time.Millisecond)
	}
	// Frame 3 starts again at the loop's beginning... after wrap: 2.5 frames = 400 samples, so
	// frame 2 is samples 320..399 then 0..79, and frame 5 starts at sample (5×160)%400 = 0.
	if frames[5].Payload[0] != frames[0].Payload[0] || frames[2].Payload[80] != frames[0].Payload[0] {
		t.Fatal("loop does not wrap to the start")
	}
	// The caller presses 4 (RFC 4733 start packet).
	ev := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Marker: true, SequenceNumber: 1, Timestamp: 1, SSRC: 9}, Payload: []byte{4, 10, 0, 160}}
	b, _ := ev.Marshal()
	a.send(c.LocalAddr(media.LegA), b)
	res := <-done
	if res.Digit != '4' {
		t.Fatalf("barge-in result %+v", res)
	}
	if d := <-c.DTMF(); d.Digit != '4' {
		t.Fatalf("digit also on DTMF(): %+v", d)
	}
}

// TestRTPTimeout: the watchdog, driven by the injected clock, reports a silent leg once, not
// before the timeout, and not for a leg whose peer said it would not send (invariant 9).
func TestRTPTimeout(t *testing.T) {
	clk := fakeclock.New(t0)
	e := engine(t, clk, 4*time.Second) // watchdog every 1 s
	clk.WaitArmed(1)
	timedOut := make(chan media.Leg, 4)
	c, _ := e.NewCall(media.CallOptions{OnTimeout: func(_ *media.Call, l media.Leg) { timedOut <- l }})
	defer c.Close()
	a, b := newPeer(t), newPeer(t)
	c.OfferFromA(a.sdp("0"))
	c.AnswerFromB(b.sdp("0"))
	pkt := func(seq uint16) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, SSRC: 5}, Payload: make([]byte, 160)}
		x, _ := p.Marshal()
		return x
	}
	// At t0+2s both legs send once.
	for i := 0; i < 2; i++ {
		clk.Advance(time.Second)
		clk.WaitArmed(1)
	}
	a.send(c.LocalAddr(media.LegA), pkt(1))
	b.send(c.LocalAddr(media.LegB), pkt(1))
	for st := c.Stats(); st.A.PacketsIn == 0 || st.B.PacketsIn == 0; st = c.Stats() {
		time.Sleep(time.Millisecond) // wait for delivery, not for time to pass
	}
	// Then only A keeps talking, at every watchdog tick.
	for s := 3; s <= 5; s++ {
		clk.Advance(time.Second)
		clk.WaitArmed(1) // the check ran and the watchdog re-armed
		a.send(c.LocalAddr(media.LegA), pkt(uint16(s)))
		for c.Stats().A.PacketsIn != uint64(s-1) {
			time.Sleep(time.Millisecond) // wait for delivery before moving the clock
		}
		select {
		case l := <-timedOut:
			t.Fatalf("timeout on leg %v at t0+%ds: B last sent at t0+2s, timeout is 4s", l, s)
		default:
		}
	}
	clk.Advance(time.Second) // t0+6s: B silent for 4 s
	clk.WaitArmed(1)
	select {
	case l := <-timedOut:
		if l != media.LegB {
			t.Fatalf("timed out leg %v, want B", l)
		}
	default:
		t.Fatal("no timeout after 4 s of silence on B")
	}
	clk.Advance(10 * time.Second)
	clk.WaitArmed(1)
	if len(timedOut) != 0 {
		t.Fatal("OnTimeout fired twice")
	}
}

func TestRTPTimeoutIgnoresInactiveLegs(t *testing.T) {
	clk := fakeclock.New(t0)
	e := engine(t, clk, 4*time.Second)
	clk.WaitArmed(1)
	timedOut := make(chan media.Leg, 4)
	c, _ := e.NewCall(media.CallOptions{OnTimeout: func(_ *media.Call, l media.Leg) { timedOut <- l }})
	defer c.Close()
	a := newPeer(t)
	inactive := append(a.sdp("0"), []byte("a=inactive\r\n")...)
	if _, err := c.AnswerLocal(media.LegA, inactive); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		clk.Advance(time.Second)
		clk.WaitArmed(1)
	}
	if len(timedOut) != 0 {
		t.Fatal("a peer on hold (inactive) sends nothing and must not time out")
	}
}
