package voice

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/store"
)

// Supervisor feature codes: the code, then the monitored agent's extension ("*461001").
const (
	FeatureListen  = "*46" // hear both sides; nobody hears the supervisor
	FeatureWhisper = "*47" // hear both sides; the agent hears the supervisor, the customer does not
	FeatureBarge   = "*48" // three-way
)

// Digits a supervisor presses during monitoring to switch mode, as Asterisk's ChanSpy does.
var modeDigits = map[byte]media.MonitorMode{'4': media.Listen, '5': media.Whisper, '6': media.Barge}

// monitorCode splits a dialled feature code into a mode and an extension; ok is false when
// it is no monitoring code. ext is "" for a code without extension.
func monitorCode(code string) (mode media.MonitorMode, ext string, ok bool) {
	if len(code) < 3 {
		return 0, "", false
	}
	switch code[:3] {
	case FeatureListen:
		mode = media.Listen
	case FeatureWhisper:
		mode = media.Whisper
	case FeatureBarge:
		mode = media.Barge
	default:
		return 0, "", false
	}
	return mode, code[3:], true
}

// Refusal reasons of monitoring, the label of ccswitch_monitor_refused_total.
const (
	refuseNotSupervisor = "not-supervisor" // 403: the caller is not an agent with role supervisor
	refuseNoExtension   = "no-extension"   // 484: *46 without an extension
	refuseUnknown       = "unknown-agent"  // 404: the extension is no agent's
	refuseSelf          = "self"           // 403: a supervisor monitoring their own call
	refuseNoCall        = "no-call"        // 480: the agent is on no bridged call
	refuseBusy          = "busy"           // 486: another supervisor is on the call
)

// MonitorError is why a monitoring request was refused: the SIP status a phone gets and the
// reason counted.
type MonitorError struct {
	Code   int
	Reason string
}

func (e *MonitorError) Error() string {
	return fmt.Sprintf("voice: monitor: %s (%d)", e.Reason, e.Code)
}

// Status is the SIP status of the refusal (the web maps it to HTTP).
func (e *MonitorError) Status() int { return e.Code }

// ErrNotSupervisor is the refusal of a monitoring request from someone without role
// supervisor (errors.Is matches any MonitorError with that reason).
var ErrNotSupervisor = &MonitorError{Code: 403, Reason: refuseNotSupervisor}

// Is matches MonitorErrors by reason.
func (e *MonitorError) Is(target error) bool {
	t, ok := target.(*MonitorError)
	return ok && t.Reason == e.Reason
}

// monitorSession is one supervisor on one call: the mixer and the record of its stretches.
type monitorSession struct {
	c          *call
	supervisor string
	via        string
	mon        *media.Monitor
	mode       media.MonitorMode // guarded by c.monMu
	since      time.Time         // guarded by c.monMu
	ended      bool              // guarded by c.monMu
}

// segmentLocked closes the current stretch into the call's record.
func (s *monitorSession) segmentLocked(now time.Time) {
	s.c.monitoring = append(s.c.monitoring, store.MonitorRecord{Supervisor: s.supervisor, Agent: s.c.agent,
		Mode: s.mode.String(), Via: s.via, Joined: s.since, Left: now})
}

// setMode switches mode and starts a new stretch of the record.
func (s *monitorSession) setMode(m media.MonitorMode) {
	c := s.c
	c.monMu.Lock()
	if s.ended || s.mode == m {
		c.monMu.Unlock()
		return
	}
	now := time.Now()
	s.segmentLocked(now)
	s.mode, s.since = m, now
	c.monMu.Unlock()
	s.mon.SetMode(m)
	c.log.Info("supervisor switched mode", "agent", c.agent, "supervisor", s.supervisor, "mode", m.String())
}

// end leaves the call (idempotent): the last stretch is recorded and the mixer stopped.
func (s *monitorSession) end() {
	c := s.c
	c.monMu.Lock()
	if !s.ended {
		s.ended = true
		s.segmentLocked(time.Now())
		c.a.monMetrics.active.Dec()
		c.log.Info("supervisor left", "agent", c.agent, "supervisor", s.supervisor, "mode", s.mode.String())
	}
	c.monMu.Unlock()
	s.mon.Close()
}

