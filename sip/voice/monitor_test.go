package voice_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/baresip"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/internal/tonephone"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/store"
)

// Each party talks on its own frequency (a DTMF row and two columns, far apart for Goertzel):
// the supervisor 697 Hz, the caller 1209 Hz, the agent 1477 Hz.
const (
	hzSupervisor = 697.0
	hzCaller     = 1209.0
	hzAgent      = 1477.0
)

// expectHears checks that each phone hears the others it should (level > 0.15: two tones
// summed give about 0.5 each) and nothing of the rest, itself included (level < 0.02).
func expectHears(t *testing.T, what string, phones []*tonephone.Phone, hears map[*tonephone.Phone][]*tonephone.Phone) {
	t.Helper()
	expectHearsFrom(t, what, phones, nil, hears)
}

// expectHearsFrom is expectHears with speakers the test does not listen to (a real phone
// whose audio it cannot read live).
func expectHearsFrom(t *testing.T, what string, phones, speakers []*tonephone.Phone, hears map[*tonephone.Phone][]*tonephone.Phone) {
	t.Helper()
	for _, p := range phones {
		p.Mark()
	}
	for _, p := range phones {
		p.Heard(1600 + 4800) // 200 ms settling, 600 ms analysed
	}
	for _, p := range phones {
		want := map[*tonephone.Phone]bool{}
		for _, q := range hears[p] {
			want[q] = true
		}
		var levels []string
		for _, q := range append(append([]*tonephone.Phone(nil), phones...), speakers...) {
			lv := p.Level(q.Hz)
			levels = append(levels, fmt.Sprintf("%s %.3f", q.Name, lv))
			switch {
			case want[q] && lv < 0.15:
				t.Errorf("%s: the %s does not hear the %s (%.0f Hz at level %.3f)", what, p.Name, q.Name, q.Hz, lv)
			case !want[q] && lv > 0.02:
				t.Errorf("%s: the %s hears the %s (%.0f Hz at level %.3f), must not", what, p.Name, q.Name, q.Hz, lv)
			}
		}
		t.Logf("%s: the %s hears %s", what, p.Name, strings.Join(levels, ", "))
	}
}

// monitorRig is the demo with a test number +15550199 whose flow queues in sales at once, and
// a 100 ms wrap-up (the call record is written when it ends).
func monitorRig(t *testing.T) *rig {
	return newRigWith(t, "15s", "30s", func(c *config.Config) {
		c.Numbers = append(c.Numbers, config.Number{DID: "+15550199", Flow: "straight"})
		c.Flows = append(c.Flows, config.Flow{Name: "straight", Nodes: []config.Node{{ID: "q", Type: "queue", Queue: "sales"}}})
		for i := range c.Queues {
			c.Queues[i].WrapUp = config.Duration(100 * time.Millisecond)
		}
	})
}

// liveCall is one bridged call: the customer (the carrier, SIPp + tone phone) calls
// +15550199 and agent 1001 (SIPp UAS + tonePhone) answers; the caller hangs up after hold.
type liveCall struct {
	r               *rig
	caller, agent   *tonephone.Phone
	callerS, agentS *sippRun
}

func (r *rig) liveCall(hold time.Duration) *liveCall {
	r.t.Helper()
	l := &liveCall{r: r, caller: tonephone.New(r.t, "caller", hzCaller), agent: tonephone.New(r.t, "agent", hzAgent)}
	port := testenv.FreePort(r.t)
	r.register("1001", port, true)
	l.agentS = r.sipp("agent 1001", "mon_agent.xml", port, "-m", "1", "-key", "rtpport", l.agent.Port())
	time.Sleep(100 * time.Millisecond) // SIPp binds its socket
	l.callerS = r.sipp("carrier", "mon_caller.xml", r.carrier, "-m", "1", "-d", fmt.Sprint(hold.Milliseconds()),
		"-key", "user", "carrier", "-key", "rtpport", l.caller.Port(), "-s", "+15550199", r.addr)
	r.waitLive("1001 bridged", func(c voice.LiveCall) bool { return c.Agent == "1001" })
	return l
}

