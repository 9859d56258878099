package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/ccswitch/ccswitch/internal/chrome"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/store"
)

// phoneBrowser starts headless Chromium whose microphone plays a prompt WAV (fake capture).
func phoneBrowser(t *testing.T) context.Context {
	t.Helper()
	return phoneBrowserMic(t, filepath.Join("..", "..", "configs", "prompts", "en", "welcome.wav"))
}

// phoneBrowserMic starts headless Chromium whose microphone plays the WAV file mic (looped).
func phoneBrowserMic(t *testing.T, mic string) context.Context {
	t.Helper()
	wav, err := filepath.Abs(mic)
	if err != nil {
		t.Fatal(err)
	}
	// A bound for the whole browser session, not a timing threshold.
	return chrome.Start(t, 200*time.Second, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			t.Logf("desktop exception: %s %+v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception)
		case *runtime.EventConsoleAPICalled:
			for _, a := range e.Args {
				t.Logf("desktop console.%s: %s", e.Type, a.Value)
			}
		}
	},
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", wav),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
}

func page(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 45*time.Second) // a bound per step, not a threshold
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		dctx, cancelD := context.WithTimeout(ctx, 10*time.Second)
		defer cancelD()
		diag, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`JSON.stringify(window.ccswitchPhone && ccswitchPhone.state()) + ' | ' + document.querySelector('#phone').textContent.replace(/\s+/g, ' ') + ' | status: ' + document.querySelector('#status').textContent`))
		t.Fatalf("%s: %v\npage: %s", what, err, diag)
	}
}

// webrtcDemo is the demo with the carrier on a free port, call records exported, and a short
// wrap-up in sales; edits change the YAML further. Sales keeps the demo's RONA timeout (15 s):
// a browser that must answer raced a short one under CI's load (it rang after the 4 s a
// fixture once had, the agent went to RONA at its first miss and was never rung again);
// the RONA test shortens it itself (shortRONA).
func webrtcDemo(t *testing.T, edits ...func(string) string) (d *demo, carrier int, records string) {
	carrier = testenv.FreePort(t)
	records = filepath.Join(t.TempDir(), "calls.jsonl")
	d = startDemo(t, func(y string) string {
		y = replaceOnce(t, y, `sources: ["127.0.0.1:5080"]`, fmt.Sprintf(`sources: ["127.0.0.1:%d"]`, carrier))
		// SIPp plays the carrier for one call: no OPTIONS health checks.
		y = replaceOnce(t, y, `outbound: sip:127.0.0.1:5080`, fmt.Sprintf("outbound: sip:127.0.0.1:%d\n    options_interval: 0s", carrier))
		// Bob (1002) takes calls in the browser by default.
		y = replaceOnce(t, y, `queues: [sales, support], auto_login: true, role: supervisor}`, `queues: [sales, support], auto_login: true, role: supervisor, device: browser}`)
		// Carol (agent 1003) takes calls on extension 1006, which may not call out.
		y = replaceOnce(t, y, `{id: "1003", name: Carol, extension: "1003"`, `{id: "1003", name: Carol, extension: "1006"`)
		y = replaceOnce(t, y, "{name: sales, rona_timeout: 15s, wrapup: 5s}", "{name: sales, rona_timeout: 15s, wrapup: 1s}")
		for _, edit := range edits {
			y = edit(y)
		}
		return y + fmt.Sprintf("\ncall_records: {export: %q}\n", records)
	})
	return d, carrier, records
}

// shortRONA is a webrtcDemo edit: sales gives an agent 4 s to answer.
func shortRONA(t *testing.T) func(string) string {
	return func(y string) string {
		return replaceOnce(t, y, "{name: sales, rona_timeout: 15s, wrapup: 1s}", "{name: sales, rona_timeout: 4s, wrapup: 1s}")
	}
}

