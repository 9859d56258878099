package webphone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Law is a G.711 law: its static RTP payload type (0 PCMU, 8 PCMA).
type Law uint8

// The two laws.
const (
	PCMU Law = 0
	PCMA Law = 8
)

func (l Law) mime() string {
	if l == PCMA {
		return webrtc.MimeTypePCMA
	}
	return webrtc.MimeTypePCMU
}

func (l Law) name() string {
	if l == PCMA {
		return "PCMA"
	}
	return "PCMU"
}

// silence is the law's encoding of a zero sample.
func (l Law) silence() byte {
	if l == PCMA {
		return 0xD5
	}
	return 0xFF
}

// LegStats counts a Leg's packets.
type LegStats struct {
	FromBrowser uint64 // RTP packets from the browser, sent on to ccswitch
	ToBrowser   uint64 // RTP packets from ccswitch, sent on to the browser
	Strangers   uint64 // RTP packets on the socket from another address, dropped
}

// Leg is one browser's media: a PeerConnection joined to a plain RTP socket (see doc.go, "The
// media seam"). Its methods are safe for concurrent use.
type Leg struct {
	law   Law
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticRTP
	conn  *net.UDPConn
	local netip.AddrPort // the socket's address, named in the SIP side's SDP

	peer   atomic.Pointer[netip.AddrPort] // ccswitch's RTP address for this leg
	dtmfPT atomic.Int32                   // ccswitch's telephone-event payload type, -1 none
	hold   atomic.Bool

	outMu   sync.Mutex // guards the outgoing stream toward ccswitch
	ssrc    uint32
	seq     uint16
	tsOff   uint32 // our timestamp minus the browser's
	lastTS  uint32 // last timestamp sent
	started bool
	dtmfEnd time.Time // digits pause the browser's audio until then
	outBuf  []byte

	connected chan struct{}
	failed    chan struct{}
	onceConn  sync.Once
	onceFail  sync.Once
	wg        sync.WaitGroup
	closeOnce sync.Once

	fromBrowser, toBrowser, strangers atomic.Uint64
}

// newLeg opens the RTP socket on ip and a PeerConnection that takes only law.
func (g *Gateway) newLeg(law Law) (*Leg, error) {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(g.rtpIP, 0)))
	if err != nil {
		return nil, fmt.Errorf("webphone: rtp socket: %w", err)
	}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: law.mime(), ClockRate: 8000, Channels: 1},
		PayloadType:        webrtc.PayloadType(law),
	}, webrtc.RTPCodecTypeAudio); err != nil {
		conn.Close()
		return nil, err
	}
	// No interceptors: no NACK, no reports, nothing per packet beyond SRTP.
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(g.se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("webphone: peer connection: %w", err)
	}
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: law.mime(), ClockRate: 8000, Channels: 1}, "audio", "ccswitch")
	if err != nil {
		pc.Close()
		conn.Close()
		return nil, err
	}
	l := &Leg{law: law, pc: pc, track: track, conn: conn, ssrc: rand.Uint32(), seq: uint16(rand.Uint32()),
		local: conn.LocalAddr().(*net.UDPAddr).AddrPort(), connected: make(chan struct{}), failed: make(chan struct{}),
		outBuf: make([]byte, 1500)}
	l.dtmfPT.Store(-1)
	if _, err := pc.AddTrack(track); err != nil {
		l.Close()
		return nil, err
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			l.onceConn.Do(func() { close(l.connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			l.onceFail.Do(func() { close(l.failed) })
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if tr.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		l.wg.Add(1)
		go l.fromBrowserPump(tr)
	})
	l.wg.Add(1)
	go l.toBrowserPump()
	return l, nil
}

// Answer takes the browser's SDP offer and returns the answer (ICE-lite, every candidate
// gathered: the browser needs no trickle).
func (l *Leg) Answer(offer string) (string, error) {
	if err := l.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("webphone: browser offer: %w", err)
	}
	ans, err := l.pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("webphone: answer: %w", err)
	}
	done := webrtc.GatheringCompletePromise(l.pc)
	if err := l.pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("webphone: answer: %w", err)
	}
	<-done
	return l.pc.LocalDescription().SDP, nil
}

// Connected is closed once ICE and DTLS are up; Failed once the PeerConnection failed or closed.
func (l *Leg) Connected() <-chan struct{} { return l.connected }

// Failed is closed when the browser's media is gone.
func (l *Leg) Failed() <-chan struct{} { return l.failed }

// LocalRTP is the plain RTP address ccswitch's media engine sends this leg's audio to.
func (l *Leg) LocalRTP() netip.AddrPort { return l.local }

// Law is the G.711 law of both sides.
func (l *Leg) Law() Law { return l.law }

// SetPeer points the leg at ccswitch's RTP address, with its telephone-event type (-1: none).
func (l *Leg) SetPeer(addr netip.AddrPort, dtmfPT int) {
	l.peer.Store(&addr)
	l.dtmfPT.Store(int32(dtmfPT))
}

// Hold stops the browser's audio (silence is sent instead) and what goes to it (invariant 4).
func (l *Leg) Hold(on bool) { l.hold.Store(on) }