// waitLive waits until a live call satisfies ok (hang guard 15 s).
func (r *rig) waitLive(what string, ok func(voice.LiveCall) bool) voice.LiveCall {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, c := range r.app.LiveCalls() {
			if ok(c) {
				return c
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: live calls %+v", what, r.app.LiveCalls())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// supervise dials code (*46/*47/*48 + 1001) from Bob's phone (1002, role supervisor), who
// stays for hold, and waits until he is on the call.
func (r *rig) supervise(code string, hold time.Duration, mode string) (*tonephone.Phone, *sippRun) {
	r.t.Helper()
	sup := tonephone.New(r.t, "supervisor", hzSupervisor)
	s := r.sipp("supervisor 1002", "mon_supervisor.xml", testenv.FreePort(r.t), "-m", "1", "-d", fmt.Sprint(hold.Milliseconds()),
		"-key", "user", "1002", "-key", "rtpport", sup.Port(), "-au", "1002", "-ap", "secret1002", "-auth_uri", code+"@"+r.addr, "-s", code, r.addr)
	r.waitLive("supervisor on the call", func(c voice.LiveCall) bool { return c.Supervisor == "1002" && c.Mode == mode })
	return sup, s
}

// finish waits for the phones' scenarios and returns the call's record.
func (l *liveCall) finish(others ...*sippRun) store.CallRecord {
	l.r.t.Helper()
	for _, s := range append(others, l.callerS, l.agentS) {
		s.wait()
	}
	var rec store.CallRecord
	waitRecords(l.r.t, l.r, func(recs []store.CallRecord) bool {
		for _, c := range recs {
			if c.Flow == "straight" {
				rec = c
				return true
			}
		}
		return false
	})
	return rec
}

// checkStretches checks the record's monitoring stretches: supervisor 1002 on agent 1001 in
// modes, in order, each with joined ≤ left, one after the other.
func checkStretches(t *testing.T, rec store.CallRecord, via string, modes ...string) {
	t.Helper()
	if len(rec.Monitoring) != len(modes) {
		t.Fatalf("record's monitoring %+v, want modes %v", rec.Monitoring, modes)
	}
	for i, m := range rec.Monitoring {
		if m.Supervisor != "1002" || m.Agent != "1001" || m.Mode != modes[i] || m.Via != via || m.Left.Before(m.Joined) ||
			i > 0 && m.Joined.Before(rec.Monitoring[i-1].Left) {
			t.Errorf("stretch %d: %+v, want 1002 on 1001 in %s via %s", i, m, modes[i], via)
		}
	}
}

// TestSupervisorListen (issue 14): Bob (supervisor) dials *461001 while agent 1001 talks to
// a caller: Bob hears both (1209 Hz and 1477 Hz), neither the caller nor the agent hears Bob's
// 697 Hz. Bob presses 5 (RFC 4733): whisper, the agent hears Bob, the caller still does not;
// he hangs up: the call goes on between caller and agent. The record has both stretches.
func TestSupervisorListen(t *testing.T) {
	t.Parallel()
	r := monitorRig(t)
	l := r.liveCall(14 * time.Second)
	sup, supS := r.supervise("*461001", 6*time.Second, "listen")
	all := []*tonephone.Phone{l.caller, l.agent, sup}
	if n := labelled(t, r, "ccswitch_monitor_active"); n != 1 {
		t.Errorf("ccswitch_monitor_active = %v while Bob listens", n)
	}
	expectHears(t, "listen", all, map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller}, sup: {l.caller, l.agent}})
	sup.Keys <- '5'
	r.waitLive("whisper by DTMF 5", func(c voice.LiveCall) bool { return c.Mode == "whisper" })
	expectHears(t, "whisper after DTMF 5", all, map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller, sup}, sup: {l.caller, l.agent}})
	supS.wait()
	r.waitLive("supervisor gone", func(c voice.LiveCall) bool { return c.Agent == "1001" && c.Supervisor == "" })
	expectHears(t, "after the supervisor left", []*tonephone.Phone{l.caller, l.agent}, map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller}})
	rec := l.finish()
	checkStretches(t, rec, "phone", "listen", "whisper")
	if n := labelled(t, r, "ccswitch_monitor_sessions_total", "mode", "listen", "via", "phone"); n != 1 {
		t.Errorf("ccswitch_monitor_sessions_total{listen,phone} = %v", n)
	}
	if n := labelled(t, r, "ccswitch_monitor_active"); n != 0 {
		t.Errorf("ccswitch_monitor_active = %v after the supervisor left", n)
	}
}

// TestSupervisorWhisper: *471001: the agent hears the caller and Bob, the caller hears only
// the agent, Bob hears both.
func TestSupervisorWhisper(t *testing.T) {
	t.Parallel()
	r := monitorRig(t)
	l := r.liveCall(10 * time.Second)
	sup, supS := r.supervise("*471001", 3*time.Second, "whisper")
	expectHears(t, "whisper", []*tonephone.Phone{l.caller, l.agent, sup},
		map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller, sup}, sup: {l.caller, l.agent}})
	rec := l.finish(supS)
	checkStretches(t, rec, "phone", "whisper")
}

