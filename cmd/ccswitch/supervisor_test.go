package main

import (
	"context"
	"fmt"
	"github.com/ccswitch/ccswitch/internal/chrome"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ccswitch/ccswitch/internal/baresip"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/internal/tonephone"
	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/store"
)

// Each party talks on its own frequency (a DTMF row and two columns, far apart for Goertzel),
// as in sip/voice's monitoring tests: the supervisor 697 Hz, the caller 1209 Hz, the agent
// (the browser's fake microphone) 1477 Hz.
const (
	hzSupervisor = 697.0
	hzCaller     = 1209.0
	hzAgent      = 1477.0
)

// earJS installs window.ear(): it taps the browser phone's remote stream (what the agent
// hears, the <audio> element's source) with Web Audio and appends it, downsampled to 8 kHz
// 16-bit (a box filter over 6 samples of a 48 kHz context), to window.heard. It runs through
// the DevTools protocol, not as a page script: the desktop's CSP (script-src 'self') is not
// involved and the product ships nothing for it. A ScriptProcessorNode rather than an
// AudioWorklet: a worklet's module must be a same-origin file, which would be a test-only
// asset in the binary.
//
// It also asks getUserMedia for the microphone without the browser's audio processing: its
// noise suppressor takes a steady tone for noise and attenuates the agent's 1477 Hz by some
// 40 dB (what the caller hears is then mostly the suppressor's residue), and its echo
// canceller hears the caller's tone played out. The product keeps them (a headset agent wants them).
const earJS = `window.heard = [];
{
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = () => gum({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
}
window.ear = () => {
  const el = document.querySelector('#phone-audio');
  if (!el.srcObject) return false;
  if (window.earCtx) return true;
  const ctx = new AudioContext({ sampleRate: 48000 });
  const src = ctx.createMediaStreamSource(el.srcObject);
  const sp = ctx.createScriptProcessor(2048, 1, 1);
  const mute = ctx.createGain();
  mute.gain.value = 0;
  let acc = 0, k = 0;
  sp.onaudioprocess = (e) => {
    const x = e.inputBuffer.getChannelData(0);
    for (let i = 0; i < x.length; i++) {
      acc += x[i];
      if (++k === 6) { window.heard.push(Math.max(-32768, Math.min(32767, Math.round(acc / 6 * 32767)))); acc = 0; k = 0; }
    }
  };
  src.connect(sp); sp.connect(mute); mute.connect(ctx.destination);
  ctx.resume();
  window.earCtx = ctx; window.earNode = sp;
  return true;
};
true`

// browserEar is what the agent's page hears.
type browserEar struct {
	t   *testing.T
	ctx context.Context
}

func (e browserEar) Mark() {
	page(e.t, e.ctx, "the page's ear forgets", chromedp.Evaluate[chromedp.Void](`window.heard = []`))
}

// samples waits for n samples heard since Mark and returns them.
func (e browserEar) samples(n int) []int16 {
	e.t.Helper()
	page(e.t, e.ctx, fmt.Sprintf("the page hears %d samples", n), chrome.WaitJS(fmt.Sprintf(`window.heard.length >= %d`, n)))
	sctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	got, err := chromedp.Run(sctx, chromedp.Evaluate[[]int](`window.heard`))
	if err != nil {
		e.t.Fatalf("read window.heard: %v", err)
	}
	out := make([]int16, len(got))
	for i, v := range got {
		out[i] = int16(v)
	}
	return out
}

// party is one side of a monitored call as the test hears it: a tone phone or a browser page.
type party struct {
	name string
	hz   float64
	tone *tonephone.Phone
	ear  *browserEar
}

