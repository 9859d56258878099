package voice_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

// waitingDesk is cmd/ccswitch's web.Waiting over the voice App.
type waitingDesk struct{ app *voice.App }

func (w waitingDesk) Desk(agent string) any { return w.app.Desk(agent) }
func (w waitingDesk) VoicemailFile(agent, task string) (string, bool) {
	v, ok := w.app.Voicemail(agent, task)
	return v.Recording, ok
}
func (w waitingDesk) VoicemailDone(agent, task string) error { return w.app.VoicemailDone(agent, task) }

// desktop serves the agents' desktop (web) over r, as cmd/ccswitch does, until the test ends.
func (r *rig) desktop() string {
	r.t.Helper()
	srv, err := web.New(web.Options{Config: r.cfg, Store: r.st, Center: r.acd, Logger: logger()})
	if err != nil {
		r.t.Fatal(err)
	}
	srv.SetWaiting(waitingDesk{r.app})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Serve(ctx, ln); close(done) }()
	r.t.Cleanup(func() { cancel(); <-done }) // before the rig stops (cleanups run last first)
	return "http://" + ln.Addr().String()
}

// agentSession is an agent logged in to the desktop.
type agentSession struct {
	t    *testing.T
	base string
	c    *http.Client
}

func login(t *testing.T, base, agent, password string) *agentSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &agentSession{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
	if code, body := s.do("POST", "/api/login", map[string]string{"agent": agent, "password": password}); code != 200 {
		t.Fatalf("%s's login: %d %s", agent, code, body)
	}
	return s
}

