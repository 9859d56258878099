package media

import (
	"errors"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// Distinct tones per party (a DTMF row and two columns: far apart for Goertzel).
const (
	toneCustomer   = 1209.0
	toneAgent      = 1477.0
	toneSupervisor = 697.0
)

// talker is a test phone that sends a continuous tone every 20 ms to ccswitch and keeps the
// decoded audio it receives.
type talker struct {
	*phone
	codec Codec
	pt    uint8
	hz    float64
	dst   netip.AddrPort

	mu  sync.Mutex
	got []int16
}

func newTalker(t *testing.T, codec Codec, hz float64) *talker {
	pt := uint8(0)
	if codec == PCMA {
		pt = 8
	}
	return &talker{phone: newPhone(t), codec: codec, pt: pt, hz: hz}
}

func (k *talker) fmts() string { return map[Codec]string{PCMU: "0", PCMA: "8"}[k.codec] }

// run sends the tone and reads until stop closes; wg counts it.
func (k *talker) run(stop <-chan struct{}, wg *sync.WaitGroup) {
	wg.Add(2)
	go func() { // sender
		defer wg.Done()
		// A phone's clock: frame n leaves at start + n×20 ms; a late sender catches up (a
		// time.Ticker would drop ticks and send fewer than 50 packets a second).
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		pcm := make([]int16, frameSamples)
		buf := make([]byte, frameSamples)
		start := time.Now()
		for n := 0; ; {
			for ; time.Duration(n)*frameDur <= time.Since(start); n++ {
				for i := range pcm {
					pcm[i] = int16(6000 * math.Sin(2*math.Pi*k.hz*float64(n*frameSamples+i)/8000))
				}
				pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: k.pt, SequenceNumber: uint16(n), Timestamp: uint32(n * frameSamples), SSRC: 0x5eed}, Payload: encode(buf, pcm, k.codec)}
				b, _ := pkt.Marshal()
				k.conn.WriteToUDPAddrPort(b, k.dst)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	go func() { // receiver
		defer wg.Done()
		buf := make([]byte, 1500)
		pcm := make([]int16, 480)
		for {
			select {
			case <-stop:
				return
			default:
			}
			k.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := k.conn.Read(buf)
			if err != nil {
				continue
			}
			var pkt rtp.Packet
			if pkt.Unmarshal(buf[:n]) != nil || pkt.PayloadType != k.pt {
				continue
			}
			d := decode(pcm, pkt.Payload, k.codec)
			k.mu.Lock()
			k.got = append(k.got, d...)
			k.mu.Unlock()
		}
	}()
}

// mark forgets what was received so far (after a mode change).
func (k *talker) mark() {
	k.mu.Lock()
	k.got = nil
	k.mu.Unlock()
}

// hears returns the share of the received audio's energy at hz, over what came after mark
// minus its first 200 ms (frames mixed before the change may still be on their way).
func (k *talker) hears(hz float64) float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.got) < 1600+1600 {
		return -1
	}
	return ToneLevel(k.got[1600:], hz)
}

// received waits until the talker has at least n samples after mark (hang guard 5 s).
func (k *talker) received(t *testing.T, n int) {
	t.Helper()
	waitFor(t, "audio at a phone", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.got) >= n
	})
}

