package anchor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
)

var portBase atomic.Int32

func engine(t *testing.T, timeout time.Duration) *media.Engine {
	t.Helper()
	base := 41000 + int(portBase.Add(1)%50)*40
	e, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: base, PortMax: base + 39,
		RTPTimeout: timeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func sdp(ip string, port int, pts string) []byte {
	s := fmt.Sprintf("v=0\r\no=x 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP %s\r\n", ip, ip, port, pts)
	for _, pt := range strings.Fields(pts) {
		switch pt {
		case "0":
			s += "a=rtpmap:0 PCMU/8000\r\n"
		case "8":
			s += "a=rtpmap:8 PCMA/8000\r\n"
		case "18":
			s += "a=rtpmap:18 G729/8000\r\n"
		}
	}
	return []byte(s)
}

// mediaPort returns the m=audio port of body and checks c= is 127.0.0.1.
func mediaPort(t *testing.T, body []byte) int {
	t.Helper()
	var port int
	c := ""
	for _, l := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(l, "m=audio ") {
			fmt.Sscanf(l, "m=audio %d", &port)
		}
		if strings.HasPrefix(l, "c=") {
			c = l
		}
	}
	if c != "c=IN IP4 127.0.0.1" {
		t.Fatalf("c= line %q in\n%s", c, body)
	}
	return port
}

// TestAnchorRewritesBothWays: an offer from A and the answer from B both come back pointing
// at ccswitch, on two different ports of the engine's range; Release frees the call.
func TestAnchorRewritesBothWays(t *testing.T) {
	a := anchor.New(engine(t, 0), anchor.Options{})
	ctx := context.Background()
	offB, err := a.Offer(ctx, "c1", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4000, "0 8"))
	if err != nil {
		t.Fatal(err)
	}
	ansA, err := a.Answer(ctx, "c1", sip.SideB, sip.Parties{}, sdp("192.0.2.2", 5000, "8"))
	if err != nil {
		t.Fatal(err)
	}
	pb, pa := mediaPort(t, offB), mediaPort(t, ansA)
	if pa == pb || pa < 41000 || pb < 41000 || pa > 43000 || pb > 43000 {
		t.Fatalf("ports A %d B %d", pa, pb)
	}
	// A re-INVITE from B (hold) and its answer from A.
	re, err := a.Offer(ctx, "c1", sip.SideB, sip.Parties{}, sdp("192.0.2.2", 5002, "8"))
	if err != nil || mediaPort(t, re) != pa {
		t.Fatalf("re-INVITE offer: %v\n%s", err, re)
	}
	if _, err := a.Answer(ctx, "c1", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4000, "0")); err != nil {
		t.Fatal(err)
	}
	if a.Calls() != 1 {
		t.Fatalf("calls %d", a.Calls())
	}
	a.Release("c1")
	a.Release("c1")
	if a.Calls() != 0 {
		t.Fatalf("calls after release %d", a.Calls())
	}
}

// TestAnchorPassthroughTrunk: a call on a trunk with media: passthrough keeps its SDP, also
// on re-INVITEs; a call on another trunk is anchored; media.anchor: false passes all.
func TestAnchorPassthroughTrunk(t *testing.T) {
	cfg := &config.Config{Trunks: []config.Trunk{{Name: "direct", Media: "passthrough"}, {Name: "carrier"}}}
	trunkOf := map[string]string{"p": "direct", "q": "carrier"}
	a := anchor.New(engine(t, 0), anchor.Options{Config: cfg, Trunk: func(id string) string { return trunkOf[id] }})
	ctx := context.Background()
	in := sdp("192.0.2.1", 4000, "0")
	out, err := a.Offer(ctx, "p", sip.SideA, sip.Parties{}, in)
	if err != nil || string(out) != string(in) {
		t.Fatalf("passthrough offer changed: %v\n%s", err, out)
	}
	back := sdp("192.0.2.2", 5000, "0")
	if out, _ := a.Answer(ctx, "p", sip.SideB, sip.Parties{}, back); string(out) != string(back) {
		t.Fatal("passthrough answer changed")
	}
	if out, _ := a.Offer(ctx, "p", sip.SideB, sip.Parties{}, back); string(out) != string(back) {
		t.Fatal("passthrough re-INVITE changed")
	}
	out, err = a.Offer(ctx, "q", sip.SideA, sip.Parties{}, in)
	if err != nil || string(out) == string(in) {
		t.Fatalf("carrier call not anchored: %v", err)
	}
	mediaPort(t, out)

	off := false
	cfg2 := &config.Config{Media: config.Media{Anchor: &off}}
	a.Reload(cfg2)
	if out, _ := a.Offer(ctx, "r", sip.SideA, sip.Parties{}, in); string(out) != string(in) {
		t.Fatal("media.anchor false still anchors")
	}
}

