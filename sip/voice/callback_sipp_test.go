package voice_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// callbackRig is the demo with the carrier's outbound destination at a SIPp UAS on trunkPort,
// and support's callback offered at once (no announcement first), with a 1 s preview.
func callbackRig(t *testing.T, trunkPort int, mutate func(*config.Config)) *rig {
	return newRigWith(t, "5s", "30s", func(c *config.Config) {
		for i := range c.Trunks {
			if c.Trunks[i].Name == "carrier" {
				c.Trunks[i].Outbound = fmt.Sprintf("sip:127.0.0.1:%d", trunkPort)
				off := config.Duration(0) // the UAS starts late: no OPTIONS health check
				c.Trunks[i].OptionsInterval = &off
			}
		}
		n := supportNode(t, c)
		n.Announce = false
		n.Callback.After = 0
		n.Callback.Preview = config.Duration(time.Second)
		n.Voicemail = nil
		if mutate != nil {
			mutate(c)
		}
	})
}

func supportNode(t *testing.T, c *config.Config) *config.Node {
	t.Helper()
	for i := range c.Flows {
		for j := range c.Flows[i].Nodes {
			if n := &c.Flows[i].Nodes[j]; n.ID == "support" && n.Type == "queue" && n.Callback != nil {
				return n
			}
		}
	}
	t.Fatal("the demo's support node offers no callback")
	return nil
}

// customer calls the demo from number through the carrier, presses 2 then 1.
func (r *rig) customer(number string) *sippRun {
	r.t.Helper()
	return r.sipp("customer", "callback_accept.xml", r.carrier, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(r.t)),
		"-d", fmt.Sprint(r.welcomeDelay.Milliseconds()), "-key", "user", number, "-s", "+15550103", r.addr)
}

func (r *rig) setReady(agent string, ready bool) {
	r.t.Helper()
	if err := r.acd.SetReady(agent, ready, ""); err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r.acd.Sync(ctx)
}