// expectHears checks that each party listed in hears (a listener) hears those it lists
// (level > 0.15: two tones summed give about 0.5 each) and none of the other parties, itself
// included (level < 0.02). A party not in hears only speaks (a phone that hung up).
func expectHears(t *testing.T, what string, parties []party, hears map[string][]string) {
	t.Helper()
	var listeners []party
	for _, p := range parties {
		if _, ok := hears[p.name]; ok {
			listeners = append(listeners, p)
		}
	}
	for _, p := range listeners {
		if p.tone != nil {
			p.tone.Mark()
		} else {
			p.ear.Mark()
		}
	}
	heard := map[string][]int16{}
	for _, p := range listeners {
		if p.tone == nil {
			heard[p.name] = p.ear.samples(1600 + 8000)[1600:] // 200 ms settling, 1 s analysed
		} else {
			p.tone.Heard(1600 + 4800)
		}
	}
	for _, p := range listeners {
		var levels []string
		for _, q := range parties {
			var lv float64
			if p.tone != nil {
				lv = p.tone.Level(q.hz)
			} else {
				lv = tonephone.MedianLevel(heard[p.name], q.hz)
			}
			levels = append(levels, fmt.Sprintf("%s %.3f", q.name, lv))
			want := slices.Contains(hears[p.name], q.name)
			switch {
			case want && lv < 0.15:
				t.Errorf("%s: the %s does not hear the %s (%.0f Hz at level %.3f)", what, p.name, q.name, q.hz, lv)
			case !want && lv > 0.02:
				t.Errorf("%s: the %s hears the %s (%.0f Hz at level %.3f), must not", what, p.name, q.name, q.hz, lv)
			}
		}
		t.Logf("%s: the %s hears %s", what, p.name, strings.Join(levels, ", "))
	}
}

// sippPhone runs SIPp with scenario from port (one call, test-owned RTP: no SIPp media);
// wait returns its error and output.
func (d *demo) sippPhone(name, scenario string, port int, args ...string) (wait func() (string, error)) {
	d.t.Helper()
	bin := testenv.Tool(d.t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	args = append([]string{"-sf", scenario, "-i", "127.0.0.1", "-p", fmt.Sprint(port), "-m", "1", "-nostdin",
		"-timeout", "120s", "-timeout_error"}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		d.t.Fatal(err)
	}
	done := make(chan struct{})
	var res error
	go func() { res = cmd.Wait(); cancel(); close(done) }()
	d.t.Cleanup(func() { cancel(); <-done })
	return func() (string, error) {
		<-done
		if res != nil {
			return fmt.Sprintf("%s: %s", name, out.String()), res
		}
		return out.String(), nil
	}
}

// waitLive waits until a live call of the voice App satisfies ok.
func waitLive(t *testing.T, d *demo, what string, ok func(voice.LiveCall) bool) {
	t.Helper()
	waitFor(t, what, func() bool { return slices.ContainsFunc(d.p.voice.App.LiveCalls(), ok) })
}

// browserCall is a call from a carrier (SIPp; its media a 1209 Hz tone phone) to +15550103,
// which presses 1 and is answered by agent 1001 in headless Chromium's browser phone (its
// fake microphone plays 1477 Hz; its remote stream is tapped by earJS).
type browserCall struct {
	d             *demo
	records       string
	page          context.Context // the agent's desktop
	caller, agent party
	waitCaller    func() (string, error)
}

func newBrowserCall(t *testing.T) *browserCall {
	t.Helper()
	testenv.Tool(t, "sipp")
	d, carrier, records := webrtcDemo(t)
	ctx := micBrowser(t, hzAgent)
	loginBrowserPhone(t, d, ctx)
	page(t, ctx, "install the page's ear", chromedp.Evaluate[chromedp.Void](earJS))

	caller := tonephone.New(t, "caller", hzCaller)
	waitCaller := d.sippPhone("carrier", filepath.Join("testdata", "mon_caller_waits.xml"), carrier,
		"-key", "user", "carrier", "-key", "rtpport", caller.Port(), "-s", "+15550103", d.sipAddr)
	// The menu takes 1 (RFC 4733 from the tone phone) once it listens: press until it rings.
	for deadline := time.Now().Add(60 * time.Second); ; {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ringing, err := chromedp.Run(rctx, chromedp.Evaluate[bool](`ccswitchPhone.state().call?.state === 'ringing'`))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if ringing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queue call did not ring the browser; 1001's presence: %+v", presence(d))
		}
		select {
		case caller.Keys <- '1':
		default:
		}
		time.Sleep(time.Second)
	}
	answerWithEar(t, ctx, "1001 answers in the browser")
	waitLive(t, d, "1001 bridged to the browser", func(c voice.LiveCall) bool { return c.Agent == "1001" })
	b := &browserCall{d: d, records: records, page: ctx, waitCaller: waitCaller,
		caller: party{name: "caller", hz: hzCaller, tone: caller},
		agent:  party{name: "agent", hz: hzAgent, ear: &browserEar{t: t, ctx: ctx}}}
	expectHears(t, "before monitoring", []party{b.caller, b.agent}, map[string][]string{"caller": {"agent"}, "agent": {"caller"}})
	return b
}

