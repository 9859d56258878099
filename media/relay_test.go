package media

import (
	"net/netip"
	"testing"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

func TestRelayBothWays(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, b := anchored(t, e, "0 101", "0 101")
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)
	for i := 0; i < 10; i++ {
		a.send(toA, 0, payloadOf(byte(i), 160))
		b.send(toB, 0, payloadOf(byte(100+i), 160))
	}
	var ssrcB, ssrcA uint32
	for i := 0; i < 10; i++ {
		pb, fromB := b.recv()
		pa, fromA := a.recv()
		if fromB != toB || fromA != toA {
			t.Fatalf("packets must come from ccswitch's leg sockets (symmetric RTP): %v %v", fromB, fromA)
		}
		if pb.Payload[0] != byte(i) || pa.Payload[0] != byte(100+i) || pb.PayloadType != 0 || pa.PayloadType != 0 {
			t.Fatalf("packet %d: B got %d/pt%d, A got %d/pt%d", i, pb.Payload[0], pb.PayloadType, pa.Payload[0], pa.PayloadType)
		}
		if i == 0 {
			ssrcB, ssrcA = pb.SSRC, pa.SSRC
		} else if pb.SSRC != ssrcB || pa.SSRC != ssrcA {
			t.Fatal("SSRC changed within a stream")
		}
	}
	st := c.Stats()
	if st.A.PacketsIn != 10 || st.B.PacketsIn != 10 || st.A.PacketsOut != 10 || st.B.PacketsOut != 10 || st.A.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.A.BytesIn != 10*172 {
		t.Fatalf("bytes in %d", st.A.BytesIn)
	}
}

func TestRelayLatchesToSourceAddress(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	sdpAddr := newPhone(t) // what A's SDP says (a phone behind NAT advertises its private port)
	real := newPhone(t)    // where A's packets really come from
	b := newPhone(t)
	c.OfferFromA(sdpAddr.sdp(1, "0", ""))
	c.AnswerFromB(b.sdp(1, "0", ""))
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)

	// Before A sends anything, B's audio goes to A's SDP address.
	b.send(toB, 0, payloadOf(1, 160))
	if p, _ := sdpAddr.recv(); p.Payload[0] != 1 {
		t.Fatal("first packet not at SDP address")
	}
	// A's first packet comes from another port: ccswitch latches to it.
	real.send(toA, 0, payloadOf(9, 160))
	if p, _ := b.recv(); p.Payload[0] != 9 {
		t.Fatal("A→B not relayed")
	}
	b.send(toB, 0, payloadOf(2, 160))
	if p, _ := real.recv(); p.Payload[0] != 2 {
		t.Fatal("after latching, B→A must go to A's source address")
	}
	// A third party sending to A's port while A is alive is ignored.
	intruder := newPhone(t)
	intruder.send(toA, 0, payloadOf(66, 160))
	real.send(toA, 0, payloadOf(10, 160))
	if p, _ := b.recv(); p.Payload[0] != 10 {
		t.Fatalf("intruder's packet relayed (payload %d)", p.Payload[0])
	}
	b.send(toB, 0, payloadOf(3, 160))
	if p, _ := real.recv(); p.Payload[0] != 3 {
		t.Fatal("latch moved to the intruder")
	}
}

func TestRelayContinuityAcrossReinvite(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, b := anchored(t, e, "0", "0")
	toB := c.LocalAddr(LegB)
	var got []rtp.Packet
	for i := 0; i < 5; i++ {
		b.send(toB, 0, payloadOf(byte(i), 160))
		p, _ := a.recv()
		got = append(got, p)
	}
	// B re-INVITEs (e.g. after a transfer on its side): new SSRC, sequence and timestamp base.
	if _, err := c.OfferFrom(LegB, b.sdp(2, "0", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnswerFrom(LegA, a.sdp(2, "0", "")); err != nil {
		t.Fatal(err)
	}
	b.ssrc, b.seq, b.ts = 0xdeadbeef, 60000, 123
	for i := 5; i < 10; i++ {
		b.send(toB, 0, payloadOf(byte(i), 160))
		p, _ := a.recv()
		got = append(got, p)
	}
	for i := 1; i < len(got); i++ {
		prev, p := got[i-1], got[i]
		if p.SSRC != got[0].SSRC {
			t.Fatalf("packet %d: SSRC %x, want %x for the whole call", i, p.SSRC, got[0].SSRC)
		}
		if p.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, p.SequenceNumber, prev.SequenceNumber)
		}
		if d := p.Timestamp - prev.Timestamp; d < 160 || d > 8000*5 {
			t.Fatalf("packet %d: timestamp step %d, want ≥ one frame and not a jump", i, d)
		}
		if p.Payload[0] != byte(i) {
			t.Fatalf("packet %d payload %d", i, p.Payload[0])
		}
	}
	if !got[5].Marker {
		t.Fatal("the first packet of the new source must carry the marker bit")
	}
}