// join puts a supervisor's media call (leg A answered by ccswitch) on the call in mode.
func (c *call) join(supervisor, via string, sup *media.Call, mode media.MonitorMode) (*monitorSession, error) {
	c.monMu.Lock()
	defer c.monMu.Unlock()
	if c.monClosed {
		return nil, &MonitorError{Code: 480, Reason: refuseNoCall}
	}
	mon, err := c.mc.Monitor(media.LegB, sup, media.LegA, mode)
	switch {
	case errors.Is(err, media.ErrMonitored):
		return nil, &MonitorError{Code: 486, Reason: refuseBusy}
	case err != nil:
		return nil, &MonitorError{Code: 480, Reason: refuseNoCall}
	}
	s := &monitorSession{c: c, supervisor: supervisor, via: via, mon: mon, mode: mode, since: time.Now()}
	c.sessions = append(c.sessions, s)
	c.a.monMetrics.active.Inc()
	c.a.monMetrics.sessions.WithLabelValues(mode.String(), via).Inc()
	c.log.Info("supervisor joined", "agent", c.agent, "supervisor", supervisor, "mode", mode.String(), "via", via)
	return s, nil
}

// endMonitoring ends every supervisor's session before the call's account is given
// (invariant 4): their stretches are in the record.
func (c *call) endMonitoring() []store.MonitorRecord {
	c.monMu.Lock()
	c.monClosed = true
	sessions := c.sessions
	c.monMu.Unlock()
	for _, s := range sessions {
		s.end()
	}
	c.monMu.Lock()
	defer c.monMu.Unlock()
	return append([]store.MonitorRecord(nil), c.monitoring...)
}

// setLive makes the call the one an agent is bridged on (monitorable), or forgets it.
func (a *App) setLive(agent string, c *call, on bool) {
	a.liveMu.Lock()
	defer a.liveMu.Unlock()
	if on {
		a.live[agent] = c
	} else if a.live[agent] == c {
		delete(a.live, agent)
	}
}

// LiveCall is a bridged call an agent is on, for the wallboard.
type LiveCall struct {
	CallID     string    `json:"call_id"`
	Agent      string    `json:"agent"`
	Caller     string    `json:"caller"`
	DID        string    `json:"did"`
	Since      time.Time `json:"since"`                // bridged at
	Supervisor string    `json:"supervisor,omitempty"` // the supervisor on the call, if any
	Mode       string    `json:"mode,omitempty"`       // their mode
}