func (s *agentSession) do(method, path string, body any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode == 200 && strings.HasPrefix(path, "/api/waiting/voicemail/") && method == "GET" && ct != "audio/wav" {
		s.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return resp.StatusCode, b
}

// TestSIPpVoicemailAcrossRestart (issue 15, invariant 9): a message to a queue is a queued
// contact, so a restart loses none. A caller in support leaves 2 s of tone and hangs up; the
// message is on disk (its WAV and its record) when the call ends. ccswitch stops and a new one
// starts on the same data folder: the message is in support again (priority and requirements
// kept), agent 1003, made ready, gets it at once, and the desktop serves its WAV to 1003 —
// byte for byte the recording — and to no other agent; Done completes it and deletes the
// record. The variants: the message still waiting at the restart (with an older stored one
// whose WAV was lost: given first, the player answering 404), and the message already taken
// by 1003 but not completed (held), which comes back too.
func TestSIPpVoicemailAcrossRestart(t *testing.T) {
	t.Parallel()
	for _, held := range []bool{false, true} {
		name := map[bool]string{false: "waiting", true: "held"}[held]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir, recordings := t.TempDir(), t.TempDir()
			mutate := func(c *config.Config) {
				supportOnly(0, false, true)(c)
				c.Media.Recordings = recordings
				// Menu 2 goes through a set node giving priority 7 (kept across the restart).
				for i := range c.Flows {
					if c.Flows[i].Name != "demo" {
						continue
					}
					for j := range c.Flows[i].Nodes {
						if n := &c.Flows[i].Nodes[j]; n.ID == "menu" {
							for k := range n.Choices {
								if n.Choices[k].Next == "support" {
									n.Choices[k].Next = "prio"
								}
							}
						}
					}
					seven := 7
					c.Flows[i].Nodes = append(c.Flows[i].Nodes, config.Node{ID: "prio", Type: "set", Priority: &seven, Next: "support"})
				}
			}
			r := newRigIn(t, dir, "5s", "30s", mutate)
			r.register("1003", testenv.FreePort(t), true)
			r.setReady("1003", false)
			r.caller("voicemail.xml", "+15550103").wait()
			s := r.summary()
			if s.Result == nil || s.Result.Outcome != ivr.OutcomeVoicemail || len(s.Result.Recordings) != 1 {
				t.Fatalf("result %+v err %v", s.Result, s.Err)
			}
			path := s.Result.Recordings[0]
			wav, err := os.ReadFile(path)
			if err != nil || len(wav) < 44+32000 {
				t.Fatalf("message %s: %d bytes, %v", path, len(wav), err)
			}
			// The call has ended: the message is already on disk.
			vms, err := r.st.Voicemails()
			if err != nil || len(vms) != 1 || vms[0].Queue != "support" || vms[0].Recording != path || vms[0].Priority != 7 {
				t.Fatalf("stored messages %+v %v", vms, err)
			}
			task := vms[0].Task // "<call>#vm": escaped in URLs, as the desktop does
			if held {
				r.setReady("1003", true)
				select {
				case v := <-r.voicemails:
					if v.Task != task || v.Agent != "1003" {
						t.Fatalf("message taken %+v", v)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the message was not given to 1003 before the restart")
				}
			}
			r.stop()
			completed := 1.0
			if !held {
				// An older message is stored too (its WAV lost): messages come back oldest
				// first, and one without its recording is still given, the player saying so.
				st, err := store.Open(filepath.Join(dir, "db"))
				if err != nil {
					t.Fatal(err)
				}
				err = st.PutVoicemail(store.Voicemail{Task: "earlier#vm", Queue: "support", Priority: 7, From: "+15550177",
					DID: "+15550103", Recorded: time.Now().Add(-time.Hour), Recording: filepath.Join(recordings, "gone.wav")})
				st.Close()
				if err != nil {
					t.Fatal(err)
				}
				completed = 2
			}

			r2 := newRigIn(t, dir, "5s", "30s", mutate)
			base := r2.desktop()
			carol := login(t, base, "1003", "secret1003")
			alice := login(t, base, "1001", "secret1001")
			r2.setReady("1003", true)
			if !held {
				select {
				case v := <-r2.voicemails:
					if v.Task != "earlier#vm" || v.Agent != "1003" || v.From != "+15550177" {
						t.Fatalf("first message given after the restart %+v, want the older one", v)
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("the older message was not given to 1003; support %+v", r2.queue("support"))
				}
				if code, _ := carol.do("GET", "/api/waiting/voicemail/"+url.PathEscape("earlier#vm"), nil); code != 404 {
					t.Fatalf("a lost recording: %d", code)
				}
				if code, body := carol.do("POST", "/api/waiting/voicemail/"+url.PathEscape("earlier#vm")+"/done", struct{}{}); code != 200 {
					t.Fatalf("1003's Done on the older message: %d %s", code, body)
				}
			}
			select {
			case v := <-r2.voicemails:
				if v.Task != task || v.Agent != "1003" || v.Queue != "support" || v.Recording != path {
					t.Fatalf("message given after the restart %+v", v)
				}
			case <-time.After(15 * time.Second):
				t.Fatalf("the stored message was not given to 1003 after the restart; support %+v", r2.queue("support"))
			}
			code, body := carol.do("GET", "/api/waiting", nil)
			var desk voice.Desk
			if code != 200 || json.Unmarshal(body, &desk) != nil || len(desk.Voicemails) != 1 || desk.Voicemails[0].Task != task {
				t.Fatalf("1003's desk: %d %s", code, body)
			}
			if code, got := carol.do("GET", "/api/waiting/voicemail/"+url.PathEscape(task), nil); code != 200 || !bytes.Equal(got, wav) {
				t.Fatalf("1003's player: %d, %d bytes, want the %d of the recording", code, len(got), len(wav))
			}
			if code, _ := alice.do("GET", "/api/waiting/voicemail/"+url.PathEscape(task), nil); code != 404 {
				t.Fatalf("1001 fetched 1003's message: %d", code)
			}
			if code, _ := alice.do("POST", "/api/waiting/voicemail/"+url.PathEscape(task)+"/done", struct{}{}); code != 404 {
				t.Fatalf("1001 completed 1003's message: %d", code)
			}
			if vms, _ := r2.st.Voicemails(); len(vms) != 1 {
				t.Fatalf("the message is stored before Done: %+v", vms)
			}
			if code, body := carol.do("POST", "/api/waiting/voicemail/"+url.PathEscape(task)+"/done", struct{}{}); code != 200 {
				t.Fatalf("1003's Done: %d %s", code, body)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				q := r2.queue("support")
				vms, err := r2.st.Voicemails()
				if float64(q.Completed) == completed && err == nil && len(vms) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after Done: support %+v, stored %+v %v", q, vms, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if code, _ := carol.do("GET", "/api/waiting/voicemail/"+url.PathEscape(task), nil); code != 404 {
				t.Fatalf("a completed message is still served: %d", code)
			}
		})
	}
}

// TestSIPpVoicemailAutoComplete (invariant 9): an agent who never presses Done has the message
// completed for them after the hold (VoicemailHold, 3 s here): the task completes, the stored
// record goes (a later restart does not bring it back), and the player no longer serves it.
func TestSIPpVoicemailAutoComplete(t *testing.T) {
	t.Parallel()
	recordings := t.TempDir()
	r := newRigIn(t, t.TempDir(), "5s", "30s", func(c *config.Config) {
		supportOnly(0, false, true)(c)
		c.Media.Recordings = recordings
	}, func(o *voice.StackOptions) { o.VoicemailHold = 3 * time.Second })
	r.register("1003", testenv.FreePort(t), true)
	r.setReady("1003", false)
	r.caller("voicemail.xml", "+15550103").wait()
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeVoicemail {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	if vms, err := r.st.Voicemails(); err != nil || len(vms) != 1 {
		t.Fatalf("stored messages %+v %v", vms, err)
	}
	r.setReady("1003", true)
	var task string
	select {
	case v := <-r.voicemails:
		task = v.Task
	case <-time.After(10 * time.Second):
		t.Fatal("the message was not given to 1003")
	}
	deadline := time.Now().Add(15 * time.Second) // a bound, not a threshold
	for {
		q := r.queue("support")
		vms, err := r.st.Voicemails()
		if q.Completed == 1 && err == nil && len(vms) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the hold: support %+v, stored %+v %v", q, vms, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, ok := r.app.Voicemail("1003", task); ok {
		t.Fatal("a message completed by the hold is still served")
	}
}
