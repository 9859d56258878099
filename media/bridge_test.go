package media

import (
	"context"
	"testing"

	"github.com/pion/rtp"
)

// TestIVRThenBridge: ccswitch answers A itself (PCMA), plays a prompt, then offers B, which
// picks PCMU; the relay transcodes and A's stream continues from the prompt without a break.
func TestIVRThenBridge(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _ := e.NewCall(CallOptions{})
	defer c.Close()
	a, b := newPhone(t), newPhone(t)
	if _, err := c.AnswerLocal(LegA, a.sdp(1, "8 0 101", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Play(context.Background(), LegA, NewPrompt("beep", make([]int16, 3*160)), PlayOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []rtp.Packet
	for i := 0; i < 3; i++ {
		p, _ := a.recv()
		got = append(got, p)
	}
	offerB, err := c.OfferTo(LegB, SendRecv)
	if err != nil {
		t.Fatal(err)
	}
	fm := parseOut(t, offerB).MediaDescriptions[0].MediaName.Formats
	if fm[0] != "8" {
		t.Fatalf("offer to the agent should prefer the caller's law (8): %v", fm)
	}
	ans, err := c.AnswerFromB(b.sdp(1, "0 101", ""))
	if err != nil || ans != nil {
		t.Fatalf("answer from B after our own offer: %q %v, want nil, nil", ans, err)
	}
	b.send(c.LocalAddr(LegB), 0, payloadOf(0xAA, 160))
	p, _ := a.recv()
	got = append(got, p)
	if p.PayloadType != 8 || p.Payload[0] != ulawToAlaw[0xAA] {
		t.Fatalf("B's µ-law must reach A as A-law: pt %d %#x", p.PayloadType, p.Payload[0])
	}
	for i := 1; i < len(got); i++ {
		if got[i].SSRC != got[0].SSRC || got[i].SequenceNumber != got[i-1].SequenceNumber+1 || got[i].Timestamp-got[i-1].Timestamp < 160 {
			t.Fatalf("A's stream breaks at packet %d (prompt → relay): %+v after %+v", i, got[i].Header, got[i-1].Header)
		}
	}
	a.send(c.LocalAddr(LegA), 8, payloadOf(0x55, 160))
	if p, _ := b.recv(); p.PayloadType != 0 || p.Payload[0] != alawToUlaw[0x55] {
		t.Fatalf("A→B: pt %d", p.PayloadType)
	}
}

// TestPlayMutesRelayAndResumes: while hold music plays to A, B's audio does not reach A.
func TestPlayMutesRelay(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, a, b := anchored(t, e, "0", "0")
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		close(started)
		_, err := c.Play(ctx, LegA, NewPrompt("music", make([]int16, 160)), PlayOptions{Loop: true})
		done <- err
	}()
	<-started
	first, _ := a.recv() // music is playing: the stream is local now
	b.send(c.LocalAddr(LegB), 0, payloadOf(0x11, 160))
	waitFor(t, "B's packet handled", func() bool { return c.Stats().B.PacketsIn == 1 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Play: %v", err)
	}
	b.send(c.LocalAddr(LegB), 0, payloadOf(0x22, 160))
	for {
		p, _ := a.recv()
		if p.Payload[0] == 0x11 {
			t.Fatal("B's audio leaked into the hold music")
		}
		if p.SSRC != first.SSRC {
			t.Fatal("SSRC changed")
		}
		if p.Payload[0] == 0x22 {
			break
		}
	}
}

func TestCloseStopsPlayAndIsIdempotent(t *testing.T) {
	e := newTestEngine(t, Config{})
	c, _, _ := anchored(t, e, "0", "0")
	done := make(chan error)
	go func() {
		_, err := c.Play(context.Background(), LegA, NewPrompt("m", make([]int16, 160)), PlayOptions{Loop: true})
		done <- err
	}()
	waitFor(t, "playing", func() bool { return c.Stats().A.PacketsOut > 0 })
	c.Close()
	if err := <-done; err != ErrClosed {
		t.Fatalf("Play after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Play(context.Background(), LegA, NewPrompt("m", make([]int16, 160)), PlayOptions{}); err != ErrClosed {
		t.Fatalf("%v", err)
	}
}