// Stats reads the leg's counters.
func (l *Leg) Stats() LegStats {
	return LegStats{FromBrowser: l.fromBrowser.Load(), ToBrowser: l.toBrowser.Load(), Strangers: l.strangers.Load()}
}

// fromBrowserPump sends the browser's audio on to ccswitch, as one stream (invariant 3).
func (l *Leg) fromBrowserPump(tr *webrtc.TrackRemote) {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	var p rtp.Packet
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		if l.hold.Load() {
			for i := range p.Payload {
				p.Payload[i] = l.law.silence()
			}
		}
		l.send(&p)
	}
}

// send writes one audio packet of the browser toward ccswitch, renumbered into our stream.
func (l *Leg) send(p *rtp.Packet) {
	peer := l.peer.Load()
	if peer == nil {
		return
	}
	l.outMu.Lock()
	defer l.outMu.Unlock()
	if time.Now().Before(l.dtmfEnd) {
		return // a digit is being sent; its packets carry the time
	}
	if !l.started {
		l.started = true
		l.tsOff = rand.Uint32() - p.Timestamp
	}
	l.seq++
	ts := p.Timestamp + l.tsOff
	out := rtp.Packet{Header: rtp.Header{Version: 2, Marker: p.Marker, PayloadType: uint8(l.law), SequenceNumber: l.seq,
		Timestamp: ts, SSRC: l.ssrc}, Payload: p.Payload}
	n, err := out.MarshalTo(l.outBuf)
	if err != nil {
		return
	}
	l.lastTS = ts
	if _, err := l.conn.WriteToUDPAddrPort(l.outBuf[:n], *peer); err == nil {
		l.fromBrowser.Add(1)
	}
}

// dtmfDigits maps a key to its RFC 4733 event code.
var dtmfDigits = map[byte]byte{'0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7, '8': 8, '9': 9, '*': 10, '#': 11,
	'A': 12, 'B': 13, 'C': 14, 'D': 15}

// SendDTMF sends digit as RFC 4733 events toward ccswitch: 100 ms of tone, the end packet three
// times (the browser's audio pauses meanwhile). It returns once the packets are sent.
func (l *Leg) SendDTMF(digit byte) error {
	code, ok := dtmfDigits[digit]
	if !ok {
		return fmt.Errorf("webphone: %q is not a DTMF digit", digit)
	}
	pt := l.dtmfPT.Load()
	peer := l.peer.Load()
	if pt < 0 || peer == nil {
		return errors.New("webphone: the call negotiated no telephone-event")
	}
	const frames = 5 // 5 × 20 ms
	l.outMu.Lock()
	l.dtmfEnd = time.Now().Add(frames*20*time.Millisecond + 80*time.Millisecond)
	if !l.started {
		l.started = true
		l.lastTS = rand.Uint32()
		l.tsOff = l.lastTS
	}
	ts := l.lastTS + 160
	l.lastTS = ts + frames*160
	l.tsOff += frames*160 + 160 // later audio goes on after the digit
	l.outMu.Unlock()
	for i := 1; i <= frames+3; i++ {
		end := i > frames
		dur := uint16(min(i, frames) * 160)
		payload := []byte{code, 10, byte(dur >> 8), byte(dur)}
		if end {
			payload[1] |= 0x80
		}
		l.outMu.Lock()
		l.seq++
		out := rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == 1, PayloadType: uint8(pt), SequenceNumber: l.seq,
			Timestamp: ts, SSRC: l.ssrc}, Payload: payload}
		if n, err := out.MarshalTo(l.outBuf); err == nil {
			l.conn.WriteToUDPAddrPort(l.outBuf[:n], *peer)
		}
		l.outMu.Unlock()
		if i < frames {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// toBrowserPump sends ccswitch's audio on to the browser; digits and strangers stay behind.
func (l *Leg) toBrowserPump() {
	defer l.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		peer := l.peer.Load()
		if peer == nil || from.Addr().Unmap() != peer.Addr().Unmap() {
			l.strangers.Add(1)
			continue
		}
		if n < 12 || l.hold.Load() {
			continue
		}
		if int32(buf[1]&0x7f) == l.dtmfPT.Load() {
			continue
		}
		if _, err := l.track.Write(buf[:n]); err == nil {
			l.toBrowser.Add(1)
		}
	}
}

// Close ends the leg (invariant 5).
func (l *Leg) Close() {
	l.closeOnce.Do(func() {
		l.pc.Close()
		l.conn.Close()
		l.wg.Wait()
	})
}

// NewLeg opens a browser leg that takes law, for callers that do their own signalling (the
// bench; a future SIP-less bridge): Answer the browser's offer, put SDP in the RTP side's
// offer/answer and SetPeer to the RTP side's address. Close it when done.
func (g *Gateway) NewLeg(law Law) (*Leg, error) { return g.newLeg(law) }

// SDP is the leg's SDP toward the RTP side (media.Call): its socket, its law, telephone-event
// with dtmfPT when ≥ 0, direction dir ("sendrecv"...). session and version fill o=.
func (l *Leg) SDP(session, version uint64, dtmfPT int, dir string) []byte {
	return sipSDP(l.local, session, version, l.law, dtmfPT, dir)
}