// LiveCalls lists the calls agents are bridged on now, oldest first.
func (a *App) LiveCalls() []LiveCall {
	a.liveMu.Lock()
	calls := make([]*call, 0, len(a.live))
	for _, c := range a.live {
		calls = append(calls, c)
	}
	a.liveMu.Unlock()
	out := make([]LiveCall, 0, len(calls))
	for _, c := range calls {
		lc := LiveCall{CallID: c.id, Agent: c.agent, Caller: c.caller, DID: c.did, Since: c.bridgedAt}
		c.monMu.Lock()
		for _, s := range c.sessions {
			if !s.ended {
				lc.Supervisor, lc.Mode = s.supervisor, s.mode.String()
			}
		}
		c.monMu.Unlock()
		out = append(out, lc)
	}
	for i := 1; i < len(out); i++ { // few calls: insertion sort by Since
		for j := i; j > 0 && out[j].Since.Before(out[j-1].Since); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// target checks that supervisorExt belongs to an agent with role supervisor and finds the
// bridged call of the agent at agentExt.
func (a *App) target(supervisor, agentExt string) (*call, error) {
	cfg := a.center.Config()
	ok := false
	for _, ag := range cfg.Agents {
		if ag.ID == supervisor {
			ok = ag.Supervisor()
		}
	}
	if !ok {
		return nil, ErrNotSupervisor
	}
	if agentExt == "" {
		return nil, &MonitorError{Code: 484, Reason: refuseNoExtension}
	}
	agent, found := a.center.AgentOfExtension(agentExt)
	if !found {
		return nil, &MonitorError{Code: 404, Reason: refuseUnknown}
	}
	if agent == supervisor {
		return nil, &MonitorError{Code: 403, Reason: refuseSelf}
	}
	a.liveMu.Lock()
	c := a.live[agent]
	a.liveMu.Unlock()
	if c == nil {
		return nil, &MonitorError{Code: 480, Reason: refuseNoCall}
	}
	return c, nil
}

// refused counts and logs (once per key per minute) a refused monitoring request.
func (a *App) refused(who string, err error) {
	var me *MonitorError
	reason := "error"
	if errors.As(err, &me) {
		reason = me.Reason
	}
	a.monMetrics.refused.WithLabelValues(reason).Inc()
	a.rlog.Warn("monitor-refused|"+reason+"|"+who, "monitoring refused", "agent", who, "reason", reason, "error", err)
}

// monitorByPhone handles *46/*47/*48 + extension dialled by a supervisor's phone: the call is
// answered by ccswitch and joined to the agent's bridged call; refusals get their SIP status
// (403 not a supervisor, 484 no extension, 404 no such agent, 480 no call, 486 another
// supervisor is on it) before any answer.
func (a *App) monitorByPhone(ctx context.Context, in *sip.Incoming, mode media.MonitorMode, ext string) {
	user := in.User()
	supervisor, _ := a.center.AgentOfExtension(user)
	c, err := a.target(supervisor, ext)
	if err != nil {
		a.refused(user, err)
		rejectMonitor(in, err)
		return
	}
	if len(in.Offer()) == 0 || a.media == nil {
		in.Reject(488, "Not Acceptable Here")
		return
	}
	mc, answer, ok := a.localMedia(in, "monitor-"+user)
	if !ok {
		return
	}
	defer mc.Close()
	s, err := c.join(supervisor, "phone", mc, mode)
	if err != nil {
		a.refused(user, err)
		rejectMonitor(in, err)
		return
	}
	defer s.end()
	leg, err := in.Answer(answer)
	if err != nil {
		return
	}
	a.stayOn(ctx, s, phoneLeg(leg, mc))
}

func rejectMonitor(in *sip.Incoming, err error) {
	var me *MonitorError
	if !errors.As(err, &me) {
		in.Reject(500, "Server Internal Error")
		return
	}
	reason := map[int]string{403: "Forbidden", 404: "Not Found", 480: "Temporarily Unavailable", 484: "Address Incomplete", 486: "Busy Here"}[me.Code]
	in.Reject(me.Code, reason)
}

// SupervisorLeg is the supervisor's end of a monitoring session, whatever carries it: a SIP
// phone (a dialled leg) or a browser phone. Its media call's leg A faces the supervisor,
// negotiated; digits the supervisor presses arrive on the call's DTMF() (a browser leg
// injects them with InjectDTMF).
type SupervisorLeg struct {
	Media  *media.Call
	Done   <-chan struct{} // closed when the supervisor hung up
	Hangup func()          // ccswitch ends the supervisor's leg (the monitored call ended)
}

// SupervisorDevice reaches a supervisor on a device other than their SIP phone (the browser
// phone): it rings it and returns the answered leg, or nil (and no error) when the supervisor
// uses their phone. Set with App.SetSupervisorDevice; ccswitch closes Media when the session
// ends.
type SupervisorDevice func(ctx context.Context, supervisor string) (*SupervisorLeg, error)

// SetSupervisorDevice installs the browser side of App.Monitor (nil: phones only).
func (a *App) SetSupervisorDevice(f SupervisorDevice) {
	if f == nil {
		a.supDevice.Store(nil)
		return
	}
	a.supDevice.Store(&f)
}

// Monitor rings the supervisor (their SupervisorDevice if it takes them, else their own
// extension, every contact) and, once they answer, joins them to the bridged call of agent
// in mode ("listen", "whisper", "barge"): the wallboard's buttons. It returns once the
// supervisor answered and joined (the session then runs until either side hangs up), or
// with a *MonitorError / the dial's error.
func (a *App) Monitor(ctx context.Context, supervisor, agent, mode string) error {
	m, err := media.ParseMonitorMode(mode)
	if err != nil {
		err := &MonitorError{Code: 400, Reason: "bad-mode"}
		a.refused(supervisor, err)
		return err
	}
	agentExt, _ := a.center.ExtensionOf(agent)
	c, err := a.target(supervisor, agentExt)
	if err != nil {
		a.refused(supervisor, err)
		return err
	}
	var sl *SupervisorLeg
	if f := a.supDevice.Load(); f != nil {
		if sl, err = (*f)(ctx, supervisor); err != nil {
			return fmt.Errorf("voice: monitor: ringing the supervisor's device: %w", err)
		}
	}
	if sl == nil {
		if sl, err = a.ringPhone(ctx, supervisor, agentExt, m); err != nil {
			return err
		}
	}
	s, err := c.join(supervisor, "desktop", sl.Media, m)
	if err != nil {
		a.refused(supervisor, err)
		sl.Hangup()
		sl.Media.Close()
		return err
	}
	a.calls.Add(1) // Stack.Run waits for it like a served call (invariant 6)
	go func() {
		defer a.calls.Done()
		defer sl.Media.Close()
		defer s.end()
		a.stayOn(context.WithoutCancel(ctx), s, sl)
	}()
	return nil
}

// ringPhone dials the supervisor's extension with an offer from a new media call.
func (a *App) ringPhone(ctx context.Context, supervisor, agentExt string, m media.MonitorMode) (*SupervisorLeg, error) {
	supExt, ok := a.center.ExtensionOf(supervisor)
	srv := a.srv.Load()
	if !ok || srv == nil || a.media == nil {
		err := &MonitorError{Code: 480, Reason: "no-phone"}
		a.refused(supervisor, err)
		return nil, err
	}
	mc, err := a.media.NewCall(media.CallOptions{ID: "monitor-" + supExt})
	if err != nil {
		return nil, err
	}
	mc.SetPeer(media.LegA, a.peerOf(sip.Party{User: supExt}))
	offer, err := mc.OfferTo(media.LegA, media.SendRecv)
	if err != nil {
		mc.Close()
		return nil, err
	}
	leg, err := srv.Dial(ctx, sip.DialRequest{Extension: supExt, CallerID: strings.TrimPrefix(FeatureCodeFor(m), "*") + agentExt,
		CallerName: m.String() + " " + agentExt, SDP: offer})
	if err != nil {
		mc.Close()
		return nil, fmt.Errorf("voice: monitor: ringing the supervisor: %w", err)
	}
	mc.SetPeer(media.LegA, a.peerOf(leg.Party()))
	if _, err := mc.AnswerFrom(media.LegA, leg.SDP()); err != nil {
		hangup(leg)
		mc.Close()
		return nil, fmt.Errorf("voice: monitor: supervisor's answer: %w", err)
	}
	return phoneLeg(leg, mc), nil
}

// phoneLeg is a supervisor's SIP leg as a SupervisorLeg: its INFO digits and re-INVITEs
// (hold, a new address) go to the media call.
func phoneLeg(leg *sip.Leg, mc *media.Call) *SupervisorLeg {
	leg.OnInDialog(func(method, contentType string, body []byte) (int, []byte) {
		switch method {
		case "INFO":
			ev, err := media.ParseDTMFInfo(contentType, body)
			if err != nil {
				if len(body) == 0 {
					return 200, nil
				}
				return 415, nil
			}
			ev.Leg = media.LegA
			mc.InjectDTMF(ev)
			return 200, nil
		case "INVITE", "UPDATE":
			if len(body) == 0 {
				return 488, nil
			}
			ans, err := mc.AnswerLocal(media.LegA, body)
			if err != nil {
				return 488, nil
			}
			return 200, ans
		}
		return 501, nil
	})
	return &SupervisorLeg{Media: mc, Done: leg.Done(), Hangup: func() { leg.OnInDialog(nil); hangup(leg) }}
}

// FeatureCodeFor is the feature code of a mode (*46, *47, *48).
func FeatureCodeFor(m media.MonitorMode) string {
	switch m {
	case media.Whisper:
		return FeatureWhisper
	case media.Barge:
		return FeatureBarge
	}
	return FeatureListen
}

// stayOn keeps the supervisor on the call until they hang up or the call ends (then ccswitch
// hangs the supervisor up); DTMF 4, 5, 6 switch to listen, whisper, barge.
func (a *App) stayOn(ctx context.Context, s *monitorSession, sl *SupervisorLeg) {
	for {
		select {
		case <-sl.Done:
			return
		case <-s.mon.Done():
			sl.Hangup()
			return
		case <-ctx.Done():
			sl.Hangup()
			return
		case ev := <-sl.Media.DTMF():
			if m, ok := modeDigits[ev.Digit]; ok {
				s.setMode(m)
			}
		}
	}
}