// monitored builds a bridged call customer(A, PCMU) ↔ agent(B, PCMA) and a supervisor's call
// answered by ccswitch (PCMU), with a talker on each.
func monitored(t *testing.T, e *Engine) (target, sup *Call, cust, agent, boss *talker) {
	t.Helper()
	cust, agent, boss = newTalker(t, PCMU, toneCustomer), newTalker(t, PCMA, toneAgent), newTalker(t, PCMU, toneSupervisor)
	var err error
	if target, err = e.NewCall(CallOptions{ID: "target"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	if _, err := target.OfferFromA(cust.sdp(1, cust.fmts(), "")); err != nil {
		t.Fatal(err)
	}
	if _, err := target.AnswerFromB(agent.sdp(1, agent.fmts(), "")); err != nil {
		t.Fatal(err)
	}
	if sup, err = e.NewCall(CallOptions{ID: "supervisor"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sup.Close() })
	if _, err := sup.AnswerLocal(LegA, boss.sdp(1, boss.fmts(), "")); err != nil {
		t.Fatal(err)
	}
	cust.dst, agent.dst, boss.dst = target.LocalAddr(LegA), target.LocalAddr(LegB), sup.LocalAddr(LegA)
	return target, sup, cust, agent, boss
}

// expectHearing checks, for each phone, which of the three tones it hears (level > 0.15) and
// which it must not (level < 0.02).
func expectHearing(t *testing.T, mode string, phones map[string]*talker, want map[string][]string) {
	t.Helper()
	tones := map[string]float64{"customer": toneCustomer, "agent": toneAgent, "supervisor": toneSupervisor}
	for _, k := range phones {
		k.mark()
	}
	for _, k := range phones {
		k.received(t, 1600+4000) // 200 ms settling + 500 ms analysed
	}
	for listener, k := range phones {
		heard := map[string]bool{}
		for _, s := range want[listener] {
			heard[s] = true
		}
		for speaker, hz := range tones {
			if speaker == listener {
				continue
			}
			lv := k.hears(hz)
			switch {
			case heard[speaker] && lv < 0.15:
				t.Errorf("%s: the %s does not hear the %s (level %.3f)", mode, listener, speaker, lv)
			case !heard[speaker] && lv > 0.02:
				t.Errorf("%s: the %s hears the %s (level %.3f), must not", mode, listener, speaker, lv)
			}
		}
		if lv := k.hears(tones[listener]); lv > 0.02 {
			t.Errorf("%s: the %s hears their own voice (level %.3f)", mode, listener, lv)
		}
	}
}

// TestMonitorModes: with distinct tones from customer, agent and supervisor, each phone hears
// exactly what the mode says (invariant 11); switching modes mid-call and leaving give the
// call back its plain relay.
func TestMonitorModes(t *testing.T) {
	e := newTestEngine(t, Config{})
	target, sup, cust, agent, boss := monitored(t, e)
	phones := map[string]*talker{"customer": cust, "agent": agent, "supervisor": boss}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, k := range phones {
		k.run(stop, &wg)
	}
	defer func() { close(stop); wg.Wait() }()

	pair := map[string]*talker{"customer": cust, "agent": agent} // the supervisor's call has no relay
	expectHearing(t, "bridged", pair, map[string][]string{"customer": {"agent"}, "agent": {"customer"}})
	m, err := target.Monitor(LegB, sup, LegA, Listen)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode MonitorMode
		want map[string][]string
	}{
		{Listen, map[string][]string{"customer": {"agent"}, "agent": {"customer"}, "supervisor": {"customer", "agent"}}},
		{Whisper, map[string][]string{"customer": {"agent"}, "agent": {"customer", "supervisor"}, "supervisor": {"customer", "agent"}}},
		{Barge, map[string][]string{"customer": {"agent", "supervisor"}, "agent": {"customer", "supervisor"}, "supervisor": {"customer", "agent"}}},
		{Listen, map[string][]string{"customer": {"agent"}, "agent": {"customer"}, "supervisor": {"customer", "agent"}}},
	} {
		if err := m.SetMode(tc.mode); err != nil {
			t.Fatal(err)
		}
		expectHearing(t, tc.mode.String(), phones, tc.want)
	}
	if _, err := target.Monitor(LegB, sup, LegA, Barge); !errors.Is(err, ErrMonitored) {
		t.Fatalf("a second monitor on the call: %v, want ErrMonitored", err)
	}
	m.SetMode(Barge)
	m.Close()
	m.Close()
	expectHearing(t, "after leaving", pair, map[string][]string{"customer": {"agent"}, "agent": {"customer"}})
	if m.Frames() == 0 {
		t.Fatal("no mixed frame counted")
	}
	if _, err := target.Monitor(LegB, sup, LegA, Listen); err != nil {
		t.Fatalf("monitor again after leaving: %v", err)
	}
}

// TestMonitorEndsWithEitherCall: closing either call ends the monitor (Done) and Close of the
// call returns (the mixer's goroutine is counted in both calls, invariant 1).
func TestMonitorEndsWithEitherCall(t *testing.T) {
	for _, which := range []string{"target", "supervisor"} {
		t.Run(which, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			target, sup, _, _, _ := monitored(t, e)
			m, err := target.Monitor(LegB, sup, LegA, Barge)
			if err != nil {
				t.Fatal(err)
			}
			if which == "target" {
				target.Close()
			} else {
				sup.Close()
			}
			select {
			case <-m.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("monitor did not end with the call")
			}
			m.Close()
		})
	}
}

