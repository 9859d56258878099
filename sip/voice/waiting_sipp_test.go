package voice_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/ivr"
)

// supportOnly makes the demo's support node announce every `every` (announce false if 0),
// and keeps its callback and message options only if asked.
func supportOnly(every time.Duration, callback, voicemail bool) func(*config.Config) {
	return func(c *config.Config) {
		for i := range c.Flows {
			for j := range c.Flows[i].Nodes {
				n := &c.Flows[i].Nodes[j]
				if n.ID != "support" || n.Type != "queue" {
					continue
				}
				n.Announce, n.AnnounceEvery = every > 0, config.Duration(every)
				if !callback {
					n.Callback = nil
				}
				if !voicemail {
					n.Voicemail = nil
				} else {
					n.Voicemail.After = 0
					n.Voicemail.MaxLength = config.Duration(10 * time.Second)
				}
			}
		}
	}
}

// TestSIPpAnnouncements (issue 15): support announces every 6 s here (the demo: 30 s). A
// caller waits 16 s in support (1003 logged in, not ready): "please hold" and the position
// at entry, then the position 6 s and 12 s after entry (each on time within 1.5 s, the time
// a prompt can take to start on this loaded machine), and no expected wait, since the queue
// has no handle times yet (no honest estimate).
func TestSIPpAnnouncements(t *testing.T) {
	t.Parallel()
	r := newRigWith(t, "5s", "30s", supportOnly(6*time.Second, false, false))
	r.register("1003", testenv.FreePort(t), true)
	r.setReady("1003", false)
	uac := r.caller("wait_support.xml", "+15550103")
	uac.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeAbandoned || s.Result.Queue != "support" {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	var entry time.Time
	var at []time.Time
	var names []string
	for len(r.prompts) > 0 {
		p := <-r.prompts
		names = append(names, p.name)
		switch p.name {
		case "please-hold":
			entry = p.at
		case "you-are-caller":
			at = append(at, p.at)
		case "expected-wait", "less-than-a-minute":
			t.Errorf("an expected wait was announced with no handle time in the queue")
		}
	}
	if len(at) != 3 || entry.IsZero() {
		t.Fatalf("%d position announcements, want 3 (entry, +6 s, +12 s); prompts %v", len(at), names)
	}
	for i := 1; i < len(at); i++ {
		got, want := at[i].Sub(entry), time.Duration(i)*6*time.Second
		if d := got - want; d < -200*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("announcement %d came %v after entry, want %v (within 1.5 s); prompts %v", i+1, got, want, names)
		}
	}
	// The caller heard the announcements: RTP went to it the whole wait.
	if s.Media.A.PacketsOut < 600 {
		t.Errorf("caller got %d RTP packets in ~16 s of waiting", s.Media.A.PacketsOut)
	}
}

// TestSIPpVoicemailToQueue (issue 15): a caller in support (1003 not ready) presses 2 for
// the message option, leaves 2 s of tone after the prompt and hangs up. The message is a WAV
// with the caller's audio, and a task of support's voice channel: when 1003 is ready it is
// theirs at once (no ring), the desktop's player can fetch it, and Done completes it.
func TestSIPpVoicemailToQueue(t *testing.T) {
	t.Parallel()
	recordings := t.TempDir()
	r := newRigWith(t, "5s", "30s", func(c *config.Config) {
		supportOnly(0, false, true)(c)
		c.Media.Recordings = recordings
	})
	r.register("1003", testenv.FreePort(t), true)
	r.setReady("1003", false)
	r.caller("voicemail.xml", "+15550103").wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeVoicemail || len(s.Result.Recordings) != 1 {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	path := s.Result.Recordings[0]
	// A two-channel WAV (the caller first), 8 kHz 16-bit: 32000 bytes a second.
	fi, err := os.Stat(path)
	if err != nil || filepath.Dir(path) != recordings {
		t.Fatalf("message %s: %v", path, err)
	}
	if fi.Size() < 44+32000 {
		t.Errorf("message is %d bytes, want the caller's 2 s of tone (at least 1 s)", fi.Size())
	}
	if q := r.queue("support"); q.Waiting != 1 {
		t.Fatalf("support %+v: the message is not waiting", q)
	}
	r.setReady("1003", true)
	var vm struct{ task string }
	select {
	case v := <-r.voicemails:
		if v.Agent != "1003" || v.Queue != "support" || v.Recording != path {
			t.Fatalf("message taken %+v", v)
		}
		vm.task = v.Task
	case <-time.After(10 * time.Second):
		t.Fatal("the message was not given to 1003")
	}
	got, ok := r.app.Voicemail("1003", vm.task)
	if !ok || got.Recording != path {
		t.Fatalf("1003's player gets %+v %v", got, ok)
	}
	if _, ok := r.app.Voicemail("1001", vm.task); ok {
		t.Fatal("another agent can fetch 1003's message")
	}
	if fi, err := os.Stat(got.Recording); err != nil || fi.Size() == 0 {
		t.Fatalf("recording %v %v", fi, err)
	}
	if err := r.app.VoicemailDone("1003", vm.task); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		q := r.queue("support")
		if q.Answered == 1 && q.Completed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("support %+v", q)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
