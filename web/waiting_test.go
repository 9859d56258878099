package web_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// fakeWaiting is the voice path's side of the desktop: alice holds message m1.
type fakeWaiting struct {
	file string
	done []string
}

func (f *fakeWaiting) Desk(agent string) any {
	if agent != "alice" {
		return map[string]any{}
	}
	return map[string]any{"voicemails": []map[string]string{{"task": "m1", "from": "+15550199"}}}
}

func (f *fakeWaiting) VoicemailFile(agent, task string) (string, bool) {
	return f.file, agent == "alice" && task == "m1"
}

func (f *fakeWaiting) VoicemailDone(agent, task string) error {
	if agent != "alice" || task != "m1" {
		return errors.New("not held")
	}
	f.done = append(f.done, task)
	return nil
}

// TestWaitingDesk (issue 15): the desktop's view of waiting callers. An agent sees only what
// they hold, fetches the WAV of a message they hold (audio/wav), and no other agent can
// fetch it or complete it; without a session: 401.
func TestWaitingDesk(t *testing.T) {
	h := start(t)
	wav := filepath.Join(t.TempDir(), "m1.wav")
	if err := os.WriteFile(wav, []byte("RIFF....WAVEfmt "), 0o600); err != nil {
		t.Fatal(err)
	}
	fw := &fakeWaiting{file: wav}
	h.Server.SetWaiting(fw)

	anon := newClient(t, h.URL)
	if code := anon.do("GET", "/api/waiting", nil, nil); code != 401 {
		t.Fatalf("without a session: %d", code)
	}
	alice, bob := newClient(t, h.URL), newClient(t, h.URL)
	if code := alice.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil); code != 200 {
		t.Fatal(code)
	}
	if code := bob.do("POST", "/api/login", map[string]string{"agent": "bob", "password": "bob-pw"}, nil); code != 200 {
		t.Fatal(code)
	}
	var desk struct {
		Voicemails []map[string]string `json:"voicemails"`
	}
	if code := alice.do("GET", "/api/waiting", nil, &desk); code != 200 || len(desk.Voicemails) != 1 {
		t.Fatalf("alice's desk: %d %+v", code, desk)
	}
	resp, err := alice.c.Get(h.URL + "/api/waiting/voicemail/m1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" || string(body) != "RIFF....WAVEfmt " {
		t.Fatalf("alice's message: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for _, path := range []string{"/api/waiting/voicemail/m1", "/api/waiting/voicemail/..%2f..%2fetc%2fpasswd"} {
		resp, err := bob.c.Get(h.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("bob GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	if code := bob.do("POST", "/api/waiting/voicemail/m1/done", map[string]string{}, nil); code != 404 {
		t.Errorf("bob completes alice's message: %d", code)
	}
	if code := alice.do("POST", "/api/waiting/voicemail/m1/done", map[string]string{}, nil); code != 200 || len(fw.done) != 1 {
		t.Errorf("alice's Done: %d %v", code, fw.done)
	}
}
