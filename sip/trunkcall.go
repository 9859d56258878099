package sip

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/sip/route"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
)

// How a call goes out through trunks (the B2BUA carrying out a route.Decision of Kind Trunk or
// Emergency):
//   - takeTrunk takes the first trunk of the decision that has a free slot (max_calls);
//   - ringOut rings its destinations one after the other, in priority order and weighted
//     random order within a priority (trunks[].outbound list form), each host name resolved
//     per RFC 3263 (resolve.go); a destination that answers 408 or 5xx, or nothing within
//     failoverWait, hands over to the next one, then to the next trunk of the decision;
//   - a 3xx is followed up to trunks[].redirects times (the new number decided again, as if
//     the caller dialled it) or answered 480;
//   - the caller ID (From, P-Asserted-Identity, Privacy) and the numbers are per trunk.

// failoverWait is how long a destination may stay silent (not even 100 Trying) before the
// next one is tried.
const failoverWait = 4 * time.Second

// direction is the call record's direction for a decision: an extension's attempt at a
// number outside ccswitch is outbound even when refused.
func direction(from origin, d route.Decision) string {
	switch {
	case d.Kind == route.Trunk || d.Kind == route.Emergency:
		return "outbound"
	case from.user == nil:
		return "inbound"
	case d.Kind == route.Refuse && d.Cause != route.CauseNotFound && d.Cause != route.CauseUnauthenticated:
		return "outbound"
	}
	return "internal"
}

// takeTrunk returns the first of names whose slot hold takes, nil when each is full.
func takeTrunk(r *routing, hold *callHold, names []string) *trunk {
	for _, n := range names {
		if t := r.byName[n]; t != nil && hold.Trunk(n) {
			return t
		}
	}
	return nil
}

// outboundNumber is n as the carrier wants it: Strip replaced by Prepend.
func (t *trunk) outboundNumber(n string) string {
	if t.cfg.Strip == "" && t.cfg.Prepend == "" {
		return n
	}
	if rest, ok := strings.CutPrefix(n, t.cfg.Strip); ok {
		return t.cfg.Prepend + rest
	}
	return n
}

// inboundNumber is a number from the carrier in our form: a number without '+' that starts
// with Prepend has it replaced by Strip (national → E.164). Other strings are kept.
func (t *trunk) inboundNumber(n string) string {
	if t.cfg.Strip == "" && t.cfg.Prepend == "" || strings.HasPrefix(n, "+") || !route.IsNumber(n) {
		return n
	}
	if rest, ok := strings.CutPrefix(n, t.cfg.Prepend); ok {
		return t.cfg.Strip + rest
	}
	return n
}

// outSpec is spec with the caller ID for a call out through t: users[].caller_id, else the
// trunk's caller_id (both normalised for the carrier), in From and P-Asserted-Identity; an
// extension that hides its number sends an anonymous From and Privacy: id (never for an
// emergency call). Without any caller ID, From keeps the extension.
func (s *Server) outSpec(spec *ringSpec, from origin, t *trunk, emergency bool) *ringSpec {
	out := *spec
	out.headers = append([]gsip.Header(nil), spec.headers...)
	cid := t.cfg.CallerID
	hide := false
	if from.user != nil {
		if from.user.CallerID != "" {
			cid = from.user.CallerID
		}
		hide = from.user.HideCallerID && !emergency
	}
	if cid != "" {
		num := validate.Sanitize(t.outboundNumber(cid))
		out.fromUser = num
		out.headers = append(out.headers, gsip.NewHeader("P-Asserted-Identity", "<sip:"+num+"@"+s.uriHost()+">"))
	}
	if hide {
		out.fromUser, out.fromName, out.fromHost = "anonymous", "Anonymous", "anonymous.invalid"
		out.headers = append(out.headers, gsip.NewHeader("Privacy", "id"))
	}
	return &out
}

// ringOut rings the decision's trunks (first already holds a slot) until one answers or
// refuses for good; see the top of this file.
func (s *Server) ringOut(ctx context.Context, r *routing, c *call, hold *callHold, first *trunk, d route.Decision, from origin, spec *ringSpec) forkResult {
	// sip.ring_timeout bounds the whole call setup, failovers included.
	ctx, cancel := context.WithTimeoutCause(ctx, spec.timeout, context.DeadlineExceeded)
	defer cancel()
	res := s.ringTrunks(ctx, r, c, hold, first, d, from, spec)
	if !res.won && res.code == 0 && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		res.err = context.DeadlineExceeded // failure(): 480 No Answer
	}
	return res
}

func (s *Server) ringTrunks(ctx context.Context, r *routing, c *call, hold *callHold, first *trunk, d route.Decision, from origin, spec *ringSpec) forkResult {
	var last forkResult
	started := false
	for _, name := range d.Trunks {
		t := r.byName[name]
		if t == nil {
			continue
		}
		if !started {
			if t != first {
				continue // before first: full
			}
			started = true
		} else if !hold.Trunk(name) {
			continue
		}
		if t != first {
			c.mu.Lock()
			c.rec.Trunk = name
			c.mu.Unlock()
		}
		res, next := s.ringTrunk(ctx, r, t, d.Number, from, d.Kind == route.Emergency, spec)
		if !next {
			return res
		}
		last = res
		s.failedOver(t, res, "trunk")
	}
	return last
}