// carrierCall starts SIPp as the carrier calling +15550103 with scenario, echoing the RTP it
// gets (-rtp_echo); wait returns its error and output.
func (d *demo) carrierCall(carrier int, scenario string) (wait func() (string, error)) {
	d.t.Helper()
	bin := testenv.Tool(d.t, "sipp")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	cmd := exec.CommandContext(ctx, bin, "-sf", filepath.Join("testdata", scenario), "-i", "127.0.0.1", "-p", fmt.Sprint(carrier),
		"-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(testenv.FreePort(d.t)), "-d", "2500", "-nostdin",
		"-timeout", "60s", "-timeout_error", "-key", "user", "carrier", "-s", "+15550103", d.sipAddr)
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
		return out.String(), res
	}
}

// record is the exported call record of the n-th call to +15550103 (1-based).
func record(t *testing.T, path string, n int) store.CallRecord {
	t.Helper()
	var rec store.CallRecord
	waitFor(t, fmt.Sprintf("call record %d exported", n), func() bool {
		b, _ := os.ReadFile(path)
		seen := 0
		for _, line := range strings.Split(string(b), "\n") {
			var r store.CallRecord
			if json.Unmarshal([]byte(line), &r) == nil && r.To == "+15550103" && r.Parent == "" {
				if seen++; seen == n {
					rec = r
					return true
				}
			}
		}
		return false
	})
	return rec
}

func presence(d *demo) center.Presence {
	p, _ := d.p.center.Presence("1001")
	return p
}

// loginBrowserPhone logs agent 1001 in at the desktop and switches to the browser phone.
func loginBrowserPhone(t *testing.T, d *demo, ctx context.Context) {
	switchToBrowser(t, d, ctx, "1001")
	// Presence: the browser phone is the agent's voice device (auto_login signs them in).
	waitFor(t, "1001 signed in for voice through the browser phone", func() bool {
		p := presence(d)
		return p.Voice && p.Devices == 1
	})
	page(t, ctx, "ready", chromedp.Click(chromedp.CSS(`#ready-btn`)))
	waitFor(t, "1001 available", func() bool { return presence(d).State == acd.Available })
}

// switchToBrowser logs agent in at the desktop (password "secret" + id) and switches to the
// browser phone.
func switchToBrowser(t *testing.T, d *demo, ctx context.Context, agent string) {
	page(t, ctx, agent+" logs in and takes calls in the browser",
		chromedp.Navigate(d.httpBase+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), agent),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "secret"+agent),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#phone`)),
		chromedp.SetValue(chromedp.CSS(`#phone-device`), "browser"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#phone-device').dispatchEvent(new Event('change'))`),
		chrome.WaitJS(`ccswitchPhone.state().state === 'registered'`),
	)
}