// TestSupervisorBarge: *481001: three-way, everyone hears the two others and not themselves.
// Bob presses 4: back to listen, nobody hears him.
func TestSupervisorBarge(t *testing.T) {
	t.Parallel()
	r := monitorRig(t)
	l := r.liveCall(12 * time.Second)
	sup, supS := r.supervise("*481001", 5*time.Second, "barge")
	all := []*tonephone.Phone{l.caller, l.agent, sup}
	expectHears(t, "barge", all, map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent, sup}, l.agent: {l.caller, sup}, sup: {l.caller, l.agent}})
	sup.Keys <- '4'
	r.waitLive("listen by DTMF 4", func(c voice.LiveCall) bool { return c.Mode == "listen" })
	expectHears(t, "listen after DTMF 4", all, map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller}, sup: {l.caller, l.agent}})
	rec := l.finish(supS)
	checkStretches(t, rec, "phone", "barge", "listen")
}

// TestSupervisorFromDesktop: the wallboard's button (App.Monitor) rings Bob's registered phone
// (a SIPp UAS), which answers into whisper; the caller ending the call hangs Bob up.
func TestSupervisorFromDesktop(t *testing.T) {
	t.Parallel()
	r := monitorRig(t)
	l := r.liveCall(7 * time.Second)
	sup := tonephone.New(t, "supervisor", hzSupervisor)
	port := testenv.FreePort(t)
	r.register("1002", port, false)
	supS := r.sipp("supervisor 1002", "mon_agent.xml", port, "-m", "1", "-key", "rtpport", sup.Port())
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.app.Monitor(ctx, "1002", "1001", "whisper"); err != nil {
		t.Fatal(err)
	}
	expectHears(t, "whisper from the desktop", []*tonephone.Phone{l.caller, l.agent, sup},
		map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller, sup}, sup: {l.caller, l.agent}})
	rec := l.finish(supS) // the caller's BYE ends the call; ccswitch BYEs the supervisor
	checkStretches(t, rec, "desktop", "whisper")
}

// TestSupervisorRefused: monitoring codes that must not connect, each with its status and
// counted by reason: Carol (1003, an agent) is no supervisor — 403 whether or not the target
// is on a call; Bob without an extension 484, on an unknown one 404, on an idle agent 480, on
// himself 403; a second supervisor on a monitored call 486 — and the wallboard's Monitor
// refuses a non-supervisor with ErrNotSupervisor.
func TestSupervisorRefused(t *testing.T) {
	t.Parallel()
	r := monitorRig(t)
	refuse := func(ext, code string, want int) {
		t.Helper()
		s := r.sipp("refused "+ext+" "+code, "mon_refused.xml", testenv.FreePort(t), "-m", "1",
			"-key", "user", ext, "-key", "rtpport", "40000", "-au", ext, "-ap", "secret"+ext, "-auth_uri", code+"@"+r.addr, "-s", code, r.addr)
		s.wait()
		if !strings.Contains(s.logText(), fmt.Sprintf("FINAL %d", want)) {
			t.Errorf("%s dialling %s: want %d, log:\n%s", ext, code, want, tail(s.logText()))
		}
	}
	refuse("1003", "*461001", 403)
	refuse("1002", "*46", 484)
	refuse("1002", "*469999", 404)
	refuse("1002", "*461001", 480)
	refuse("1002", "*461002", 403)
	err := r.app.Monitor(context.Background(), "1003", "1001", "listen")
	if err != voice.ErrNotSupervisor && (err == nil || !strings.Contains(err.Error(), "not-supervisor")) {
		t.Errorf("Monitor by 1003: %v, want ErrNotSupervisor", err)
	}
	l := r.liveCall(8 * time.Second)
	refuse("1003", "*481001", 403)
	_, supS := r.supervise("*461001", 3*time.Second, "listen")
	refuse("1002", "*471001", 486) // Bob again from another phone: one supervisor per call
	supS.wait()
	l.finish()
	for reason, want := range map[string]float64{"not-supervisor": 3, "no-extension": 1, "unknown-agent": 1, "no-call": 1, "self": 1, "busy": 1} {
		if n := labelled(t, r, "ccswitch_monitor_refused_total", "reason", reason); n != want {
			t.Errorf("ccswitch_monitor_refused_total{reason=%q} = %v, want %v", reason, n, want)
		}
	}
}