// ringTrunk rings number through t's destinations in order. next reports that the caller
// should try the next trunk (every destination failed with 408, 5xx or silence).
func (s *Server) ringTrunk(ctx context.Context, r *routing, t *trunk, number string, from origin, emergency bool, spec *ringSpec) (res forkResult, next bool) {
	redirects := 0
	for {
		tspec := s.outSpec(spec, from, t, emergency)
		targets := s.trunkTargets(ctx, t, t.outboundNumber(number))
		if len(targets) == 0 {
			return forkResult{code: 503, reason: "Service Unavailable"}, true
		}
		for i, tg := range targets {
			res = s.attempt(ctx, tg, tspec)
			if res.won || ctx.Err() != nil {
				return res, false
			}
			if !retryable(res) {
				break
			}
			if i < len(targets)-1 {
				s.failedOver(t, res, "destination")
			}
		}
		if retryable(res) {
			return res, true
		}
		if res.code < 300 || res.code > 399 {
			return res, false
		}
		// A redirect: followed (bounded), or answered 480 by failure().
		n, ok := s.redirectNumber(t, res, from, redirects)
		if !ok {
			s.trunkm.redirects.WithLabelValues(t.cfg.Name, "refused").Inc()
			return res, false
		}
		s.trunkm.redirects.WithLabelValues(t.cfg.Name, "followed").Inc()
		redirects++
		number = n
	}
}

// retryable: a failure the next destination or trunk may not have (RFC 3263 §4.3: 503 and
// transport failures; 408 and other 5xx by carrier practice).
func retryable(res forkResult) bool {
	return res.code == 408 || res.code >= 500 && res.code <= 599 || res.code == 0 && res.err != nil
}

// redirectNumber is the number a 3xx from t points to, when the trunk follows redirects, it
// has some left, and the caller may call that number through t.
func (s *Server) redirectNumber(t *trunk, res forkResult, from origin, done int) (string, bool) {
	if done >= t.cfg.Redirects || res.redirect == nil || from.user == nil {
		return "", false
	}
	n := t.inboundNumber(res.redirect.User)
	d := s.Decide(route.Request{User: from.user.Extension, Dialled: n})
	if d.Kind != route.Trunk {
		s.refusals.Info("redirect|"+t.cfg.Name+"|"+from.user.Extension, "trunk redirect not followed: the caller may not call its target",
			"trunk", t.cfg.Name, "aor", from.user.Extension, "cause", d.Cause)
		return "", false
	}
	for _, name := range d.Trunks {
		if name == t.cfg.Name {
			return n, true
		}
	}
	return "", false
}

// attempt rings one destination; it gives up when nothing at all came back within
// failoverWait.
func (s *Server) attempt(ctx context.Context, tg target, spec *ringSpec) forkResult {
	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var heard atomic.Bool
	aspec := *spec
	aspec.onResponse = func() { heard.Store(true) }
	timer := time.AfterFunc(failoverWait, func() {
		if !heard.Load() {
			// Nothing to CANCEL yet (RFC 3261 §9.1): sipgo's forced exit, not Timer B.
			cancel(sipgo.WaitAnswerForceCancelErr)
		}
	})
	defer timer.Stop()
	var winner atomic.Bool
	res := s.fork(actx, tg, &aspec, &winner)
	if !res.won && res.code == 0 && ctx.Err() == nil && actx.Err() != nil {
		res.err = errors.New("sip: destination silent")
	}
	return res
}

func (s *Server) failedOver(t *trunk, res forkResult, to string) {
	reason := "timeout"
	if res.code != 0 {
		reason = codeClass(res.code)
	}
	s.trunkm.failovers.WithLabelValues(t.cfg.Name, reason).Inc()
	s.refusals.Info("failover|"+t.cfg.Name+"|"+reason+"|"+to, "trunk destination failed: trying the next "+to,
		"trunk", t.cfg.Name, "status", res.code, "reason", reason)
}

func codeClass(code int) string {
	if code == 408 {
		return "408"
	}
	return string(rune('0'+code/100)) + "xx"
}