// answerInBrowser waits for the ring, checks the screen pop, answers and waits until audio
// comes in both ways: the page's getStats counts inbound audio (SIPp echoes the browser's) in
// law, the caller's G.711 law (no transcoding).
func answerInBrowser(t *testing.T, ctx context.Context, call int, law string) {
	page(t, ctx, fmt.Sprintf("call %d rings the browser with the caller's card", call),
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'ringing'`),
		chrome.WaitJS(`!document.querySelector('#phone-ring').hidden && document.querySelector('#phone-from').textContent === 'carrier'`),
		chrome.WaitJS(`!document.querySelector('#screenpop').hidden && document.querySelector('#screenpop').textContent.includes('carrier')`),
	)
	page(t, ctx, fmt.Sprintf("call %d answered in the browser", call),
		chromedp.Click(chromedp.CSS(`#phone-answer`)),
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'talking'`),
		// 100 packets = 2 s of the browser's own voice back through ccswitch and SIPp.
		chrome.WaitJS(`(async () => { const s = await ccswitchPhone.inbound(); return !!s && s.packets > 100 && s.energy > 0; })()`),
		chrome.WaitJS(fmt.Sprintf(`(async () => (await ccswitchPhone.codec()) === 'audio/%s')()`, law)),
	)
}

// TestWebRTCCarrierCallToBrowser: a carrier (SIPp) calls +15550103 and presses 1 (RFC 4733);
// agent 1001 takes the call in headless Chromium's browser phone (its microphone plays a
// prompt). RTP flows both ways: the page's getStats counts audio coming in (the browser's own,
// echoed by SIPp), the call record counts what SIPp sent back (so SIPp got the browser's
// audio). The agent hangs up in the browser (SIPp gets BYE), then a second call, in PCMA, is
// hung up by the caller (the browser's call ends). Each browser leg takes the caller's law.
func TestWebRTCCarrierCallToBrowser(t *testing.T) {
	testenv.Tool(t, "sipp")
	d, carrier, records := webrtcDemo(t)
	ctx := phoneBrowser(t)
	loginBrowserPhone(t, d, ctx)

	wait := d.carrierCall(carrier, "webrtc_agent_hangs_up.xml")
	answerInBrowser(t, ctx, 1, "PCMU")
	page(t, ctx, "the agent hangs up in the browser",
		chromedp.Click(chromedp.CSS(`#phone-hangup`)),
		chrome.WaitJS(`ccswitchPhone.state().call === null && document.querySelector('#phone-status').textContent.includes('hangup')`),
	)
	if out, err := wait(); err != nil {
		t.Fatalf("carrier (SIPp) did not end on ccswitch's BYE: %v\n%s", err, out)
	}
	rec := record(t, records, 1)
	if rec.Agent != "1001" || len(rec.Legs) == 0 || rec.Legs[0].Packets < 100 {
		t.Fatalf("call record %+v: want agent 1001 and ≥ 100 packets echoed by SIPp on leg a", rec)
	}
	t.Logf("call 1: SIPp echoed %d packets (lost %d)", rec.Legs[0].Packets, rec.Legs[0].Lost)

	waitFor(t, "1001 available after wrap-up", func() bool { return presence(d).State == acd.Available })
	wait = d.carrierCall(carrier, "webrtc_caller_hangs_up.xml")
	answerInBrowser(t, ctx, 2, "PCMA")
	page(t, ctx, "the caller hangs up: the browser's call ends",
		chrome.WaitJS(`ccswitchPhone.state().call === null && document.querySelector('#phone-status').textContent.includes('remote')`),
	)
	if out, err := wait(); err != nil {
		t.Fatalf("carrier (SIPp) hang-up: %v\n%s", err, out)
	}
	if rec := record(t, records, 2); rec.Agent != "1001" || len(rec.Legs) == 0 || rec.Legs[0].Packets < 100 {
		t.Fatalf("call record %+v: want agent 1001 and ≥ 100 packets echoed by SIPp on leg a", rec)
	}

	// Switching back to the desk phone unregisters the browser: no voice device left.
	page(t, ctx, "back to the desk phone",
		chromedp.SetValue(chromedp.CSS(`#phone-device`), "phone"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#phone-device').dispatchEvent(new Event('change'))`),
		chrome.WaitJS(`ccswitchPhone.state().state === 'off'`),
	)
	waitFor(t, "1001 has no voice device", func() bool { return presence(d).Devices == 0 })
}

// TestWebRTCRONA: the browser rings for the caller's offer and nobody answers: the ACD's RONA
// timeout (4 s here) CANCELs the browser's ring (the page's call ends "cancelled") and puts the
// agent in RONA; the caller, still waiting, hangs up.
func TestWebRTCRONA(t *testing.T) {
	testenv.Tool(t, "sipp")
	d, carrier, _ := webrtcDemo(t, shortRONA(t))
	ctx := phoneBrowser(t)
	loginBrowserPhone(t, d, ctx)
	wait := d.carrierCall(carrier, "webrtc_caller_hangs_up.xml")
	page(t, ctx, "the browser rings, nobody answers, the ring is cancelled",
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'ringing'`),
		chrome.WaitJS(`ccswitchPhone.state().call === null && document.querySelector('#phone-status').textContent.includes('cancelled')`),
	)
	waitFor(t, "1001 in RONA", func() bool { return presence(d).State == acd.RONA })
	if out, err := wait(); err != nil {
		t.Fatalf("carrier (SIPp): %v\n%s", err, out)
	}
}

// TestWebRTCClickToDial: agent 1001 dials a customer's number from the browser; the call takes
// the dialled-call path of extension 1001 (outbound right, routes) to the carrier (SIPp, which
// echoes: the page hears its own audio), and the agent hangs up. Carol (1003, on extension
// 1006 without the outbound right) dials the same number: ccswitch refuses it (403), as it
// refuses her desk phone, and the page says so.
func TestWebRTCClickToDial(t *testing.T) {
	testenv.Tool(t, "sipp")
	d, carrier, _ := webrtcDemo(t)
	bin := testenv.Tool(t, "sipp")
	sctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	uas := exec.CommandContext(sctx, bin, "-sf", filepath.Join("testdata", "webrtc_carrier_answers.xml"), "-i", "127.0.0.1",
		"-p", fmt.Sprint(carrier), "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(testenv.FreePort(t)),
		"-nostdin", "-timeout", "60s", "-timeout_error")
	var out strings.Builder
	uas.Stdout, uas.Stderr = &out, &out
	if err := uas.Start(); err != nil {
		t.Fatal(err)
	}
	uasDone := make(chan error, 1)
	go func() { uasDone <- uas.Wait() }()
	waitFor(t, "carrier (SIPp) listening", func() bool { return udpBound(carrier) })

	ctx := phoneBrowser(t)
	switchToBrowser(t, d, ctx, "1001")
	page(t, ctx, "1001 dials +15550199 from the browser",
		chromedp.SendKeys(chromedp.CSS(`#phone-number`), "+1 555 0199"),
		chromedp.Click(chromedp.CSS(`#phone-dial-form button[type=submit]`)),
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'talking'`),
		chrome.WaitJS(`(async () => { const s = await ccswitchPhone.inbound(); return !!s && s.packets > 100; })()`),
		chromedp.Click(chromedp.CSS(`#phone-hangup`)),
		chrome.WaitJS(`ccswitchPhone.state().call === null`),
	)
	if err := <-uasDone; err != nil {
		t.Fatalf("carrier (SIPp) did not get the call and its BYE: %v\n%s", err, out.String())
	}

	page(t, ctx, "1001 logs out", chromedp.Click(chromedp.CSS(`#logout-btn`)), chromedp.WaitVisible(chromedp.CSS(`#login-agent`)))
	switchToBrowser(t, d, ctx, "1003")
	page(t, ctx, "1003 (no outbound right) dials: refused",
		chromedp.SendKeys(chromedp.CSS(`#phone-number`), "+15550199"),
		chromedp.Click(chromedp.CSS(`#phone-dial-form button[type=submit]`)),
		chrome.WaitJS(`ccswitchPhone.state().call === null && document.querySelector('#phone-status').textContent.includes('forbidden')`),
	)
}

// udpBound reports whether something listens on UDP port on 127.0.0.1.
func udpBound(port int) bool {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// TestWebRTCStaleBindingRemovedAtStart: a browser phone's binding left in the store by a
// process that died (no unregister) reaches no browser: the next start removes it, so the
// agent is not signed in for voice on it; a desk phone's binding stays.
func TestWebRTCStaleBindingRemovedAtStart(t *testing.T) {
	y, _, _, _ := demoOnFreePorts(t)
	cfg, err := config.Parse("demo.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, contact := range []string{"sip:wp-0123abcd@127.0.0.1:40000", "sip:1001@127.0.0.1:40002"} {
		if err := st.PutBinding(store.Binding{AOR: "1001", Contact: contact, Expires: now.Add(time.Hour), CallID: "x", CSeq: 1,
			Source: contact[strings.LastIndex(contact, "@")+1:], Transport: "udp", Updated: now}); err != nil {
			t.Fatal(err)
		}
	}
	p, err := newProcess(cfg, st, filepath.Join(dir, "data"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, c := range p.sip.Registrar().Lookup("1001") {
		left = append(left, c.Contact)
	}
	if len(left) != 1 || left[0] != "sip:1001@127.0.0.1:40002" {
		t.Fatalf("bindings of 1001 after start: %v, want only the desk phone's", left)
	}
	p.phone.Run(cancelledContext()) // closes its sockets
}

func cancelledContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// TestWebRTCDeviceBrowser: Bob's configured device is the browser: logging in to the desktop
// connects the browser phone (a voice device in presence) without touching the switch, and
// leaving the page unregisters it (at once, even if the browser keeps the page and its
// WebSocket in its back-forward cache).
func TestWebRTCDeviceBrowser(t *testing.T) {
	d, _, _ := webrtcDemo(t)
	ctx := phoneBrowser(t)
	page(t, ctx, "1002 logs in: the browser phone connects",
		chromedp.Navigate(d.httpBase+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login-agent`)),
		chromedp.SendKeys(chromedp.CSS(`#login-agent`), "1002"),
		chromedp.SendKeys(chromedp.CSS(`#login-password`), "secret1002"),
		chromedp.Click(chromedp.CSS(`#login-submit`)),
		chrome.WaitJS(`ccswitchPhone.state().state === 'registered' && document.querySelector('#phone-device').value === 'browser'`),
	)
	bob := func() center.Presence { p, _ := d.p.center.Presence("1002"); return p }
	waitFor(t, "1002 signed in for voice on the browser phone", func() bool { p := bob(); return p.Voice && p.Devices == 1 })
	page(t, ctx, "leave the desktop", chromedp.Navigate("about:blank"))
	waitFor(t, "1002's browser phone gone", func() bool { return bob().Devices == 0 })
}

// TestWebRTCKeypadDTMF: the desktop's keypad sends RFC 4733 digits into the call. Agent 1001
// (not ready) dials the demo's menu number +15550103 from the browser and presses 1 on the
// keypad during the menu: ccswitch's IVR takes the digit and queues the call in sales.
func TestWebRTCKeypadDTMF(t *testing.T) {
	d, _, _ := webrtcDemo(t)
	ctx := phoneBrowser(t)
	switchToBrowser(t, d, ctx, "1001")
	page(t, ctx, "1001 calls the menu from the browser and hears it",
		chromedp.SendKeys(chromedp.CSS(`#phone-number`), "+15550103"),
		chromedp.Click(chromedp.CSS(`#phone-dial-form button[type=submit]`)),
		chrome.WaitJS(`ccswitchPhone.state().call?.state === 'talking'`),
		// 3 s of the welcome prompt: the menu is next.
		chrome.WaitJS(`(async () => { const s = await ccswitchPhone.inbound(); return !!s && s.packets > 150; })()`),
	)
	waiting := func() int {
		q, _ := d.p.center.Snapshot().Queue("sales")
		return q.Waiting
	}
	if n := waiting(); n != 0 {
		t.Fatalf("%d waiting in sales before the digit", n)
	}
	// The menu repeats (retries: 2): press 1 on the keypad until the IVR takes it.
	deadline := time.Now().Add(30 * time.Second)
	for waiting() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the keypad's 1 did not reach the menu: nobody waits in sales")
		}
		page(t, ctx, "press 1 on the keypad", chromedp.Click(chromedp.CSS(`#phone-keypad button:nth-child(1)`)))
		waitForOrNot(func() bool { return waiting() > 0 }, 2*time.Second)
	}
	page(t, ctx, "hang up", chromedp.Click(chromedp.CSS(`#phone-hangup`)), chrome.WaitJS(`ccswitchPhone.state().call === null`))
	waitFor(t, "the caller left the queue", func() bool { return waiting() == 0 })
}

// waitForOrNot polls cond for up to d and reports whether it became true.
func waitForOrNot(cond func() bool, d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// replaceOnce replaces old by new in the demo config, failing the test when old is not there:
// a demo edit that silently does nothing tests the wrong configuration.
func replaceOnce(t *testing.T, y, old, new string) string {
	t.Helper()
	if !strings.Contains(y, old) {
		t.Fatalf("the demo config has no %q", old)
	}
	return strings.Replace(y, old, new, 1)
}
