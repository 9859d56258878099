package sip

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Session timers (RFC 4028), per leg: a B2BUA's two dialogs are two sessions.
//
//   - Leg A: a caller that asks (Session-Expires, or Supported/Require: timer) gets the
//     interval in the 2xx (its own, at least sip.min_se; else sip.session_expires) with a
//     refresher: the caller if it supports timers (unless it asked for uas), else ccswitch.
//     A Session-Expires below sip.min_se gets 422 with Min-SE.
//   - Leg B: every INVITE ccswitch sends says Supported: timer and Session-Expires
//     (sip.session_expires); the callee's 2xx decides (no Session-Expires: no timer).
//   - The refresher refreshes at half the interval: ccswitch with an UPDATE without SDP when the
//     peer allows UPDATE, else a re-INVITE with the SDP of the leg's INVITE dialog; a refresh
//     refused (or unanswered) ends the call. The other side's refresh (re-INVITE, or UPDATE,
//     which ccswitch answers itself without relaying) restarts the timer; without one, the leg
//     is ended with BYE shortly before the interval runs out (RFC 4028 §10: interval minus
//     min(32 s, interval/3)).

// timerSpec is a negotiated session timer of a leg.
type timerSpec struct {
	interval  time.Duration
	weRefresh bool
	peerTimer bool // the peer supports timers (our 2xx carries Require: timer)
}

// sessionTimer runs one leg's session timer. Its functions run on the timer's goroutine.
type sessionTimer struct {
	spec    timerSpec
	refresh func() bool // sends a refresh; false: refused or unanswered
	expire  func()      // ends the leg

	mu      sync.Mutex
	t       *time.Timer
	stopped bool
}

func newSessionTimer(spec timerSpec, refresh func() bool, expire func()) *sessionTimer {
	st := &sessionTimer{spec: spec, refresh: refresh, expire: expire}
	st.reset()
	return st
}

// wait is how long until the next refresh (ours) or the expiry (the peer's refresh missing).
func (st *sessionTimer) wait() time.Duration {
	iv := st.spec.interval
	if st.spec.weRefresh {
		return iv / 2
	}
	return iv - min(32*time.Second, iv/3)
}

// reset restarts the timer: a refresh was made or answered.
func (st *sessionTimer) reset() {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return
	}
	if st.t != nil {
		st.t.Stop()
	}
	st.t = time.AfterFunc(st.wait(), st.fire)
}

func (st *sessionTimer) fire() {
	st.mu.Lock()
	stopped := st.stopped
	st.mu.Unlock()
	if stopped {
		return
	}
	if st.spec.weRefresh && st.refresh() {
		st.reset()
		return
	}
	st.stop()
	st.expire()
}

func (st *sessionTimer) stop() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stopped = true
	if st.t != nil {
		st.t.Stop()
	}
}

// sessionExpires reads a Session-Expires header (or its compact form x): the interval and
// the refresher parameter ("" when absent). ok is false when there is none or it is malformed.
func sessionExpires(m interface{ GetHeader(string) gsip.Header }) (iv time.Duration, refresher string, ok bool) {
	h := m.GetHeader("Session-Expires")
	if h == nil {
		h = m.GetHeader("x")
	}
	if h == nil {
		return 0, "", false
	}
	parts := strings.Split(h.Value(), ";")
	n, err := strconv.ParseUint(strings.TrimSpace(parts[0]), 10, 32)
	if err != nil || n == 0 {
		return 0, "", false
	}
	for _, p := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return time.Duration(n) * time.Second, refresher, true
}

// hasTag reports whether a Supported or Require header of m lists tag.
func hasTag(m interface{ GetHeaders(string) []gsip.Header }, header, tag string) bool {
	for _, h := range m.GetHeaders(header) {
		for _, t := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(t), tag) {
				return true
			}
		}
	}
	return false
}

// allows reports whether a message's Allow header lists method.
func allows(m interface{ GetHeaders(string) []gsip.Header }, method string) bool {
	return hasTag(m, "Allow", method)
}

// minSE and sessionInterval are sip.min_se and sip.session_expires (defaults when a Config
// was built by hand).
func (s *Server) minSE() time.Duration {
	if d := s.cfg.Load().SIP.MinSE.D(); d > 0 {
		return d
	}
	return 90 * time.Second
}

func (s *Server) sessionInterval() time.Duration {
	if d := s.cfg.Load().SIP.SessionExpires.D(); d > 0 {
		return max(d, s.minSE())
	}
	return 30 * time.Minute
}

// tooBrief answers 422 to a request whose Session-Expires is below sip.min_se; it reports
// whether it refused.
func (s *Server) tooBrief(req *gsip.Request) (refusal []gsip.Header, refused bool) {
	iv, _, ok := sessionExpires(req)
	if !ok || iv >= s.minSE() {
		return nil, false
	}
	return []gsip.Header{gsip.NewHeader("Min-SE", strconv.Itoa(int(s.minSE()/time.Second)))}, true
}

