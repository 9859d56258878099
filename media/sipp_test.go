package media

import (
	"context"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// freeUDPPort returns a port that was free a moment ago (even, for SIPp's media port).
func freeUDPPort(t *testing.T) int {
	for {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if p%2 == 0 && p < 65000 {
			return p
		}
	}
}

// TestRelayThroughSIPpEcho anchors a call whose callee is a real peer, SIPp's RTP echo
// (`sipp -rtp_echo`): the caller's packets cross ccswitch to SIPp, come back from SIPp's
// socket to ccswitch's leg B and reach the caller, payload intact, one continuous stream.
func TestRelayThroughSIPpEcho(t *testing.T) {
	sipp := testenv.Tool(t, "sipp")
	mp, sp := freeUDPPort(t), freeUDPPort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, sipp, "-sn", "uas", "-rtp_echo", "-mp", strconv.Itoa(mp),
		"-p", strconv.Itoa(sp), "-i", "127.0.0.1", "-nostdin", "-trace_err", "-error_file", t.TempDir()+"/err.log")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })

	// Wait until SIPp echoes (hang guard 10 s).
	probe := newPhone(t)
	echo := netip.AddrPortFrom(mustAddr("127.0.0.1"), uint16(mp))
	for deadline := time.Now().Add(10 * time.Second); ; {
		probe.send(echo, 0, payloadOf(0, 160))
		probe.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := probe.conn.Read(make([]byte, 1500)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("SIPp RTP echo never answered")
		}
	}

	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a := newPhone(t)
	if _, err := c.OfferFromA(a.sdp(1, "0 101", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AnswerFromB(phoneSDP(mp, 1, "0 101", "")); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := 0; i < n; i++ {
		a.send(c.LocalAddr(LegA), 0, payloadOf(byte(i+1), 160))
	}
	var prevSeq uint16
	for i := 0; i < n; i++ {
		p, from := a.recv()
		if from != c.LocalAddr(LegA) || p.Payload[0] != byte(i+1) || len(p.Payload) != 160 {
			t.Fatalf("packet %d from %v payload %d", i, from, p.Payload[0])
		}
		if i > 0 && p.SequenceNumber != prevSeq+1 {
			t.Fatalf("seq %d after %d", p.SequenceNumber, prevSeq)
		}
		prevSeq = p.SequenceNumber
	}
	st := c.Stats()
	if st.B.PacketsOut != n || st.B.PacketsIn != n || st.A.PacketsOut != n {
		t.Fatalf("stats %+v", st)
	}
}