// micBrowser is headless Chromium whose microphone plays a hz tone.
func micBrowser(t *testing.T, hz float64) context.Context {
	mic := filepath.Join(t.TempDir(), fmt.Sprintf("mic-%.0f.wav", hz))
	baresip.WriteTone(t, mic, hz, 60*time.Second)
	return phoneBrowserMic(t, mic)
}

// answerWithEar answers the ringing browser phone and starts the page's ear on its audio.
func answerWithEar(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	page(t, ctx, what,
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'ringing'`),
		chromedp.Click(chromedp.CSS(`#phone-answer`)),
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'talking'`),
		chrome.WaitJS(`(async () => { const s = await ccswitchPhone.inbound(); return !!s && s.packets > 50; })()`),
		chrome.WaitJS(`window.ear()`),
	)
}

// end hangs the agent up in the browser (the carrier gets ccswitch's BYE) and returns the
// call's record.
func (b *browserCall) end(t *testing.T) store.CallRecord {
	t.Helper()
	page(t, b.page, "the agent hangs up in the browser",
		chromedp.Click(chromedp.CSS(`#phone-hangup`)),
		chrome.WaitJS(`ccswitchPhone.state().call === null`),
	)
	if out, err := b.waitCaller(); err != nil {
		t.Fatalf("carrier (SIPp) did not end on ccswitch's BYE: %v\n%s", err, out)
	}
	return record(t, b.records, 1)
}

// checkModes checks the record's monitoring stretches: 1002 on 1001 via via, in modes.
func checkModes(t *testing.T, rec store.CallRecord, via string, want ...string) {
	t.Helper()
	var modes []string
	for _, m := range rec.Monitoring {
		modes = append(modes, m.Mode)
		if m.Supervisor != "1002" || m.Agent != "1001" || m.Via != via || m.Left.Before(m.Joined) {
			t.Errorf("record's stretch %+v: want 1002 on 1001 via %s", m, via)
		}
	}
	if !slices.Equal(modes, want) {
		t.Errorf("record's monitoring modes %v, want %v", modes, want)
	}
}

// TestSupervisorWhisperChromium (issue 14): a carrier's call (SIPp, its media a 1209 Hz tone
// phone) to +15550103 presses 1 and agent 1001 answers it in headless Chromium's browser
// phone (its fake microphone plays 1477 Hz). Bob (1002, supervisor; SIPp with a 697 Hz tone
// phone) dials *471001: the caller hears only the agent, the agent's page (its remote stream,
// tapped with Web Audio) hears the caller and Bob, Bob hears both. Bob then presses 4
// (listen: the page no longer hears him) and 6 (barge: the caller hears him too), and hangs
// up: the call goes on between caller and agent. The agent hangs up in the browser; the
// call's record has the three stretches.
func TestSupervisorWhisperChromium(t *testing.T) {
	b := newBrowserCall(t)
	d := b.d
	sup := tonephone.New(t, "supervisor", hzSupervisor)
	waitSup := d.sippPhone("supervisor 1002", filepath.Join("..", "..", "sip", "voice", "testdata", "mon_supervisor.xml"),
		testenv.FreePort(t), "-d", "15000", "-key", "user", "1002", "-key", "rtpport", sup.Port(),
		"-au", "1002", "-ap", "secret1002", "-auth_uri", "*471001@"+d.sipAddr, "-s", "*471001", d.sipAddr)
	waitLive(t, d, "Bob whispers", func(c voice.LiveCall) bool { return c.Supervisor == "1002" && c.Mode == "whisper" })
	pSup := party{name: "supervisor", hz: hzSupervisor, tone: sup}
	all := []party{b.caller, b.agent, pSup}
	expectHears(t, "whisper", all,
		map[string][]string{"caller": {"agent"}, "agent": {"caller", "supervisor"}, "supervisor": {"caller", "agent"}})
	t.Run("Listen", func(t *testing.T) {
		sup.Keys <- '4'
		waitLive(t, d, "listen by DTMF 4", func(c voice.LiveCall) bool { return c.Mode == "listen" })
		expectHears(t, "listen", all,
			map[string][]string{"caller": {"agent"}, "agent": {"caller"}, "supervisor": {"caller", "agent"}})
	})
	t.Run("Barge", func(t *testing.T) {
		sup.Keys <- '6'
		waitLive(t, d, "barge by DTMF 6", func(c voice.LiveCall) bool { return c.Mode == "barge" })
		expectHears(t, "barge", all,
			map[string][]string{"caller": {"agent", "supervisor"}, "agent": {"caller", "supervisor"}, "supervisor": {"caller", "agent"}})
	})
	if out, err := waitSup(); err != nil {
		t.Fatalf("supervisor (SIPp): %v\n%s", err, out)
	}
	waitLive(t, d, "Bob gone", func(c voice.LiveCall) bool { return c.Agent == "1001" && c.Supervisor == "" })
	expectHears(t, "after the supervisor left", []party{b.caller, b.agent, pSup},
		map[string][]string{"caller": {"agent"}, "agent": {"caller"}})

	checkModes(t, b.end(t), "phone", "whisper", "listen", "barge")
}