// timerForA negotiates leg A's session timer from the caller's INVITE: nil when the caller
// asked for none.
func (s *Server) timerForA(req *gsip.Request) *timerSpec {
	iv, refresher, has := sessionExpires(req)
	supported := hasTag(req, "Supported", "timer") || hasTag(req, "Require", "timer")
	if !has && !supported {
		return nil
	}
	if !has {
		iv = s.sessionInterval()
	}
	iv = max(iv, s.minSE())
	spec := &timerSpec{interval: iv, peerTimer: supported}
	switch {
	case !supported || refresher == "uas":
		spec.weRefresh = true
	}
	return spec
}

// timerHeaders are the Session-Expires (and Require: timer) of a 2xx to a leg with spec.
func timerHeaders(spec *timerSpec, weAreUAS bool) []gsip.Header {
	if spec == nil {
		return nil
	}
	refresher := "uac"
	if spec.weRefresh == weAreUAS {
		refresher = "uas"
	}
	hdrs := []gsip.Header{gsip.NewHeader("Session-Expires", strconv.Itoa(int(spec.interval/time.Second))+";refresher="+refresher)}
	if spec.peerTimer {
		hdrs = append(hdrs, gsip.NewHeader("Require", "timer"))
	}
	return hdrs
}

// timerForB reads leg B's session timer from the callee's 2xx: nil when it named none.
func timerForB(res *gsip.Response) *timerSpec {
	iv, refresher, ok := sessionExpires(res)
	if !ok {
		return nil
	}
	return &timerSpec{interval: iv, weRefresh: refresher != "uas", peerTimer: true}
}

// startTimer runs spec's session timer on leg l (nil spec: none).
func (s *Server) startTimer(l *Leg, spec *timerSpec) {
	if spec == nil || l.ended.Load() {
		return
	}
	st := newSessionTimer(*spec, func() bool { return s.refreshSession(l) }, func() {
		s.log.Info("session timer expired: ending the call", "call_id", l.call.id, "interval", spec.interval)
		l.finish(context.Background(), true, "session-expired")
	})
	l.timer.Store(st)
	if l.ended.Load() {
		st.stop()
	}
}

// refreshed restarts a leg's session timer after a refresh from its peer or of ours.
func (l *Leg) refreshed() {
	if st := l.timer.Load(); st != nil {
		st.reset()
	}
}

// refreshSession sends ccswitch's refresh on leg l: UPDATE without SDP if the peer allows
// it, else a re-INVITE with the SDP of the leg's INVITE dialog (what ccswitch answered or
// offered then). A 491 (the peer is negotiating: a refresh of its own) counts as refreshed.
func (s *Server) refreshSession(l *Leg) bool {
	st := l.timer.Load()
	if l.ended.Load() || s.closing.Load() || st == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	var update bool
	var sdp []byte
	if l.srv != nil {
		update = allows(l.srv.InviteRequest, "UPDATE")
		if r := l.srv.InviteResponse; r != nil {
			sdp = r.Body()
		}
	} else {
		update = l.cli.InviteResponse != nil && allows(l.cli.InviteResponse, "UPDATE")
		sdp = l.cli.InviteRequest.Body()
	}
	method := gsip.INVITE
	if update {
		method, sdp = gsip.UPDATE, nil
	}
	req := gsip.NewRequest(method, l.remoteTarget())
	req.SetTransport(l.transport())
	ua := s.legUA(l)
	req.AppendHeader(gsip.HeaderClone(&ua.ContactHDR))
	req.AppendHeader(gsip.NewHeader("Session-Expires", strconv.Itoa(int(st.spec.interval/time.Second))+";refresher=uac"))
	req.AppendHeader(gsip.NewHeader("Supported", supportedTags))
	if len(sdp) > 0 {
		req.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
	}
	req.SetBody(sdp)
	tx, err := l.transactionRequest(ctx, req)
	if err != nil {
		return false
	}
	defer tx.Terminate()
	r := awaitFinal(ctx, tx)
	if r == nil {
		return false
	}
	if r.IsSuccess() && method == gsip.INVITE {
		s.ackInDialog(l, req.CSeq().SeqNo, nil)
	}
	return r.IsSuccess() || r.StatusCode == 491
}

// timerHeaders are the Session-Expires (and Require) of ccswitch's 2xx to a refresh the peer
// of leg l sent (nil when the leg runs no timer).
func (l *Leg) timerHeaders() []gsip.Header {
	st := l.timer.Load()
	if st == nil {
		return nil
	}
	return timerHeaders(&st.spec, true)
}
