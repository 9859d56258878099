package voice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
)

// testCall is a call answered locally by media with a UDP socket as the caller's phone, and
// no SIP: enough to drive Play and Collect.
func testCall(t *testing.T) (*call, *net.UDPConn, chan struct{}) {
	t.Helper()
	base := 44000 + (os.Getpid()%40)*20
	eng, err := media.New(media.Config{IP: netip.MustParseAddr("127.0.0.1"), PortMin: base, PortMax: base + 19,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	phone, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { phone.Close() })
	mc, err := eng.NewCall(media.CallOptions{ID: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	offer := fmt.Sprintf("v=0\r\no=p 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", phone.LocalAddr().(*net.UDPAddr).Port)
	if _, err := mc.AnswerLocal(media.LegA, []byte(offer)); err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{})
	c := &call{mc: mc, gone: gone, digits: newDigitBuffer(), lang: "en", log: slog.New(slog.DiscardHandler),
		st: newState(Options{Prompts: "../../configs/prompts"}, nil)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.pumpDTMF(ctx)
	return c, phone, gone
}

// packets counts the RTP packets the phone receives within d.
func packets(phone *net.UDPConn, d time.Duration) int {
	buf := make([]byte, 1500)
	n := 0
	phone.SetReadDeadline(time.Now().Add(d))
	for {
		if _, err := phone.Read(buf); err != nil {
			return n
		}
		n++
	}
}

// packetsUntil counts the RTP packets the phone receives until done is closed and 200 ms
// pass without a packet (a loaded machine may play a prompt slower than its length).
func packetsUntil(phone *net.UDPConn, done <-chan struct{}) int {
	buf := make([]byte, 1500)
	n := 0
	for {
		phone.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := phone.Read(buf); err == nil {
			n++
			continue
		}
		select {
		case <-done:
			return n
		default:
		}
	}
}

// TestPlayTypeAheadSkipsPrompt: a digit typed before a barge-in prompt answers it at once;
// the prompt is not played.
func TestPlayTypeAheadSkipsPrompt(t *testing.T) {
	c, phone, _ := testCall(t)
	c.mc.InjectDTMF(media.DTMFEvent{Leg: media.LegA, Digit: '5'})
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	d, err := c.Play(context.Background(), ivr.Prompt{Name: "menu", Language: "en", BargeIn: true})
	if err != nil || d != "5" || time.Since(start) > time.Second {
		t.Fatalf("Play = %q, %v after %v", d, err, time.Since(start))
	}
	if n := packets(phone, 100*time.Millisecond); n != 0 {
		t.Fatalf("%d packets of a prompt that was answered ahead", n)
	}
}

// TestPlayBargeIn: a digit during a barge-in prompt stops it and is returned, once; the
// next digit stays buffered for Collect.
func TestPlayBargeIn(t *testing.T) {
	c, phone, _ := testCall(t)
	go func() {
		time.Sleep(300 * time.Millisecond)
		c.mc.InjectDTMF(media.DTMFEvent{Leg: media.LegA, Digit: '3'})
		c.mc.InjectDTMF(media.DTMFEvent{Leg: media.LegA, Digit: '4'})
	}()
	start := time.Now()
	d, err := c.Play(context.Background(), ivr.Prompt{Name: "menu", Language: "en", BargeIn: true})
	took := time.Since(start)
	if err != nil || d != "3" || took > 3*time.Second {
		t.Fatalf("Play = %q, %v after %v (menu lasts ~5 s)", d, err, took)
	}
	if n := packets(phone, 200*time.Millisecond); n < 1 || n > 30 {
		t.Errorf("phone got %d packets before the barge-in, want ~15 (the prompt started, and stopped)", n)
	}
	got, err := c.Collect(context.Background(), ivr.CollectOptions{MaxDigits: 1, Timeout: time.Second})
	if err != nil || got != "4" {
		t.Fatalf("Collect after barge-in = %q, %v", got, err)
	}
}

// TestPlayWithoutBargeInDiscardsDigits: digits during a prompt without barge-in do not stop
// it and are discarded; the prompt plays to its end (its length / 20 ms packets).
func TestPlayWithoutBargeInDiscardsDigits(t *testing.T) {
	c, phone, _ := testCall(t)
	p, err := c.st.prompts.load("digit-1", "en")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int, 1)
	played := make(chan struct{})
	go func() { got <- packetsUntil(phone, played) }()
	go func() {
		time.Sleep(100 * time.Millisecond)
		c.mc.InjectDTMF(media.DTMFEvent{Leg: media.LegA, Digit: '9'})
	}()
	d, err := c.Play(context.Background(), ivr.Prompt{Name: "digit-1", Language: "en"})
	close(played)
	if err != nil || d != "" {
		t.Fatalf("Play = %q, %v", d, err)
	}
	want := int((p.Duration() + 19*time.Millisecond) / (20 * time.Millisecond))
	if n := <-got; n < want-1 || n > want+1 {
		t.Errorf("phone got %d packets, want %d", n, want)
	}
	if c.digits.len() != 0 {
		t.Fatalf("digit typed during a prompt without barge-in kept")
	}
}

// TestPlayHangup: the caller hanging up stops a prompt with ivr.ErrHungUp, and later calls
// fail the same way at once.
func TestPlayHangup(t *testing.T) {
	c, _, gone := testCall(t)
	go func() {
		time.Sleep(200 * time.Millisecond)
		close(gone)
	}()
	_, err := c.Play(context.Background(), ivr.Prompt{Name: "menu", Language: "fr", BargeIn: true})
	if !errors.Is(err, ivr.ErrHungUp) {
		t.Fatalf("Play after hangup: %v", err)
	}
	if _, err := c.Collect(context.Background(), ivr.CollectOptions{Timeout: time.Second}); !errors.Is(err, ivr.ErrHungUp) {
		t.Fatalf("Collect after hangup: %v", err)
	}
}

// TestPlayMissingPrompt: an unknown prompt is an error naming the files tried.
func TestPlayMissingPrompt(t *testing.T) {
	c, _, _ := testCall(t)
	if _, err := c.Play(context.Background(), ivr.Prompt{Name: "no-such-prompt", Language: "fr"}); err == nil {
		t.Fatal("no error")
	}
}

// TestRecordVoicemail: Record writes a WAV of the caller's audio under the recordings folder
// and ends at # (the digits typed before it started do not end it), at MaxLength, or when the
// caller hangs up (the message is kept).
func TestRecordVoicemail(t *testing.T) {
	c, phone, gone := testCall(t)
	c.st.recordings = t.TempDir()
	c.id = "vm"
	c.digits.push('#') // typed before the beep
	to := c.mc.LocalAddr(media.LegA)
	send := func(n int) { // n packets of PCMU from the phone to ccswitch
		for i := 0; i < n; i++ {
			pkt := append([]byte{0x80, 0, 0, byte(i), 0, 0, byte(i >> 8), byte(i), 1, 2, 3, 4}, make([]byte, 160)...)
			phone.WriteToUDP(pkt, net.UDPAddrFromAddrPort(to))
			time.Sleep(20 * time.Millisecond)
		}
	}
	go func() {
		send(25)
		c.mc.InjectDTMF(media.DTMFEvent{Leg: media.LegA, Digit: '#'})
	}()
	start := time.Now()
	ref, err := c.Record(context.Background(), ivr.RecordOptions{MaxLength: 10 * time.Second})
	if err != nil || time.Since(start) < 400*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Fatalf("Record = %q, %v after %v", ref, err, time.Since(start))
	}
	st, err := os.Stat(ref)
	if err != nil || filepath.Dir(ref) != c.st.recordings || st.Size() < 44+2*2*8000*3/10 {
		t.Fatalf("voicemail %s: %v, %d bytes", ref, err, st.Size())
	}
	// MaxLength ends the next one; hanging up the one after.
	c.id = "vm2"
	start = time.Now()
	if ref, err := c.Record(context.Background(), ivr.RecordOptions{MaxLength: 300 * time.Millisecond}); err != nil || ref == "" || time.Since(start) > 2*time.Second {
		t.Fatalf("max length: %q %v after %v", ref, err, time.Since(start))
	}
	c.id = "vm3"
	go func() { time.Sleep(200 * time.Millisecond); close(gone) }()
	if ref, err := c.Record(context.Background(), ivr.RecordOptions{MaxLength: 10 * time.Second}); err != nil || ref == "" {
		t.Fatalf("hangup: %q %v", ref, err)
	}
	if _, err := c.Record(context.Background(), ivr.RecordOptions{}); !errors.Is(err, ivr.ErrHungUp) {
		t.Fatalf("Record after hangup: %v", err)
	}
}
