package webphone

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/ccswitch/ccswitch/config"
)

func newTestGateway(t *testing.T, cfg *config.Config) *Gateway {
	t.Helper()
	if cfg == nil {
		cfg = &config.Config{}
	}
	if cfg.Media.IP == "" {
		cfg.Media.IP = "127.0.0.1"
	}
	g, err := New(Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.shutdown)
	return g
}

// testBrowser is a pion PeerConnection standing for the browser: it sends what Send gets and
// counts (and keeps the payloads of) what it receives.
type testBrowser struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	got   atomic.Uint64
}

func newTestBrowser(t *testing.T) (*testBrowser, string) {
	t.Helper()
	m := &webrtc.MediaEngine{}
	for _, law := range []Law{PCMU, PCMA} {
		if err := m.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: law.mime(), ClockRate: 8000, Channels: 1}, PayloadType: webrtc.PayloadType(law)}, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	b := &testBrowser{pc: pc}
	if b.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000, Channels: 1}, "mic", "browser"); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(b.track); err != nil {
		t.Fatal(err)
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				b.got.Add(1)
			}
		}()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	return b, pc.LocalDescription().SDP
}

// rtpPeer is a plain RTP socket standing for ccswitch's media engine (or a stranger).
type rtpPeer struct {
	c    *net.UDPConn
	mu   sync.Mutex
	pkts []rtp.Packet
}

func newRTPPeer(t *testing.T, ip string) *rtpPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &rtpPeer{c: c}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			var pk rtp.Packet
			if pk.Unmarshal(append([]byte(nil), buf[:n]...)) == nil {
				p.mu.Lock()
				p.pkts = append(p.pkts, pk)
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *rtpPeer) addr() netip.AddrPort { return p.c.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *rtpPeer) packets() []rtp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]rtp.Packet(nil), p.pkts...)
}

func (p *rtpPeer) send(t *testing.T, to netip.AddrPort, seq uint16) {
	t.Helper()
	pk := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 77}, Payload: make([]byte, 160)}
	b, _ := pk.Marshal()
	if _, err := p.c.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond (bounded; not a timing threshold).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLegMedia proves the media seam's invariants with a pion browser and plain RTP sockets:
// ccswitch's audio reaches the browser and a stranger's does not (invariant 3); the browser's
// audio reaches ccswitch as one stream (one SSRC, sequence +1 per packet, PT of the law); on
// hold ccswitch gets silence and the browser nothing (invariant 4); a keypad digit is RFC 4733
// on the same stream; Close returns (invariant 5).
func TestLegMedia(t *testing.T) {
	g := newTestGateway(t, nil)
	leg, err := g.NewLeg(PCMU)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			leg.Close()
		}
	}()
	ccs := newRTPPeer(t, "127.0.0.1")
	stranger := newRTPPeer(t, "127.0.0.2")
	leg.SetPeer(ccs.addr(), 101)
	b, offer := newTestBrowser(t)
	answer, err := leg.Answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "a=ice-lite") || !strings.Contains(answer, "PCMU/8000") || strings.Contains(answer, "opus") {
		t.Fatalf("answer is not ICE-lite G.711 only:\n%s", answer)
	}
	if err := b.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leg.Connected():
	case <-time.After(15 * time.Second):
		t.Fatal("browser leg did not connect")
	}

	seq := uint16(0)
	eventually(t, "ccswitch's audio reaches the browser", func() bool {
		seq++
		ccs.send(t, leg.LocalRTP(), seq)
		return b.got.Load() >= 5
	})
	for i := range 20 {
		stranger.send(t, leg.LocalRTP(), uint16(i))
	}
	eventually(t, "the stranger's packets counted", func() bool { return leg.Stats().Strangers >= 20 })
	if n := leg.Stats().ToBrowser; n != b.got.Load() && n > b.got.Load()+2 {
		t.Fatalf("leg forwarded %d, browser got %d", n, b.got.Load())
	}

	// The browser speaks: 0x55 payloads (sequence numbers go on: SRTP refuses replays).
	spoken := 0
	speak := func(n int, fill byte) {
		for range n {
			i := spoken
			spoken++
			payload := make([]byte, 160)
			for j := range payload {
				payload[j] = fill
			}
			b.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(1000 + i), Timestamp: uint32(i * 160)}, Payload: payload})
			time.Sleep(5 * time.Millisecond)
		}
	}
	speak(10, 0x55)
	eventually(t, "the browser's audio reaches ccswitch", func() bool { return len(ccs.packets()) >= 10 })

	leg.Hold(true)
	before := b.got.Load()
	speak(10, 0x55)
	for i := range 10 {
		ccs.send(t, leg.LocalRTP(), seq+uint16(i)+1)
	}
	seq += 10
	eventually(t, "held audio reaches ccswitch", func() bool { return len(ccs.packets()) >= 20 })
	if got := b.got.Load(); got != before {
		t.Fatalf("on hold the browser got %d more packets", got-before)
	}
	leg.Hold(false)

	if err := leg.SendDTMF('5'); err != nil {
		t.Fatal(err)
	}
	if err := leg.SendDTMF('x'); err == nil {
		t.Fatal("SendDTMF('x') did not fail")
	}
	eventually(t, "the digit's end packets", func() bool {
		n := 0
		for _, p := range ccs.packets() {
			if p.PayloadType == 101 && p.Payload[1]&0x80 != 0 {
				n++
			}
		}
		return n == 3
	})

	pkts := ccs.packets()
	ssrc := pkts[0].SSRC
	var dtmfTS uint32
	for i, p := range pkts {
		if p.SSRC != ssrc {
			t.Fatalf("packet %d SSRC %d, want one stream %d", i, p.SSRC, ssrc)
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d seq %d after %d: not +1", i, p.SequenceNumber, pkts[i-1].SequenceNumber)
		}
		switch {
		case p.PayloadType == 101:
			if p.Payload[0] != 5 {
				t.Fatalf("digit event %d, want 5", p.Payload[0])
			}
			if dtmfTS == 0 {
				dtmfTS = p.Timestamp
			} else if p.Timestamp != dtmfTS {
				t.Fatalf("digit packets with timestamps %d and %d", dtmfTS, p.Timestamp)
			}
		case p.PayloadType != 0:
			t.Fatalf("packet %d PT %d, want PCMU", i, p.PayloadType)
		case i < 10 && p.Payload[0] != 0x55:
			t.Fatalf("packet %d payload %#x, want the browser's 0x55", i, p.Payload[0])
		case i >= 10 && i < 20 && p.Payload[0] != 0xFF:
			t.Fatalf("held packet %d payload %#x, want PCMU silence", i, p.Payload[0])
		}
	}
	done := make(chan struct{})
	go func() { leg.Close(); close(done) }()
	select {
	case <-done:
		closed = true
	case <-time.After(15 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestLineFrames: what a desktop sends that the line cannot act on gets an answer, never a
// panic: a bad frame, a frame about a call that is gone, a connect by an agent without an
// extension, an unknown type.
func TestLineFrames(t *testing.T) {
	cfg := &config.Config{Agents: []config.Agent{{ID: "a", Device: "browser"}}}
	g := newTestGateway(t, cfg)
	var mu sync.Mutex
	var got []Message
	handle, closeLine := g.Line("a", func(b []byte) error {
		var m Message
		json.Unmarshal(b, &m)
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		return nil
	})
	defer closeLine()
	last := func() Message {
		mu.Lock()
		defer mu.Unlock()
		return got[len(got)-1]
	}
	if m := last(); m.Type != "phone.config" || m.Device != "browser" {
		t.Fatalf("first frame %+v, want phone.config with the agent's device", m)
	}
	cases := []struct {
		frame string
		want  Message
	}{
		{`not json`, Message{Type: "phone.state", State: "error", Error: "bad frame"}},
		{`{"type":"phone.hangup","call":"nope"}`, Message{Type: "phone.ended", Call: "nope", Reason: "gone"}},
		{`{"type":"phone.answer","call":"nope","sdp":"v=0"}`, Message{Type: "phone.ended", Call: "nope", Reason: "gone"}},
		{`{"type":"phone.connect"}`, Message{Type: "phone.state", State: "error", Error: ErrNoExtension.Error()}},
		{`{"type":"phone.dial","number":"+15550199","sdp":"v=0"}`, Message{Type: "phone.ended", Reason: "not-registered"}},
		{`{"type":"phone.shout"}`, Message{Type: "phone.state", State: "error", Error: "unknown frame"}},
	}
	for _, tc := range cases {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		handle([]byte(tc.frame))
		eventually(t, "an answer to "+tc.frame, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) > n
		})
		if m := last(); m != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.frame, m, tc.want)
		}
	}
}