func TestTranscodingPCMUToPCMA(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, b := anchored(t, e, "0", "8")
	if c.Codec(LegA) != PCMU || c.Codec(LegB) != PCMA {
		t.Fatalf("codecs %v %v", c.Codec(LegA), c.Codec(LegB))
	}
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)
	// A sends every µ-law code once (two packets of 128 bytes).
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	a.send(toA, 0, all[:128])
	a.send(toA, 0, all[128:])
	var atB []byte
	for i := 0; i < 2; i++ {
		p, _ := b.recv()
		if p.PayloadType != 8 {
			t.Fatalf("B negotiated PCMA: payload type %d", p.PayloadType)
		}
		atB = append(atB, p.Payload...)
	}
	want := g711.Ulaw2Alaw(all)
	for i := range want {
		if atB[i] != want[i] {
			t.Fatalf("µ-law %#x → A-law %#x, want %#x", i, atB[i], want[i])
		}
		// And the sound is the same: decoded values within one A-law step.
		u, al := int(g711.DecodeUlawFrame(byte(i))), int(g711.DecodeAlawFrame(atB[i]))
		if d := abs(u - al); d > abs(u)/10+64 {
			t.Fatalf("µ %#x: %d vs A %d", i, u, al)
		}
	}
	// And back: B's A-law reaches A as µ-law.
	b.send(toB, 8, []byte{0xD5, 0x55, 0x2A})
	p, _ := a.recv()
	if p.PayloadType != 0 || p.Payload[0] != g711.Alaw2UlawFrame(0xD5) || p.Payload[2] != g711.Alaw2UlawFrame(0x2A) {
		t.Fatalf("B→A: pt %d payload %x", p.PayloadType, p.Payload)
	}
}

func TestTelephoneEventRenumbered(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b := newPhone(t), newPhone(t)
	c.OfferFromA(a.sdp(1, "0 101", ""))
	// B answers telephone-event as 96 (it renumbered the dynamic type).
	if _, err := c.AnswerFromB(b.sdp(1, "0 96", "")); err != nil {
		t.Fatal(err)
	}
	a.send(c.LocalAddr(LegA), 101, []byte{5, 0x0a, 0, 160})
	p, _ := b.recv()
	if p.PayloadType != 96 || p.Payload[0] != 5 {
		t.Fatalf("event to B: pt %d payload %x, want pt 96", p.PayloadType, p.Payload)
	}
	b.send(c.LocalAddr(LegB), 96, []byte{7, 0x0a, 0, 160})
	p, _ = a.recv()
	if p.PayloadType != 101 || p.Payload[0] != 7 {
		t.Fatalf("event to A: pt %d", p.PayloadType)
	}
}

func TestHoldStopsSendingToHeldLeg(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, b := anchored(t, e, "0", "0")
	toA, toB := c.LocalAddr(LegA), c.LocalAddr(LegB)
	// B puts A on hold with inactive: nothing flows either way.
	c.OfferFrom(LegB, b.sdp(2, "0", "inactive"))
	c.AnswerFrom(LegA, a.sdp(2, "0", "inactive"))
	b.send(toB, 0, payloadOf(1, 160))
	a.send(toA, 0, payloadOf(2, 160))
	waitFor(t, "both hold packets handled", func() bool {
		st := c.Stats()
		return st.A.PacketsIn == 1 && st.B.PacketsIn == 1
	})
	// Resume, then a packet that must be the first one each side sees.
	c.OfferFrom(LegB, b.sdp(3, "0", "sendrecv"))
	c.AnswerFrom(LegA, a.sdp(3, "0", "sendrecv"))
	b.send(toB, 0, payloadOf(3, 160))
	a.send(toA, 0, payloadOf(4, 160))
	if p, _ := a.recv(); p.Payload[0] != 3 {
		t.Fatalf("A received %d during hold", p.Payload[0])
	}
	if p, _ := b.recv(); p.Payload[0] != 4 {
		t.Fatalf("B received %d during hold", p.Payload[0])
	}
}

func TestRelayHotPathDoesNotAllocate(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, _ := anchored(t, e, "0 101", "8 101") // with transcoding
	la := c.leg(LegA)
	src := netip.MustParseAddrPort(a.conn.LocalAddr().String())
	pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 1}, Payload: payloadOf(0x7f, 160)}).Marshal()
	seq := uint16(0)
	allocs := testing.AllocsPerRun(1000, func() {
		seq++
		pkt[2], pkt[3] = byte(seq>>8), byte(seq)
		pkt[1] = 0 // the relay rewrote the payload type in place: restore it
		la.handle(pkt, src)
	})
	if allocs != 0 {
		t.Fatalf("relay allocates %.1f times per packet (invariant 4)", allocs)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