// trunkTargets lists the destinations of t for number, in the order to try: by priority,
// weighted random within a priority, destinations that are down last; host names resolved
// per RFC 3263 (except over TLS, where the name is dialled and verified as written).
func (s *Server) trunkTargets(ctx context.Context, t *trunk, number string) []target {
	var ups, downs []*dest
	for _, d := range orderDests(t.dests) {
		if d.health.up.Load() {
			ups = append(ups, d)
		} else {
			downs = append(downs, d)
		}
	}
	var out []target
	for _, d := range append(ups, downs...) {
		u := *d.uri
		u.User = number
		base := target{uri: u, transport: t.transport, trunk: t, to: gsip.Uri{Scheme: u.Scheme, User: number, Host: u.Host, Port: u.Port}}
		if isTLS(t.transport) {
			out = append(out, base)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		hops, err := s.dns.resolve(rctx, d.uri.Host, d.uri.Port, t.transport)
		cancel()
		if err != nil {
			s.trunkm.dnsFailures.WithLabelValues(t.cfg.Name).Inc()
			s.refusals.Warn("dns|"+t.cfg.Name+"|"+d.uri.Host, "trunk destination does not resolve",
				"trunk", t.cfg.Name, "host", d.uri.Host, "error", err)
			continue
		}
		for _, h := range hops {
			tg := base
			tg.dest = h.addr
			out = append(out, tg)
		}
	}
	return out
}

// orderDests sorts destinations by priority, weighted random within one priority.
func orderDests(ds []*dest) []*dest {
	if len(ds) <= 1 {
		return ds
	}
	sorted := append([]*dest(nil), ds...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].priority < sorted[j].priority })
	out := make([]*dest, 0, len(sorted))
	for i := 0; i < len(sorted); {
		j := i
		for j < len(sorted) && sorted[j].priority == sorted[i].priority {
			j++
		}
		ws := make([]int, j-i)
		for k := range ws {
			ws[k] = sorted[i+k].weight
		}
		for _, k := range weightedOrder(ws) {
			out = append(out, sorted[i+k])
		}
		i = j
	}
	return out
}

// Inbound identity (RFC 3325): P-Asserted-Identity, Remote-Party-ID, Diversion and
// History-Info are believed from trunks only; from anyone else they are removed from the
// request before anything reads it.
var trustedOnly = []string{"P-Asserted-Identity", "P-Preferred-Identity", "Remote-Party-ID", "Diversion", "History-Info", "Privacy"}

// untrust removes the identity headers of a request that did not come from a trunk, and
// counts the removal.
func (s *Server) untrust(req *gsip.Request) {
	for _, h := range trustedOnly {
		if req.GetHeader(h) != nil {
			req.RemoveHeader(h)
			s.trunkm.untrusted.WithLabelValues(strings.ToLower(h)).Inc()
		}
	}
}

// callerNumber is the caller's number of a trunk's request, for display and the screen pop
// (never a key that merges customers): P-Asserted-Identity, else Remote-Party-ID, else From,
// read back from the carrier's form.
func (t *trunk) callerNumber(req *gsip.Request) string {
	n := req.From().Address.User
	for _, name := range []string{"P-Asserted-Identity", "Remote-Party-ID"} {
		if h := req.GetHeader(name); h != nil {
			if u := identityUser(h.Value()); u != "" {
				n = u
				break
			}
		}
	}
	return validate.Sanitize(t.inboundNumber(n))
}

// identityUser is the user part of the first URI of an identity header value
// ("Name" <sip:+1555@host>;party=calling, or tel:+1555).
func identityUser(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	}
	v = strings.TrimSpace(v)
	for _, scheme := range []string{"sip:", "sips:", "tel:"} {
		if rest, ok := strings.CutPrefix(strings.ToLower(v[:min(len(v), len(scheme))])+v[min(len(v), len(scheme)):], scheme); ok {
			v = rest
			if i := strings.IndexAny(v, "@;"); i >= 0 {
				v = v[:i]
			}
			if len(v) > 32 {
				return ""
			}
			return v
		}
	}
	return ""
}

// callerOf is Incoming.Caller: see there.
func (s *Server) callerOf(c *call, req *gsip.Request, user string) string {
	if user != "" {
		return user
	}
	c.mu.Lock()
	name := c.rec.Trunk
	c.mu.Unlock()
	if t := s.routes.Load().byName[name]; t != nil {
		return t.callerNumber(req)
	}
	return validate.Sanitize(req.From().Address.User)
}

// divertedOf is Incoming.Diverted: see there.
func (s *Server) divertedOf(c *call, req *gsip.Request, user string) string {
	if user != "" {
		return ""
	}
	c.mu.Lock()
	name := c.rec.Trunk
	c.mu.Unlock()
	t := s.routes.Load().byName[name]
	if t == nil {
		return ""
	}
	// Diversion (RFC 5806) lists the most recent diversion first: the original target is the
	// last entry; History-Info (RFC 7044) lists the original target first.
	if hs := req.GetHeaders("Diversion"); len(hs) > 0 {
		entries := strings.Split(hs[len(hs)-1].Value(), ",")
		if n := identityUser(entries[len(entries)-1]); n != "" {
			return validate.Sanitize(t.inboundNumber(n))
		}
	}
	if h := req.GetHeader("History-Info"); h != nil {
		if n := identityUser(strings.Split(h.Value(), ",")[0]); n != "" {
			return validate.Sanitize(t.inboundNumber(n))
		}
	}
	return ""
}