// TestMonitorRefusals: bad mode, an unbridged call, a closed supervisor call, itself.
func TestMonitorRefusals(t *testing.T) {
	e := newTestEngine(t, Config{})
	target, sup, _, _, _ := monitored(t, e)
	if _, err := target.Monitor(LegB, sup, LegA, 0); !errors.Is(err, ErrBadMode) {
		t.Errorf("mode 0: %v", err)
	}
	if _, err := target.Monitor(LegB, target, LegA, Listen); err == nil {
		t.Error("a call monitoring itself was accepted")
	}
	if _, err := sup.Monitor(LegB, target, LegA, Listen); !errors.Is(err, ErrNoLeg) {
		t.Errorf("monitoring a call with one leg: %v, want ErrNoLeg", err)
	}
	other, _ := e.NewCall(CallOptions{})
	other.Close()
	if _, err := target.Monitor(LegB, other, LegA, Listen); !errors.Is(err, ErrClosed) {
		t.Errorf("closed supervisor call: %v, want ErrClosed", err)
	}
	// The failed attempts left the call free.
	m, err := target.Monitor(LegB, sup, LegA, Whisper)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	for _, s := range []string{"listen", "whisper", "barge"} {
		if m, err := ParseMonitorMode(s); err != nil || m.String() != s {
			t.Errorf("ParseMonitorMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMonitorMode("spy"); !errors.Is(err, ErrBadMode) {
		t.Errorf("ParseMonitorMode(spy): %v", err)
	}
}

// TestMixerNoAllocation: the input path (per packet) and the mix of a tick (per 20 ms) do
// not allocate (invariant 4, invariant 11).
func TestMixerNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	e := newTestEngine(t, Config{})
	target, sup, _, _, _ := monitored(t, e)
	m, err := target.Monitor(LegB, sup, LegA, Barge)
	if err != nil {
		t.Fatal(err)
	}
	m.Close() // its goroutine ended: the test calls tick alone
	payload := payloadOf(0x55, frameSamples)
	var in mixInput
	if n := testing.AllocsPerRun(100, func() { in.push(payload, PCMU) }); n != 0 {
		t.Errorf("push allocates %.1f per packet", n)
	}
	var pcm [mixParties][frameSamples]int16
	var mix [frameSamples]int16
	if n := testing.AllocsPerRun(100, func() { m.tick(e.clock.Now().UnixNano(), &pcm, &mix) }); n != 0 {
		t.Errorf("a mixer tick allocates %.1f", n)
	}
}

// TestHearsIn is the monitoring semantics as a table: nobody hears themselves, the customer
// hears the supervisor only in barge, the supervisor always hears both.
func TestHearsIn(t *testing.T) {
	for _, m := range []MonitorMode{Listen, Whisper, Barge} {
		h := hearsIn(m)
		for i := range h {
			if h[i]&(1<<i) != 0 {
				t.Errorf("%v: party %d hears itself", m, i)
			}
		}
		if got := h[partyCustomer]&(1<<partySupervisor) != 0; got != (m == Barge) {
			t.Errorf("%v: customer hears supervisor = %v", m, got)
		}
		if got := h[partyAgent]&(1<<partySupervisor) != 0; got != (m != Listen) {
			t.Errorf("%v: agent hears supervisor = %v", m, got)
		}
		if h[partySupervisor] != 1<<partyCustomer|1<<partyAgent {
			t.Errorf("%v: supervisor hears %b", m, h[partySupervisor])
		}
	}
}

// BenchmarkMonitorTick is the mixer's work per 20 ms for one monitored call in barge (three
// inputs decoded, three mixes encoded and sent over loopback UDP): the CPU a supervisor costs
// is this per 20 ms.
func BenchmarkMonitorTick(b *testing.B) {
	e, err := New(Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 39000, PortMax: 39099, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var sinks []*net.UDPConn
	sdp := func() []byte {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		sinks = append(sinks, c)
		return phoneSDP(c.LocalAddr().(*net.UDPAddr).Port, 1, "0", "")
	}
	defer func() {
		for _, c := range sinks {
			c.Close()
		}
	}()
	target, _ := e.NewCall(CallOptions{})
	sup, _ := e.NewCall(CallOptions{})
	target.OfferFromA(sdp())
	target.AnswerFromB(sdp())
	sup.AnswerLocal(LegA, sdp())
	m, err := target.Monitor(LegB, sup, LegA, Barge)
	if err != nil {
		b.Fatal(err)
	}
	m.Close() // the benchmark ticks itself
	payload := payloadOf(0x55, frameSamples)
	var pcm [mixParties][frameSamples]int16
	var mix [frameSamples]int16
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range m.parties {
			p.in.push(payload, PCMU)
		}
		m.tick(e.clock.Now().UnixNano(), &pcm, &mix)
	}
}

// TestMonitorSRTPSupervisor: the supervisor's leg is SRTP (SDES) and the monitored call plain
// RTP: the mix reaches the supervisor encrypted with ccswitch's key for that leg, and holds both
// sides' tones; what the supervisor sends (encrypted) is mixed to the agent in whisper.
func TestMonitorSRTPSupervisor(t *testing.T) {
	e := newTestEngine(t, Config{})
	target, _, cust, agent, _ := monitored(t, e)
	sup, err := e.NewCall(CallOptions{ID: "srtp supervisor"})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	boss := newPhone(t)
	ans, err := sup.AnswerLocal(LegA, boss.sdp(1, "0", "", "proto=RTP/SAVP", boss.useSRTP(suite80)))
	if err != nil {
		t.Fatal(err)
	}
	boss.takeKey(ans)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cust.run(stop, &wg)
	agent.run(stop, &wg)
	defer func() { close(stop); wg.Wait() }()
	m, err := target.Monitor(LegB, sup, LegA, Whisper)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var heard []int16
	pcm := make([]int16, frameSamples)
	tone := make([]int16, frameSamples)
	n := 0
	// The supervisor talks one frame per frame of mix it receives (paced by the mixer).
	talk := func() {
		for i := range tone {
			tone[i] = int16(6000 * math.Sin(2*math.Pi*toneSupervisor*float64(n*frameSamples+i)/8000))
		}
		n++
		boss.send(sup.LocalAddr(LegA), 0, encode(make([]byte, frameSamples), tone, PCMU)) // encrypted by the phone
		p, _ := boss.recv()                                                               // decrypted with ccswitch's key, or the test fails
		if p.PayloadType == 0 {
			heard = append(heard, decode(pcm, p.Payload, PCMU)...)
		}
	}
	for len(heard) < 40*frameSamples {
		talk()
	}
	for _, c := range []struct {
		who string
		hz  float64
	}{{"customer", toneCustomer}, {"agent", toneAgent}} {
		if lv := ToneLevel(heard[10*frameSamples:], c.hz); lv < 0.15 {
			t.Errorf("the SRTP supervisor hears the %s at level %.3f", c.who, lv)
		}
	}
	agent.mark()
	for k := 0; ; k++ {
		agent.mu.Lock()
		got := len(agent.got)
		agent.mu.Unlock()
		if got >= 1600+4000 {
			break
		}
		if k > 500 {
			t.Fatal("the agent hears nothing")
		}
		talk()
	}
	if lv := agent.hears(toneSupervisor); lv < 0.15 {
		t.Errorf("the agent hears the SRTP supervisor's whisper at level %.3f", lv)
	}
}

// TestMixInputJitter: an input plays out once its target is queued, deepens the target by a
// frame after each underrun (up to mixMaxPrime) and cuts a pile-up back to the target.
func TestMixInputJitter(t *testing.T) {
	var in mixInput
	var dst [frameSamples]int16
	frame := payloadOf(0x20, frameSamples) // µ-law 0x20: a loud negative sample
	push := func(n int) {
		for range n {
			in.push(frame, PCMU)
		}
	}
	pulls := func(want ...bool) {
		t.Helper()
		for i, w := range want {
			if got := in.pull(&dst); got != w {
				t.Fatalf("pull %d: %v, want %v (queued %d, target %d)", i, got, w, in.w-in.r, in.target)
			}
			if got := dst[0] != 0; got != w {
				t.Fatalf("pull %d: sample %d, want audio %v", i, dst[0], w)
			}
		}
	}
	push(2)
	pulls(false) // 2 frames < target 3
	push(1)
	pulls(true, true, true)
	pulls(false) // ran dry: target 4
	if in.under != 1 || in.target != 4*frameSamples {
		t.Fatalf("after an underrun: under %d target %d", in.under, in.target)
	}
	push(3)
	pulls(false) // 3 < 4
	push(1)
	pulls(true)
	for range 10 { // each underrun deepens, up to mixMaxPrime
		push(int(in.target/frameSamples) + 1)
		for in.pull(&dst) {
		}
	}
	if in.target != mixMaxPrime {
		t.Fatalf("target %d after many underruns, want %d", in.target, mixMaxPrime)
	}
	push(15) // a burst: more than target + slack queued
	pulls(true)
	if q := in.w - in.r; q != mixMaxPrime-frameSamples {
		t.Fatalf("after a burst %d samples queued, want the target %d minus the frame played", q, mixMaxPrime-frameSamples)
	}
}