// TestSupervisorWhisperFromWallboardChromium (issue 14): the supervisor side in the browser.
// Bob (1002, supervisor, device browser) is logged in at the desktop of a second headless
// Chromium whose microphone plays 697 Hz; on the wallboard (a second tab) he presses Whisper on
// 1001's live call: ccswitch rings his extension, so his browser phone, and he answers there.
// The caller hears only the agent, the agent's page hears the caller and Bob, Bob's page both.
// He hangs up in the browser: the call goes on between caller and agent; the record has the
// stretch, via the desktop.
func TestSupervisorWhisperFromWallboardChromium(t *testing.T) {
	b := newBrowserCall(t)
	d := b.d
	bob := micBrowser(t, hzSupervisor)
	page(t, bob, "1002 logs in: his browser phone connects",
		chromedp.Navigate(d.httpBase+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), "1002"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "secret1002"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chrome.WaitJS(`ccswitchPhone.state().state === 'registered'`),
		chromedp.Evaluate[chromedp.Void](earJS),
	)
	wb, closeTab := chromedp.NewContext(bob) // a second tab of Bob's browser
	defer closeTab()
	if err := chromedp.Do(wb); err != nil { // opens the tab for wb's lifetime, not a step's
		t.Fatal(err)
	}
	page(t, wb, "Bob presses Whisper on 1001's call on the wallboard",
		chromedp.Navigate(d.httpBase+"/wallboard"),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="whisper on 1001's call"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="whisper on 1001's call"]`)),
	)
	answerWithEar(t, bob, "Bob's browser phone rings; he answers")
	waitLive(t, d, "Bob whispers", func(c voice.LiveCall) bool { return c.Supervisor == "1002" && c.Mode == "whisper" })
	page(t, wb, "the wallboard says he whispers", chrome.WaitJS(`document.querySelector('#wb-monitor-status').textContent.startsWith('You whisper')`))
	pBob := party{name: "supervisor", hz: hzSupervisor, ear: &browserEar{t: t, ctx: bob}}
	all := []party{b.caller, b.agent, pBob}
	expectHears(t, "whisper from the browser", all,
		map[string][]string{"caller": {"agent"}, "agent": {"caller", "supervisor"}, "supervisor": {"caller", "agent"}})
	page(t, bob, "Bob hangs up in the browser",
		chromedp.Click(chromedp.CSS(`#phone-hangup`)),
		chrome.WaitJS(`ccswitchPhone.state().call === null`),
	)
	waitLive(t, d, "Bob gone", func(c voice.LiveCall) bool { return c.Agent == "1001" && c.Supervisor == "" })
	expectHears(t, "after the supervisor left", all, map[string][]string{"caller": {"agent"}, "agent": {"caller"}})
	checkModes(t, b.end(t), "desktop", "whisper")
}