// TestSIPpCallbackKeepsPlace (issue 15): agent 1003 (support) is logged in but not ready.
// The customer (+15550199) calls +15550103 through the carrier, presses 2 (support) and,
// offered the callback, 1: ccswitch plays the confirmation and hangs up; the task waits on in
// support (not abandoned) and the callback is stored. 1003 becomes ready: the task is theirs
// at once (no ring, no RONA), the 1 s preview passes, 1003's phone rings with the customer's
// number, answers, and the carrier (a SIPp UAS) gets the INVITE to +15550199 from the DID
// +15550103; it answers and echoes the agent's tone through the bridge until the agent hangs
// up. The callback is deleted from the store, the ACD counts one answer and one completion.
func TestSIPpCallbackKeepsPlace(t *testing.T) {
	t.Parallel()
	trunkPort, agentPort := twoPorts(t)
	r := callbackRig(t, trunkPort, nil)
	r.register("1003", agentPort, true)
	r.setReady("1003", false)

	uac := r.customer("+15550199")
	uac.wait()
	s := r.summary()
	if s.Result == nil || s.Result.Outcome != ivr.OutcomeCallback || s.Result.Target != "+15550199" {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	q := r.queue("support")
	if q.Waiting != 1 || q.Abandoned != 0 {
		t.Fatalf("support after the caller hung up: %+v", q)
	}
	cbs, err := r.st.Callbacks()
	if err != nil || len(cbs) != 1 || cbs[0].Number != "+15550199" || cbs[0].DID != "+15550103" || cbs[0].Trunk != "carrier" {
		t.Fatalf("stored callbacks %+v, %v", cbs, err)
	}

	trunk := r.sipp("carrier UAS", "trunk_callee.xml", trunkPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	agent := r.sipp("agent 1003", "agent_callback.xml", agentPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)), "-d", "300")
	time.Sleep(100 * time.Millisecond)
	r.setReady("1003", true)
	agent.wait()
	trunk.wait()
	if log := agent.logText(); !strings.Contains(log, "CALLBACK-FROM") || !strings.Contains(log, "15550199") {
		t.Errorf("the agent's phone was not told who is called back:\n%s", tail(log))
	}
	log := trunk.logText()
	if !strings.Contains(log, "CALLBACK-RURI sip:+15550199@") || !regexpFrom(log, "+15550103") {
		t.Errorf("the carrier's INVITE is not to the customer from the DID:\n%s", tail(log))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		q = r.queue("support")
		cbs, _ = r.st.Callbacks()
		if q.Answered == 1 && q.Completed == 1 && len(cbs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("support %+v, callbacks left %+v", q, cbs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One call record: the customer's call, with the agent's leg and the customer's callback
	// leg folded in (both dials name the call as parent), answered by 1003, and RTP on the
	// callback leg (the agent's tone, echoed by the carrier).
	waitRecords(t, r, func(recs []store.CallRecord) bool {
		if len(recs) != 1 || recs[0].Agent != "1003" || recs[0].Disposition != "answered" {
			return false
		}
		for _, l := range recs[0].Legs {
			if strings.HasPrefix(l.Peer, "sip:+15550199@") && l.Role == "b" && l.Code == 200 && l.Packets >= 90 {
				return true
			}
		}
		return false
	})
}

func regexpFrom(log, did string) bool {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "CALLBACK-FROM") && strings.Contains(l, "sip:"+did+"@") {
			return true
		}
	}
	return false
}

// TestSIPpCallbackAcrossRestart (issue 15): the customer accepts the callback while 1003 is
// not ready; ccswitch stops. A new ccswitch on the same data folder restores the callback
// (its task back in support, priority and requirements kept) and 1003's registration; the
// agent is available again (auto_login), takes it after the preview, and the carrier gets the
// INVITE to the customer from the DID.
func TestSIPpCallbackAcrossRestart(t *testing.T) {
	t.Parallel()
	trunkPort, agentPort := twoPorts(t)
	dir := t.TempDir()
	r := newRigIn(t, dir, "5s", "30s", callbackMutate(trunkPort, time.Second))
	r.register("1003", agentPort, true)
	r.setReady("1003", false)
	r.customer("+15550198").wait()
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeCallback {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	r.stop()

	// Restarted: a 3 s preview leaves time for the phones to be up when it dials.
	r2 := newRigIn(t, dir, "5s", "30s", callbackMutate(trunkPort, 3*time.Second))
	trunk := r2.sipp("carrier UAS after restart", "trunk_callee.xml", trunkPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	agent := r2.sipp("agent 1003 after restart", "agent_callback.xml", agentPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)), "-d", "300")
	select {
	case p := <-r2.previews:
		if p.Agent != "1003" || p.Number != "+15550198" || p.Queue != "support" || p.DID != "+15550103" {
			t.Errorf("preview %+v", p)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no callback previewed after the restart")
	}
	agent.wait()
	trunk.wait()
	if !strings.Contains(trunk.logText(), "CALLBACK-RURI sip:+15550198@") || !regexpFrom(trunk.logText(), "+15550103") {
		t.Errorf("the carrier's INVITE is not to the customer from the DID:\n%s", tail(trunk.logText()))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		cbs, _ := r2.st.Callbacks()
		if len(cbs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callbacks left after it was made: %+v", cbs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func callbackMutate(trunkPort int, preview time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		for i := range c.Trunks {
			if c.Trunks[i].Name == "carrier" {
				c.Trunks[i].Outbound = fmt.Sprintf("sip:127.0.0.1:%d", trunkPort)
				off := config.Duration(0)
				c.Trunks[i].OptionsInterval = &off
			}
		}
		for i := range c.Flows {
			for j := range c.Flows[i].Nodes {
				if n := &c.Flows[i].Nodes[j]; n.ID == "support" && n.Callback != nil {
					n.Announce = false
					n.Callback.After = 0
					n.Callback.Preview = config.Duration(preview)
					n.Voicemail = nil
				}
			}
		}
	}
}

// TestSIPpCallbackRetry (issue 15): the customer is busy at the first attempt (the carrier
// answers 486): the agent's leg is hung up, the attempt completed, and after retry_after (1 s
// here) and the agent's wrap-up the callback comes back to 1003 as attempt 2, which the
// customer answers. The stored callback records the failed attempt until the second is made.
func TestSIPpCallbackRetry(t *testing.T) {
	t.Parallel()
	trunkPort, agentPort := twoPorts(t)
	r := newRigWith(t, "5s", "30s", func(c *config.Config) {
		callbackMutate(trunkPort, time.Second)(c)
		supportNode(t, c).Callback.RetryAfter = config.Duration(time.Second)
	})
	r.register("1003", agentPort, true)
	r.setReady("1003", false)
	r.customer("+15550197").wait()
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeCallback {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	agent := r.sipp("agent 1003", "agent_callback_wait.xml", agentPort, "-m", "2", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	busy := r.sipp("carrier busy", "trunk_busy.xml", trunkPort, "-m", "1")
	time.Sleep(100 * time.Millisecond)
	r.setReady("1003", true)
	busy.wait()
	var attempt2 bool
	deadline := time.Now().Add(5 * time.Second)
	for !attempt2 && time.Now().Before(deadline) {
		cbs, _ := r.st.Callbacks()
		attempt2 = len(cbs) == 1 && cbs[0].Attempts == 1 && strings.Contains(cbs[0].LastError, "busy") && !cbs[0].NotBefore.IsZero()
		time.Sleep(50 * time.Millisecond)
	}
	if !attempt2 {
		cbs, _ := r.st.Callbacks()
		t.Fatalf("after the busy attempt the store has %+v", cbs)
	}
	answer := r.sipp("carrier answers", "trunk_answer_bye.xml", trunkPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	answer.wait()
	agent.wait()
	var attempts []int
	for len(r.previews) > 0 {
		attempts = append(attempts, (<-r.previews).Attempt)
	}
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Errorf("previews of attempts %v, want [1 2]", attempts)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		cbs, _ := r.st.Callbacks()
		if len(cbs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callbacks left after it was made: %+v", cbs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIPpCallbackToExtension (issue 15, the demo with a softphone): extension 1010 dials
// +15550103, presses 2 then 1; it is called back on its extension (an internal call, no
// trunk), from the DID, once 1003 took the callback, and bridged to 1003.
func TestSIPpCallbackToExtension(t *testing.T) {
	t.Parallel()
	ps := distinctPorts(t, 4)
	agentPort, phonePort := ps[0], ps[1]
	r := newRigWith(t, "5s", "30s", callbackMutate(ps[2], time.Second))
	r.register("1003", agentPort, true)
	r.setReady("1003", false)
	r.register("1010", phonePort, false)
	uac := r.sipp("caller 1010", "ext_callback.xml", ps[3], "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
		"-d", fmt.Sprint(r.welcomeDelay.Milliseconds()), "-key", "user", "1010", "-au", "1010", "-ap", "secret1010",
		"-auth_uri", "+15550103@"+r.addr, "-s", "+15550103", r.addr)
	uac.wait()
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeCallback || s.Result.Target != "1010" {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	cbs, _ := r.st.Callbacks()
	if len(cbs) != 1 || cbs[0].Source != "extension" || cbs[0].Trunk != "" {
		t.Fatalf("stored %+v", cbs)
	}
	phone := r.sipp("phone 1010", "trunk_answer_bye.xml", phonePort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	agent := r.sipp("agent 1003", "agent_callback_wait.xml", agentPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	time.Sleep(100 * time.Millisecond)
	r.setReady("1003", true)
	phone.wait()
	agent.wait()
	if log := phone.logText(); !regexpFrom(log, "+15550103") {
		t.Errorf("1010 was not called from the DID:\n%s", tail(log))
	}
}

// TestSIPpTextCallback (issue 15): a WhatsApp contact asks for a call ("call me"). A number
// that is not one of the customer's verified channel numbers is refused; its WhatsApp number
// is called back like a caller's callback (asking again gets the pending one): 1003 previews it, then the carrier gets the INVITE
// to that number from callback.caller_id.
func TestSIPpTextCallback(t *testing.T) {
	t.Parallel()
	trunkPort, agentPort := twoPorts(t)
	r := newRigWith(t, "5s", "30s", func(c *config.Config) {
		callbackMutate(trunkPort, time.Second)(c)
		c.Callback.CallerID = "+15550103"
	})
	b := r.st.NewBatch()
	b.PutCustomer(store.Customer{ID: "cust1", Name: "Dana", Identities: []store.Identity{{Kind: "whatsapp", Value: "+15550196"}, {Kind: "email", Value: "d@example.com"}}})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	r.register("1003", agentPort, true)
	r.setReady("1003", false)
	ctx := context.Background()
	for _, bad := range []string{"+15550195", "d@example.com", "+19005550100"} {
		if _, err := r.acd.RequestCallback(ctx, center.CallbackRequest{Conversation: "conv1", Customer: "cust1", Number: bad, Queue: "support"}); err == nil {
			t.Errorf("callback to %q accepted", bad)
		}
	}
	if _, err := r.acd.RequestCallback(ctx, center.CallbackRequest{Conversation: "conv1", Customer: "nobody", Number: "+15550196", Queue: "support"}); err == nil {
		t.Error("callback for an unknown customer accepted")
	}
	task, err := r.acd.RequestCallback(ctx, center.CallbackRequest{Conversation: "conv1", Customer: "cust1", Number: "+15550196", Queue: "support",
		Vars: map[string]string{"topic": "invoice"}})
	if err != nil {
		t.Fatal(err)
	}
	// Asked again (the keyword twice, the widget's button pressed twice): the same callback.
	if again, err := r.acd.RequestCallback(ctx, center.CallbackRequest{Conversation: "conv1", Customer: "cust1", Queue: "support"}); err != nil || again != task {
		t.Fatalf("asked again: %q %v, want the pending %q", again, err, task)
	}
	if cbs, _ := r.st.Callbacks(); len(cbs) != 1 {
		t.Fatalf("stored callbacks %+v", cbs)
	}
	if q := r.queue("support"); q.Waiting != 1 {
		t.Fatalf("support %+v", q)
	}
	trunk := r.sipp("carrier answers", "trunk_answer_bye.xml", trunkPort, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	agent := r.sipp("agent 1003", "agent_callback_wait.xml", agentPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	time.Sleep(100 * time.Millisecond)
	r.setReady("1003", true)
	select {
	case p := <-r.previews:
		if p.Task != task || p.Number != "+15550196" || p.Vars["conversation"] != "conv1" || p.Vars["topic"] != "invoice" {
			t.Errorf("preview %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no preview")
	}
	trunk.wait()
	agent.wait()
	if log := trunk.logText(); !strings.Contains(log, "CALLBACK-RURI sip:+15550196@") || !regexpFrom(log, "+15550103") {
		t.Errorf("the carrier's INVITE:\n%s", tail(log))
	}
}

// TestSIPpCallbackRefusedByOutboundRight (issue 15): a callback is a dialled call of the
// agent who takes it. 1003 has no outbound right here: the customer's leg is refused by the
// same decision as a call 1003 would dial (403, no INVITE reaches the carrier), the agent's
// leg is hung up, and the callback is given up (a refusal is not retried).
func TestSIPpCallbackRefusedByOutboundRight(t *testing.T) {
	t.Parallel()
	trunkPort, agentPort := twoPorts(t)
	r := newRigWith(t, "5s", "30s", func(c *config.Config) {
		callbackMutate(trunkPort, time.Second)(c)
		for i := range c.Users {
			if c.Users[i].Extension == "1003" {
				c.Users[i].Outbound = false
			}
		}
	})
	r.register("1003", agentPort, true)
	r.setReady("1003", false)
	r.customer("+15550194").wait()
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeCallback {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	agent := r.sipp("agent 1003", "agent_callback_wait.xml", agentPort, "-m", "1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)))
	time.Sleep(100 * time.Millisecond)
	r.setReady("1003", true)
	agent.wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cbs, _ := r.st.Callbacks()
		if len(cbs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the refused callback is still stored: %+v", cbs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitRecords(t, r, func(recs []store.CallRecord) bool {
		for _, rec := range recs {
			for _, l := range rec.Legs {
				if l.Role == "b" && strings.Contains(l.Peer, "15550194") && l.Code == 200 {
					t.Fatalf("the customer was called: %+v", rec)
				}
			}
		}
		return len(recs) >= 1
	})
}

// distinctPorts returns n free ports, all different (FreePort may give a port twice: a phone
// registering from the carrier's address is refused, 482).
func distinctPorts(t *testing.T, n int) []int {
	t.Helper()
	var ps []int
	for len(ps) < n {
		p := testenv.FreePort(t)
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

func twoPorts(t *testing.T) (int, int) {
	ps := distinctPorts(t, 2)
	return ps[0], ps[1]
}

// TestSIPpCallbackKeyedNumber (issue 15): with number: keyed the caller types the number to
// call back after accepting. A number in the DID's country is promised (stored as keyed); a
// premium one is refused: the caller hears why and keeps waiting (here: hangs up, abandoned),
// and nothing is stored. The number policy cases are in TestCallbackNumber.
func TestSIPpCallbackKeyedNumber(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		scenario string
		outcome  ivr.Outcome
		number   string
	}{
		{"callback_keyed.xml", ivr.OutcomeCallback, "+15550123"},
		{"callback_keyed_premium.xml", ivr.OutcomeAbandoned, ""},
	} {
		t.Run(c.scenario, func(t *testing.T) {
			t.Parallel()
			trunkPort, agentPort := twoPorts(t)
			r := newRigWith(t, "5s", "30s", func(cfg *config.Config) {
				callbackMutate(trunkPort, time.Second)(cfg)
				supportNode(t, cfg).Callback.Number = "keyed"
			})
			r.register("1003", agentPort, true)
			r.setReady("1003", false)
			r.sipp("customer", c.scenario, r.carrier, "-m", "1", "-rtp_echo", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freeEvenPort(t)),
				"-d", fmt.Sprint(r.welcomeDelay.Milliseconds()), "-key", "user", "+15550199", "-s", "+15550103", r.addr).wait()
			s := r.summary()
			if s.Result == nil || s.Result.Outcome != c.outcome || s.Result.Target != c.number {
				t.Fatalf("result %+v err %v", s.Result, s.Err)
			}
			cbs, _ := r.st.Callbacks()
			switch {
			case c.number == "" && len(cbs) != 0:
				t.Fatalf("a refused number was stored: %+v", cbs)
			case c.number != "" && (len(cbs) != 1 || cbs[0].Number != c.number || cbs[0].Source != "keyed"):
				t.Fatalf("stored %+v", cbs)
			}
		})
	}
}

// TestSIPpCallbackWaitsForOpening (issue 15): the caller accepts the callback; then the
// number closes (a reload adds an override closing +15550103 for the next hour). When 1003
// becomes ready the callback is not made: it leaves the queue without ringing 1003 and waits,
// stored, for the number's next opening.
func TestSIPpCallbackWaitsForOpening(t *testing.T) {
	t.Parallel()
	trunkPort, agentPort := twoPorts(t)
	r := newRigWith(t, "5s", "30s", callbackMutate(trunkPort, time.Second))
	r.register("1003", agentPort, true)
	r.setReady("1003", false)
	r.customer("+15550193").wait()
	if s := r.summary(); s.Result == nil || s.Result.Outcome != ivr.OutcomeCallback {
		t.Fatalf("result %+v err %v", s.Result, s.Err)
	}
	next := *r.cfg
	next.Numbers = slices.Clone(r.cfg.Numbers)
	var loc *time.Location
	for i := range next.Numbers {
		if n := &next.Numbers[i]; n.DID == "+15550103" {
			var err error
			if loc, err = time.LoadLocation(n.Timezone); err != nil {
				t.Fatal(err)
			}
			now := time.Now().In(loc)
			n.Overrides = append(slices.Clone(n.Overrides), config.Override{Name: "closed for the test",
				From: now.Add(-time.Hour).Format("2006-01-02T15:04"), To: now.Add(time.Hour).Format("2006-01-02T15:04")})
		}
	}
	if loc == nil {
		t.Fatal("no +15550103 in the demo")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.acd.Reload(ctx, &next); err != nil {
		t.Fatal(err)
	}
	r.setReady("1003", true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		cbs, _ := r.st.Callbacks()
		if len(cbs) == 1 && time.Until(cbs[0].NotBefore) > 55*time.Minute {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the callback does not wait for the opening: %+v", cbs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(r.previews) != 0 {
		t.Fatalf("previewed while closed: %+v", <-r.previews)
	}
	if q := r.queue("support"); q.Waiting != 0 || q.Answered != 0 {
		t.Fatalf("support %+v", q)
	}
}
