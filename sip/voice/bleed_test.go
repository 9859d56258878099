package voice_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// rtpPacket is a PCMU packet whose 160 payload bytes are all fill.
func rtpPacket(seq uint16, ssrc uint32, fill byte) []byte {
	b := make([]byte, 12+160)
	b[0], b[1] = 0x80, 0
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], uint32(seq)*160)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	for i := 12; i < len(b); i++ {
		b[i] = fill
	}
	return b
}

// filled reports whether an RTP packet's payload is fill, every byte.
func filled(b []byte, fill byte) bool {
	if len(b) <= 12 {
		return false
	}
	for _, x := range b[12:] {
		if x != fill {
			return false
		}
	}
	return true
}

func udp(t *testing.T, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// phoneCounts is what the caller's phone heard.
type phoneCounts struct {
	tone, echo, bleed atomic.Int64
	ccswitch          atomic.Pointer[netip.AddrPort] // where ccswitch's leg A sends from
}

// listenPhone counts what arrives on c until it is closed: the callee's tone, the echo of
// the phone's own packets (payload 0xA1), the stranger's packets (0xEE: must never come).
func listenPhone(c *net.UDPConn, n *phoneCounts, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			k, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			switch {
			case filled(buf[:k], 0xEE):
				n.bleed.Add(1)
			case filled(buf[:k], 0xA1):
				n.echo.Add(1)
			default:
				n.tone.Add(1)
				n.ccswitch.CompareAndSwap(nil, &from)
			}
		}
	}()
}

// TestRTPBleedTrunkCall (issue 10, "media from strangers"): during a carrier call to a DID
// of extension 1001, a host that never signalled (127.0.0.2) sprays every even port of the
// RTP range with RTP, 50 times a second, while the callee rings (1.5 s) and while the call is
// up. It gets nothing back, none of its packets reaches the caller, and the call's audio is
// whole both ways: the caller hears the callee's 2 s of tone and the echo of its own 100
// packets. The phone sends its RTP from the port its SDP names, or (behind NAT) from another
// port of the same IP: both are accepted. Both legs counted the stranger's packets, and so did
// ccswitch_media_stranger_packets_total.
func TestRTPBleedTrunkCall(t *testing.T) {
	for _, tc := range []struct {
		name string
		nat  bool
	}{{"phone sends from its SDP port", false}, {"phone behind NAT sends from another port", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "2s")
			uasPort := testenv.FreePort(t)
			r.register("1001", uasPort, false)
			uas := r.sipp("callee 1001", "uas_ring_tone.xml", uasPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1",
				"-mp", fmt.Sprint(freeEvenPort(t)), "-d", "1500")

			phone := udp(t, "127.0.0.1:0") // the port the caller's SDP names
			src := phone                   // where its RTP comes from
			if tc.nat {
				src = udp(t, "127.0.0.1:0")
			}
			var heard phoneCounts
			var wg sync.WaitGroup
			listenPhone(phone, &heard, &wg)
			if src != phone {
				listenPhone(src, &heard, &wg)
			}

			// The stranger: spray and listen until the call is over.
			stranger := udp(t, "127.0.0.2:0")
			var sprayed, answered atomic.Int64
			stop := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				pkt := rtpPacket(1, 0xbad, 0xEE)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					for port := r.portMin + r.portMin%2; port <= r.portMax; port += 2 {
						stranger.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
						sprayed.Add(1)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			go func() {
				defer wg.Done()
				buf := make([]byte, 1500)
				for {
					if _, _, err := stranger.ReadFromUDPAddrPort(buf); err != nil {
						if errors.Is(err, net.ErrClosed) {
							return
						}
						continue
					}
					answered.Add(1)
				}
			}()
			time.Sleep(200 * time.Millisecond) // the spray is on before the INVITE

			phonePort := phone.LocalAddr().(*net.UDPAddr).Port
			uac := r.sipp("carrier", "trunk_call_phone.xml", r.carrier, "-m", "1", "-key", "phoneport", fmt.Sprint(phonePort),
				"-d", "4500", "-key", "user", "carrier", "-s", "+15550101", r.addr)
			// Talk once ccswitch's leg A is known (from the callee's first relayed packet).
			deadline := time.Now().Add(20 * time.Second)
			for heard.ccswitch.Load() == nil {
				if time.Now().After(deadline) {
					t.Fatal("the callee's audio never reached the caller's phone")
				}
				time.Sleep(5 * time.Millisecond)
			}
			to := *heard.ccswitch.Load()
			for i := 0; i < 100; i++ {
				src.WriteToUDPAddrPort(rtpPacket(uint16(100+i), 0xca11, 0xA1), to)
				time.Sleep(20 * time.Millisecond)
			}
			uac.wait()
			uas.wait()
			st := r.releasedStats()
			time.Sleep(100 * time.Millisecond) // packets in flight on loopback
			close(stop)
			phone.Close()
			src.Close()
			stranger.Close()
			wg.Wait()

			t.Logf("stranger sent %d packets, got %d back; phone heard %d tone, %d echo, %d stranger packets; media A %+v B %+v",
				sprayed.Load(), answered.Load(), heard.tone.Load(), heard.echo.Load(), heard.bleed.Load(), st.A, st.B)
			if answered.Load() != 0 {
				t.Errorf("the stranger received %d packets of the call (RTP bleed)", answered.Load())
			}
			if heard.bleed.Load() != 0 {
				t.Errorf("the caller's phone received %d of the stranger's packets", heard.bleed.Load())
			}
			if heard.tone.Load() < 90 || heard.echo.Load() < 90 {
				t.Errorf("the call's audio was hurt: %d of 100 tone packets, %d of 100 echoed", heard.tone.Load(), heard.echo.Load())
			}
			if st.A.Strangers == 0 || st.B.Strangers == 0 {
				t.Errorf("strangers counted A %d B %d: the spray hit both of the call's ports", st.A.Strangers, st.B.Strangers)
			}
			if st.A.PacketsIn > 100 {
				t.Errorf("leg A took %d packets in: only the phone's 100 are the call's", st.A.PacketsIn)
			}
			if n := metricValue(t, r, "ccswitch_media_stranger_packets_total"); n < float64(st.A.Strangers+st.B.Strangers) {
				t.Errorf("ccswitch_media_stranger_packets_total = %v, want ≥ %d", n, st.A.Strangers+st.B.Strangers)
			}
		})
	}
}

// metricValue reads a counter or gauge of the rig's media engine.
func metricValue(t *testing.T, r *rig, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