// TestAnchorErrorsCarrySIPStatus: no common codec → 488; an exhausted port range → 503.
func TestAnchorErrorsCarrySIPStatus(t *testing.T) {
	e, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 43990, PortMax: 43993,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := anchor.New(e, anchor.Options{})
	ctx := context.Background()
	_, err = a.Offer(ctx, "g729", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4000, "18"))
	var se interface{ SIPStatus() int }
	if !errors.As(err, &se) || se.SIPStatus() != 488 {
		t.Fatalf("G.729 only: %v", err)
	}
	if _, err := a.Offer(ctx, "one", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4000, "0")); err != nil {
		t.Fatal(err) // takes both ports
	}
	_, err = a.Offer(ctx, "two", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4002, "0"))
	if !errors.As(err, &se) || se.SIPStatus() != 503 {
		t.Fatalf("ports exhausted: %v", err)
	}
	if anchor.Status(media.ErrOfferPending) != 491 || anchor.Status(errors.New("x")) != 500 {
		t.Fatal("status mapping")
	}
}

// TestAnchorAttachNotClosed: an attached call (voice App's) is used for re-INVITEs and is not
// closed by Release.
func TestAnchorAttachNotClosed(t *testing.T) {
	e := engine(t, 0)
	a := anchor.New(e, anchor.Options{})
	c, err := e.NewCall(media.CallOptions{ID: "v"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.AnswerLocal(media.LegA, sdp("192.0.2.1", 4000, "0")); err != nil {
		t.Fatal(err)
	}
	a.Attach("x", c)
	out, err := a.Offer(context.Background(), "x", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4000, "0"))
	if err != nil {
		t.Fatal(err)
	}
	if mediaPort(t, out) == 0 {
		t.Fatal("no port")
	}
	c.CancelOffer()
	a.Release("x")
	if _, err := c.AnswerLocal(media.LegA, sdp("192.0.2.1", 4000, "0")); err != nil {
		t.Fatalf("attached call closed by Release: %v", err)
	}
}

// TestAnchorTimeoutHangsUp: with an RTP timeout, a call whose legs say they send but send
// nothing is handed to Hangup with its ID.
func TestAnchorTimeoutHangsUp(t *testing.T) {
	got := make(chan string, 1)
	a := anchor.New(engine(t, 300*time.Millisecond), anchor.Options{Hangup: func(id string) { got <- id }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx := context.Background()
	if _, err := a.Offer(ctx, "dead", sip.SideA, sip.Parties{}, sdp("127.0.0.1", 9, "0")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Answer(ctx, "dead", sip.SideB, sip.Parties{}, sdp("127.0.0.1", 9, "0")); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-got:
		if id != "dead" {
			t.Fatalf("hangup %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no hangup after RTP timeout")
	}
	a.Release("dead")
}

// TestAnchorCancelOffer: a re-INVITE offer the other side refused blocks the next one (491)
// until CancelOffer; after it the next offer is taken.
func TestAnchorCancelOffer(t *testing.T) {
	a := anchor.New(engine(t, 0), anchor.Options{})
	ctx := context.Background()
	if _, err := a.Offer(ctx, "c", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4000, "0")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Answer(ctx, "c", sip.SideB, sip.Parties{}, sdp("192.0.2.2", 5000, "0")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Offer(ctx, "c", sip.SideA, sip.Parties{}, sdp("192.0.2.1", 4002, "0")); err != nil {
		t.Fatal(err) // relayed to B, which refuses it
	}
	_, err := a.Offer(ctx, "c", sip.SideB, sip.Parties{}, sdp("192.0.2.2", 5002, "0"))
	var se interface{ SIPStatus() int }
	if !errors.As(err, &se) || se.SIPStatus() != 491 {
		t.Fatalf("offer while one is pending: %v", err)
	}
	a.CancelOffer("c")
	if _, err := a.Offer(ctx, "c", sip.SideB, sip.Parties{}, sdp("192.0.2.2", 5002, "0")); err != nil {
		t.Fatalf("offer after CancelOffer: %v", err)
	}
	a.CancelOffer("unknown") // no-op
	a.Release("c")
}

// TestAnchorTellsMediaWhoIsWho (issue 10): the parties the B2BUA passes become media peers.
// The caller's signalling source is an allowed RTP source although its SDP names another
// (private) address, a host that never signalled is not; an extension with srtp: required
// gets 488 for a plain offer, and an offer to it is RTP/SAVP; a trunk with srtp: off refuses
// an SRTP-only offer.
func TestAnchorTellsMediaWhoIsWho(t *testing.T) {
	cfg := &config.Config{
		Users:  []config.User{{Extension: "1001", SRTP: "required"}, {Extension: "1002", SRTP: "optional"}, {Extension: "1003", SRTP: "required"}},
		Trunks: []config.Trunk{{Name: "carrier", SRTP: "off"}},
	}
	a := anchor.New(engine(t, 0), anchor.Options{Config: cfg})
	ctx := context.Background()
	var se interface{ SIPStatus() int }

	// 1001 requires SRTP and offers plain RTP: 488.
	_, err := a.Offer(ctx, "req", sip.SideA, sip.Parties{A: sip.Party{User: "1001"}, B: sip.Party{User: "1002"}}, sdp("192.0.2.1", 4000, "0"))
	if !errors.As(err, &se) || se.SIPStatus() != 488 || !errors.Is(err, media.ErrSRTPRequired) {
		t.Fatalf("plain offer from an extension that requires SRTP: %v, want 488", err)
	}
	a.Release("req")
	// A carrier with srtp: off offering RTP/SAVP only: 488.
	savp := strings.Replace(string(sdp("192.0.2.1", 4000, "0")), "RTP/AVP", "RTP/SAVP", 1) +
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	_, err = a.Offer(ctx, "off", sip.SideA, sip.Parties{A: sip.Party{Trunk: "carrier"}, B: sip.Party{User: "1002"}}, []byte(savp))
	if !errors.As(err, &se) || se.SIPStatus() != 488 {
		t.Fatalf("SRTP offer from a trunk with srtp off: %v, want 488", err)
	}
	a.Release("off")

	// The carrier calls 1003 (requires SRTP): the offer to 1003 is RTP/SAVP with a key.
	src := netip.MustParseAddrPort("127.0.0.1:5080")
	offB, err := a.Offer(ctx, "in", sip.SideA, sip.Parties{A: sip.Party{Source: src, Trunk: "carrier"}, B: sip.Party{User: "1003"}},
		sdp("10.9.8.7", 4000, "0")) // the SDP names a private address (NAT)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(offB), "RTP/SAVP") || !strings.Contains(string(offB), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Fatalf("offer to an extension that requires SRTP:\n%s", offB)
	}
	ansB := strings.Replace(string(sdp("127.0.0.1", 5000, "0")), "RTP/AVP", "RTP/SAVP", 1) +
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	ansA, err := a.Answer(ctx, "in", sip.SideB, sip.Parties{B: sip.Party{Source: netip.MustParseAddrPort("127.0.0.1:5090")}}, []byte(ansB))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(ansA), "crypto") || !strings.Contains(string(ansA), "RTP/AVP") {
		t.Fatalf("answer to the carrier (srtp off) must be plain:\n%s", ansA)
	}
	pa := mediaPort(t, ansA)
	// RTP from the carrier's signalling address is accepted (the SDP's 10.9.8.7 is not
	// reachable), RTP from a host that never signalled is not.
	send := func(from string) {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		pkt := append([]byte{0x80, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4}, make([]byte, 160)...)
		c.WriteToUDPAddrPort(pkt, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(pa)))
	}
	send("127.0.0.2:0")
	send("127.0.0.1:0")
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, _ := a.Stats("in")
		if st.A.PacketsIn == 1 && st.A.Strangers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: want the carrier's packet in and the stranger's dropped", st.A)
		}
		time.Sleep(time.Millisecond)
	}
	if st, _ := a.Stats("in"); st.A.SRTP || !st.B.SRTP {
		t.Fatalf("SRTP A=%v (carrier, off) B=%v (1003, required)", st.A.SRTP, st.B.SRTP)
	}
	a.Release("in")
}