// labelled reads the value of a counter or gauge of the rig's registry with the given label pairs (0
// when no such series was counted yet).
func labelled(t *testing.T, r *rig, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestSupervisorOnDeviceSeam: the browser side plugs in through App.SetSupervisorDevice — here
// a leg that is a media call answered for a bare RTP socket, no SIP (what a WebRTC leg is to
// the mixer). The wallboard's Barge puts it three-way; its hang-up leaves; the record has
// the stretch. A device that declines (nil) falls back to the phone, which is not registered:
// the dial fails.
func TestSupervisorOnDeviceSeam(t *testing.T) {
	t.Parallel()
	r := monitorRig(t)
	l := r.liveCall(9 * time.Second)
	sup := tonephone.New(t, "supervisor", hzSupervisor)
	gone := make(chan struct{})
	var once sync.Once
	useDevice := true
	r.app.SetSupervisorDevice(func(_ context.Context, supervisor string) (*voice.SupervisorLeg, error) {
		if !useDevice {
			return nil, nil
		}
		mc, err := r.eng.NewCall(media.CallOptions{ID: "browser-" + supervisor})
		if err != nil {
			return nil, err
		}
		offer := fmt.Sprintf("v=0\r\no=browser 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %s RTP/AVP 0 101\r\n"+
			"a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", sup.Port())
		if _, err := mc.AnswerLocal(media.LegA, []byte(offer)); err != nil {
			mc.Close()
			return nil, err
		}
		return &voice.SupervisorLeg{Media: mc, Done: gone, Hangup: func() { once.Do(func() { close(gone) }) }}, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.app.Monitor(ctx, "1002", "1001", "barge"); err != nil {
		t.Fatal(err)
	}
	expectHears(t, "barge on the device seam", []*tonephone.Phone{l.caller, l.agent, sup},
		map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent, sup}, l.agent: {l.caller, sup}, sup: {l.caller, l.agent}})
	once.Do(func() { close(gone) }) // the supervisor hangs up in the browser
	r.waitLive("device left", func(c voice.LiveCall) bool { return c.Agent == "1001" && c.Supervisor == "" })
	useDevice = false
	if err := r.app.Monitor(ctx, "1002", "1001", "listen"); err == nil {
		t.Error("Monitor with no device and no registered phone succeeded")
	}
	rec := l.finish()
	checkStretches(t, rec, "desktop", "barge")
}

// TestSupervisorBaresipWhisper: the supervisor is a real softphone — Debian's baresip as
// extension 1002 (not registered, digest on the INVITE) sending a 697 Hz tone (aufile) —
// dialling *471001: the agent hears the caller and baresip, the caller only the agent; what
// baresip decoded (sndfile's dump) holds the caller's and the agent's tones and not its own.
func TestSupervisorBaresipWhisper(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "baresip")
	r := monitorRig(t)
	l := r.liveCall(14 * time.Second)
	src := filepath.Join(t.TempDir(), "supervisor.wav")
	baresip.WriteTone(t, src, hzSupervisor, 10*time.Second)
	dir := baresip.Write(t, baresip.Config{AudioSource: src}, baresip.Account{User: "1002", Password: "secret1002",
		Registrar: r.addr, NoRegister: true})
	p := baresip.Start(t, dir, 8*time.Second, "/dial *471001")
	r.waitLive("baresip whispers", func(c voice.LiveCall) bool { return c.Supervisor == "1002" && c.Mode == "whisper" })
	bs := &tonephone.Phone{Name: "supervisor (baresip)", Hz: hzSupervisor}
	expectHearsFrom(t, "whisper from baresip", []*tonephone.Phone{l.caller, l.agent}, []*tonephone.Phone{bs},
		map[*tonephone.Phone][]*tonephone.Phone{l.caller: {l.agent}, l.agent: {l.caller, bs}})
	if !p.Wait(20 * time.Second) {
		t.Fatalf("baresip did not quit\n%s", p.Tail(3000))
	}
	dumps, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(dumps) != 1 {
		t.Fatalf("baresip dumped %v\n%s", dumps, p.Tail(3000))
	}
	heard := wavSamples(t, dumps[0])
	for _, c := range []struct {
		who  string
		hz   float64
		want bool
	}{{"the caller", hzCaller, true}, {"the agent", hzAgent, true}, {"itself", hzSupervisor, false}} {
		lv := tonephone.MedianLevel(heard, c.hz)
		t.Logf("baresip heard %s at level %.3f (median of 200 ms windows)", c.who, lv)
		if c.want && lv < 0.15 || !c.want && lv > 0.02 {
			t.Errorf("baresip hears %s at level %.3f", c.who, lv)
		}
	}
	rec := l.finish()
	checkStretches(t, rec, "phone", "whisper")
}

// wavSamples reads the 16-bit samples of a PCM WAV's data chunk.
func wavSamples(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 12; i+8 <= len(b); {
		id, n := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		i += 8
		if id == "data" {
			if n > len(b)-i || n == 0 {
				n = len(b) - i
			}
			out := make([]int16, n/2)
			for k := range out {
				out[k] = int16(binary.LittleEndian.Uint16(b[i+2*k:]))
			}
			return out
		}
		i += n + n%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}
