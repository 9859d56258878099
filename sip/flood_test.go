package sip_test

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/prometheus/client_golang/prometheus"
)

// options builds an OPTIONS request from src, numbered n (its own Call-ID and branch).
func floodOptions(dst, src string, n int) []byte {
	return []byte(fmt.Sprintf("OPTIONS sip:ccswitch@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP %s;branch=z9hG4bK-flood-%d;rport\r\n"+
		"From: <sip:flood@%s>;tag=f%d\r\nTo: <sip:ccswitch@%s>\r\n"+
		"Call-ID: flood-%d@%s\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		dst, src, n, src, n, dst, n, src))
}

// udpPeer is a UDP socket bound to ip that counts the responses it receives.
type udpPeer struct {
	conn *net.UDPConn
	got  atomic.Int64
	done chan struct{}
}

func newUDPPeer(t *testing.T, laddr string) *udpPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(laddr)))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	p := &udpPeer{conn: c, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		buf := make([]byte, 65535)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
				p.got.Add(1)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-p.done })
	return p
}

func (p *udpPeer) send(t *testing.T, dst string, n, from int) {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := p.conn.WriteToUDP(floodOptions(dst, p.conn.LocalAddr().String(), from+i), to); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			time.Sleep(time.Millisecond) // the sender's own kernel buffer, not the limit, must not drop
		}
	}
}

// TestFloodDroppedBeforeParsing: a source over sip.limits.source_rate gets answers for its
// burst only; the rest is dropped before parsing (counted, no goroutine, no transaction); a
// TCP connection from it is closed unanswered; the trunk's source and another address are
// not affected. The limits' clock is frozen, so the bucket never refills: exact counts.
func TestFloodDroppedBeforeParsing(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	cfg.SIP.TCP = []string{"127.0.0.1:0"}
	cfg.SIP.Limits = config.Limits{SourceRate: ptr(100.0), SourceBurst: 50}
	reg := prometheus.NewRegistry()
	ts := startServerWith(t, cfg, "", withLimits(t, cfg, reg, newManualClock()), md5Only)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()

	const flood = 3000
	attacker := newUDPPeer(t, "127.0.0.3:0")
	attacker.send(t, ts.addr, flood, 0)
	waitUntil(t, "every datagram read", func() bool {
		return metric(t, reg, "ccswitch_sip_flood_dropped_total", "") == flood-50
	})
	waitUntil(t, "the burst answered", func() bool { return attacker.got.Load() == 50 })
	if got := metric(t, reg, "ccswitch_sip_flood_blocks_total", ""); got != 1 {
		t.Errorf("blocks counted %v, want 1", got)
	}

	// The trunk's own address (127.0.0.1:carrier) is exempt; another host is not blocked.
	trunk := newUDPPeer(t, fmt.Sprintf("127.0.0.1:%d", carrier))
	trunk.send(t, ts.addr, 500, flood)
	other := newUDPPeer(t, "127.0.0.4:0")
	other.send(t, ts.addr, 20, 2*flood)
	waitUntil(t, "the trunk and the other host answered", func() bool {
		return trunk.got.Load() == 500 && other.got.Load() == 20
	})

	// A TCP connection from the flooding host is closed without an answer.
	var tcpAddr string
	for _, a := range ts.Addrs() {
		if a.Network() == "tcp" {
			tcpAddr = a.String()
		}
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte(strings.ReplaceAll(string(floodOptions(tcpAddr, c.LocalAddr().String(), 9999)), "SIP/2.0/UDP", "SIP/2.0/TCP")))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 4096)); err != io.EOF && !isReset(err) {
		t.Fatalf("TCP from a flooding source: read %d bytes, %v; want the connection closed", n, err)
	}

	// No goroutine or transaction was made for the dropped messages: the count is back near
	// the baseline (the answered ones hold none after their answer).
	waitGoroutines(t, base, 10)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
