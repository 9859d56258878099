package voice

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
)

// TestDigitBufferKeepsTypeAhead: digits typed before Collect is called are returned; the
// ones past MaxDigits stay for the next Collect.
func TestDigitBufferKeepsTypeAhead(t *testing.T) {
	b := newDigitBuffer()
	for _, d := range "123" {
		b.push(byte(d))
	}
	got, err := b.collect(context.Background(), nil, 2, "#", time.Second)
	if err != nil || got != "12" {
		t.Fatalf("first collect %q %v", got, err)
	}
	got, err = b.collect(context.Background(), nil, 1, "#", time.Second)
	if err != nil || got != "3" {
		t.Fatalf("second collect %q %v", got, err)
	}
}

// TestDigitBufferTerminatorAndTimeout: the terminator ends input and is not returned; the
// inter-digit timeout returns what came so far, exactly when it passes; nothing at all returns
// "" after the timeout. In a synctest bubble: the clock is the test's.
func TestDigitBufferTerminatorAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newDigitBuffer()
		go func() {
			for _, d := range "42#9" {
				time.Sleep(10 * time.Millisecond)
				b.push(byte(d))
			}
		}()
		got, err := b.collect(context.Background(), nil, 0, "#", 2*time.Second)
		if err != nil || got != "42" {
			t.Fatalf("collect to # %q %v", got, err)
		}
		time.Sleep(20 * time.Millisecond) // the 9 is in (virtual time: no wait)
		synctest.Wait()
		start := time.Now()
		got, err = b.collect(context.Background(), nil, 0, "#", 100*time.Millisecond)
		if err != nil || got != "9" || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("collect to timeout %q %v after %v", got, err, time.Since(start))
		}
		start = time.Now()
		got, err = b.collect(context.Background(), nil, 3, "", 50*time.Millisecond)
		if err != nil || got != "" || time.Since(start) != 50*time.Millisecond {
			t.Fatalf("empty collect %q %v after %v", got, err, time.Since(start))
		}
	})
}

// TestDigitBufferHangupAndCancel: a caller gone ends the wait with ivr.ErrHungUp; a cancelled
// context with its error.
func TestDigitBufferHangupAndCancel(t *testing.T) {
	b := newDigitBuffer()
	gone := make(chan struct{})
	close(gone)
	if _, err := b.collect(context.Background(), gone, 1, "", time.Minute); !errors.Is(err, ivr.ErrHungUp) {
		t.Fatalf("gone: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.collect(ctx, nil, 1, "", time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestDigitBufferBounded: more than 64 unread digits keep the latest 64.
func TestDigitBufferBounded(t *testing.T) {
	b := newDigitBuffer()
	for i := 0; i < 100; i++ {
		b.push('0' + byte(i%10))
	}
	if b.len() != 64 {
		t.Fatalf("len %d", b.len())
	}
	if d, _, _ := b.pop(); d != '6' { // digit 36 is the oldest kept
		t.Fatalf("oldest %c", d)
	}
	select {
	case <-b.wait():
	default:
		t.Fatal("wait not ready with digits buffered")
	}
	b.clear()
	select {
	case <-b.wait():
		t.Fatal("wait ready after clear")
	default:
	}
}

// TestPromptResolution: <dir>/<lang>/<name>.wav, else the embedded <lang>/<name>.wav, for the
// contact's language, then the number's, then en; a name with a slash is a path under the
// config's folder; unknown prompts name every place tried; languages cannot escape the folder.
func TestPromptResolution(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"en/menu.wav", "fr/menu.wav", "en/custom-only.wav", "de/welcome.wav", "custom/x.wav"} {
		p := filepath.Join(dir, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	ps := newPromptSet(dir, dir)
	cases := []struct{ name, lang, numLang, want string }{
		{"menu", "fr", "en", filepath.Join(dir, "fr/menu.wav")},
		{"closed", "fr", "en", "embedded:fr/closed.wav"}, // the folder lacks it: the binary has it
		{"custom-only", "fr", "en", filepath.Join(dir, "en/custom-only.wav")},
		{"welcome", "es", "de", filepath.Join(dir, "de/welcome.wav")},
		{"menu", "", "", filepath.Join(dir, "en/menu.wav")},
		{"custom/x.wav", "fr", "en", filepath.Join(dir, "custom/x.wav")},
		{"menu", "../en", "", filepath.Join(dir, "en/menu.wav")},
	}
	for _, c := range cases {
		got, err := ps.resolve(c.name, c.lang, c.numLang)
		if err != nil || got.String() != c.want {
			t.Errorf("%s [%s/%s] = %q, %v; want %s", c.name, c.lang, c.numLang, got, err, c.want)
		}
	}
	if _, err := ps.resolve("nope", "fr", "en"); err == nil {
		t.Error("missing prompt resolved")
	}
}

// TestEmbeddedPromptsLoad: with no prompt folder (ccswitch run from any directory), every
// prompt the demo configuration's flows and numbers name, and those the queue announcements
// and feature codes use, is embedded in the binary in en and fr and is a WAV media accepts.
func TestEmbeddedPromptsLoad(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"please-hold": true, "you-are-caller": true, "in-queue": true, "invalid-choice": true,
		"digit-0": true, "digit-1": true, "digit-9": true}
	for _, f := range cfg.Flows {
		for _, n := range f.Nodes {
			if n.Prompt != "" {
				names[n.Prompt] = true
			}
		}
	}
	for _, n := range cfg.Numbers {
		for _, p := range n.Unavailable {
			names[p] = true
		}
	}
	ps := newPromptSet("", "")
	for _, lang := range []string{"en", "fr"} {
		for n := range names {
			s, err := ps.resolve(n, lang)
			if err != nil || s.String() != "embedded:"+lang+"/"+n+".wav" {
				t.Errorf("%s/%s: %v %v", lang, n, s, err)
				continue
			}
			if _, err := ps.load(n, lang); err != nil {
				t.Errorf("%s/%s: %v", lang, n, err)
			}
		}
	}
	if _, err := ps.loadFile("hold-music.wav"); err != nil {
		t.Errorf("hold music: %v", err)
	}
}
