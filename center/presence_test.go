package center_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
)

// want is what an agent shows after a step: signed in for voice and text, the engine's state
// and reason (as the snapshot and the presence both show them).
type want struct {
	voice, text bool
	state       acd.AgentState
	reason      string
}

// TestPresenceTable walks agents through the ways presence changes (invariants 3 and 4): each
// step is one input, then the agent's presence and the engine's snapshot must agree with the
// row. a1 has auto_login, a2 has not.
func TestPresenceTable(t *testing.T) {
	on := func(e *env, f func() error) { e.t.Helper(); must(e.t, f()) }
	for _, tc := range []struct {
		name  string
		steps []struct {
			do   func(e *env)
			who  string
			want want
		}
	}{
		{"phone, then a desktop in and out (the issue's case)", steps(
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceUp("a1", "sip:a@phone") }) }, want{voice: true, state: acd.Available}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionOpened("a1") }) }, want{voice: true, text: true, state: acd.Available}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionClosed("a1") }) }, want{voice: true, state: acd.Available}),
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceDown("a1", "sip:a@phone") }) }, want{state: acd.Offline}),
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceUp("a1", "sip:a@phone") }) }, want{voice: true, state: acd.Available}),
		)},
		{"desktop first: not ready until the agent says so; a phone adds voice", steps(
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionOpened("a1") }) }, want{text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceUp("a1", "sip:a@phone") }) }, want{voice: true, text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SetReady("a1", true, "") }) }, want{voice: true, text: true, state: acd.Available}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SetReady("a1", false, "Lunch") }) }, want{voice: true, text: true, state: acd.NotReady, reason: "Lunch"}),
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceDown("a1", "sip:a@phone") }) }, want{text: true, state: acd.NotReady, reason: "Lunch"}),
		)},
		{"two desktop sessions: one expiring keeps text", steps(
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionOpened("a1") }) }, want{text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionOpened("a1") }) }, want{text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionClosed("a1") }) }, want{text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionClosed("a1") }) }, want{state: acd.Offline}),
		)},
		{"an explicit voice logout beats auto_login until a login", steps(
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceUp("a1", "sip:a@phone") }) }, want{voice: true, state: acd.Available}),
			step("a1", func(e *env) { on(e, func() error { return e.c.VoiceLogout("a1") }) }, want{state: acd.Offline}),
			step("a1", func(e *env) { on(e, func() error { return e.c.DeviceUp("a1", "sip:a@second-phone") }) }, want{state: acd.Offline}),
			step("a1", func(e *env) { on(e, func() error { return e.c.SessionOpened("a1") }) }, want{text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
			step("a1", func(e *env) { on(e, func() error { return e.c.VoiceLogin("a1") }) }, want{voice: true, text: true, state: acd.NotReady, reason: center.ReasonLoggedIn}),
		)},
		{"no auto_login: a phone alone does not sign in; the feature code does, then toggles", steps(
			step("a2", func(e *env) { on(e, func() error { return e.c.DeviceUp("a2", "sip:b@phone") }) }, want{state: acd.Offline}),
			step("a2", func(e *env) { toggle(e, "a2") }, want{voice: true, state: acd.Available}),
			step("a2", func(e *env) { toggle(e, "a2") }, want{voice: true, state: acd.NotReady, reason: "*45"}),
			step("a2", func(e *env) { toggle(e, "a2") }, want{voice: true, state: acd.Available}),
			step("a2", func(e *env) { on(e, func() error { return e.c.VoiceLogout("a2") }) }, want{state: acd.Offline}),
		)},
		{"an explicit login needs a device", steps(
			step("a2", func(e *env) { on(e, func() error { return e.c.VoiceLogin("a2") }) }, want{state: acd.Offline}),
			step("a2", func(e *env) { on(e, func() error { return e.c.DeviceUp("a2", "sip:b@phone") }) }, want{voice: true, state: acd.Available}),
		)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, testYAML, center.Options{})
			for i, s := range tc.steps {
				s.do(e)
				e.sync()
				check(t, e, i, s.who, s.want)
			}
		})
	}
}

type stepT = struct {
	do   func(e *env)
	who  string
	want want
}

func step(who string, do func(e *env), w want) stepT { return stepT{do: do, who: who, want: w} }
func steps(s ...stepT) []stepT                       { return s }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func toggle(e *env, agent string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := e.c.ToggleReady(ctx, agent, "*45"); err != nil {
		e.t.Fatal(err)
	}
}

func check(t *testing.T, e *env, i int, who string, w want) {
	t.Helper()
	pr, ok := e.c.Presence(who)
	if !ok {
		t.Fatalf("step %d: no presence for %s", i, who)
	}
	a, _ := e.c.Snapshot().Agent(who)
	var chans acd.ChannelSet
	if w.voice {
		chans |= acd.ChannelsOf(acd.Voice)
	}
	if w.text {
		chans |= acd.ChannelsOf(acd.Chat, acd.Email, acd.Social)
	}
	bad := []string{}
	if pr.Voice != w.voice || pr.Text != w.text {
		bad = append(bad, "presence voice/text")
	}
	if pr.State != w.state || pr.Reason != w.reason {
		bad = append(bad, "presence state")
	}
	if a.State != w.state || a.Reason != w.reason {
		bad = append(bad, "engine state")
	}
	if w.state != acd.Offline && a.Channels != chans {
		bad = append(bad, "engine channels "+a.Channels.String())
	}
	if len(bad) > 0 {
		t.Fatalf("step %d (%s): %s\npresence %+v\nengine %+v\nwant %+v", i, who, strings.Join(bad, ", "), pr, a, w)
	}
}

// The flows learn who is signed in without waiting for a snapshot; a watcher sees every change.
func TestPresenceWatchedAndStaffing(t *testing.T) {
	e := newEnv(t, testYAML, center.Options{})
	seen := make(chan center.Presence, 64)
	cancel := e.c.WatchPresence(func(p center.Presence) { seen <- p })
	defer cancel()
	if e.c.LoggedIn("q") {
		t.Fatal("q staffed with nobody signed in")
	}
	must(t, e.c.SessionOpened("a2"))
	e.sync()
	if !e.c.LoggedIn("q") || e.c.LoggedIn("other") {
		t.Fatalf("staffing: q %v, other %v", e.c.LoggedIn("q"), e.c.LoggedIn("other"))
	}
	var last center.Presence
	for len(seen) > 0 {
		last = <-seen
	}
	if last.Agent != "a2" || !last.Text || last.State != acd.NotReady {
		t.Fatalf("last presence seen: %+v", last)
	}
	if err := e.c.SessionOpened("nobody"); err == nil {
		t.Fatal("an unknown agent was accepted")
	}
}

// The engine's RONA is the same not-ready: the agent's next "ready" ends it, whoever says it.
func TestRONAEndsWithReady(t *testing.T) {
	e := newEnv(t, testYAML, center.Options{})
	must(t, e.c.DeviceUp("a1", "sip:a@phone"))
	in := center.NewInbox()
	must(t, e.c.Enqueue(e.ctx, acd.Task{ID: "c1", Queue: "q", Channel: acd.Voice}, in))
	e.sync()
	e.advance(11 * time.Second) // rona_timeout 10s, rona_misses 1
	check(t, e, 0, "a1", want{voice: true, state: acd.RONA, reason: "rona"})
	if pr, _ := e.c.Presence("a1"); pr.Ready {
		t.Fatalf("ready during RONA: %+v", pr)
	}
	must(t, e.c.SetReady("a1", true, ""))
	e.sync()
	check(t, e, 1, "a1", want{voice: true, state: acd.Busy}) // offered c1 again at once
}
