package media

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// TestEngineCloseStopsEverything: readers, players, the recorder and the watchdog are gone
// once Engine.Close returns (invariant 1).
func TestEngineCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	e, err := New(Config{IP: mustAddr("127.0.0.1"), PortMin: 20950, PortMax: 20989, RTPTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.NewCall(CallOptions{})
	a, b := newPhone(t), newPhone(t)
	c.OfferFromA(a.sdp(1, "0", ""))
	c.AnswerFromB(b.sdp(1, "0", ""))
	if err := c.StartRecording(filepath.Join(t.TempDir(), "r.wav")); err != nil {
		t.Fatal(err)
	}
	played := make(chan error)
	go func() {
		_, err := c.Play(context.Background(), LegB, NewPrompt("m", make([]int16, 160)), PlayOptions{Loop: true})
		played <- err
	}()
	waitFor(t, "playing", func() bool { return c.Stats().B.PacketsOut > 0 })
	e.Close()
	if err := <-played; err != ErrClosed {
		t.Fatalf("Play: %v", err)
	}
	// The test's own Play goroutine exits just after its send: poll (hang guard only).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := e.NewCall(CallOptions{}); err != ErrClosed {
		t.Fatalf("NewCall after Close: %v", err)
	}
}
