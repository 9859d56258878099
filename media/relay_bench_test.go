package media

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
)

// BenchmarkRelayPacket measures the relay hot path for one 20 ms G.711 packet: header checks,
// latching, statistics, payload-type rewrite (and transcoding), sequence rewrite and the
// sendto(2) toward the other leg. go test -bench RelayPacket -benchmem ./media
func BenchmarkRelayPacket(b *testing.B) {
	for _, bc := range []struct {
		name, fa, fb string
		srtpB        bool // B requires SRTP: every packet is encrypted toward it
	}{
		{"same-law", "0 101", "0 101", false},
		{"transcode", "0 101", "8 101", false},
		{"srtp-out", "0 101", "0 101", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, err := New(Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 20900, PortMax: 20949})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			c, _ := e.NewCall(CallOptions{})
			pa, pb := benchPeer(b), benchPeer(b)
			var extraB []string
			if bc.srtpB {
				c.SetPeer(LegB, Peer{SRTP: SRTPRequired})
				extraB = []string{"proto=RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + testKey}
			}
			if _, err := c.OfferFromA(phoneSDP(int(pa.Port()), 1, bc.fa, "")); err != nil {
				b.Fatal(err)
			}
			if _, err := c.AnswerFromB(phoneSDP(int(pb.Port()), 1, bc.fb, "", extraB...)); err != nil {
				b.Fatal(err)
			}
			la := c.leg(LegA)
			raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 7}, Payload: payloadOf(0x55, 160)}).Marshal()
			pkt := make([]byte, len(raw), len(raw)+srtpOverhead) // room to encrypt in place, as the reader's buffer
			copy(pkt, raw)
			b.SetBytes(int64(len(pkt)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt = pkt[:len(raw)]
				pkt[1] = 0
				pkt[2], pkt[3] = byte(i>>8), byte(i)
				la.handle(pkt, pa)
			}
			b.StopTimer()
			if c.Stats().B.PacketsOut != uint64(b.N) {
				b.Fatalf("relayed %d of %d", c.Stats().B.PacketsOut, b.N)
			}
		})
	}
}

// benchPeer is an address nobody reads: the kernel drops what overflows its buffer, sendto
// still succeeds, so the benchmark measures ccswitch's side only.
func benchPeer(b *testing.B) netip.AddrPort {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return netip.MustParseAddrPort(c.LocalAddr().String())
}
