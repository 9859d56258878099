package sip

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Registration trunks (trunks[].register): ccswitch registers with the carrier's registrar
// (the trunk's first outbound destination) as outbound_username, answering its digest
// challenge with outbound_secret, asks for register_expires, refreshes at 3/4 of what the
// registrar granted (at least 10 s before it ends), retries a failure after 5 s doubling up
// to 5 min (with jitter), and registers again at start (a restart) and after a reload that
// changes the trunk. The Contact it registers is
//
//	<sip:outbound_username@our-host:port;line=TOKEN>
//
// where TOKEN is derived from the trunk's name, username and registrar, so it survives
// restarts. An INVITE whose Request-URI carries that line parameter, or whose user is
// outbound_username, and that comes from the registrar's address or the trunk's sources,
// is the trunk's inbound call (trunkByRegistration). On shutdown the binding is removed
// (Expires: 0).

const (
	regRetryMin = 5 * time.Second
	regRetryMax = 5 * time.Minute
)

// lineToken is the line parameter of a trunk's registered contact.
func lineToken(tc config.Trunk) string {
	h := sha256.Sum256([]byte("ccswitch-line|" + tc.Name + "|" + tc.OutboundUsername + "|" + fmt.Sprint(tc.OutboundURIs())))
	return hex.EncodeToString(h[:8])
}

// trunkRegs keeps one registration loop per registering trunk of the configuration.
type trunkRegs struct {
	s       *Server
	mu      sync.Mutex
	state   map[string]*regState // by trunk name
	loops   map[string]regLoop   // by regKey; owned by run, stopped by stop
	stopped bool
}

type regLoop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// regState is one trunk's registration as the loop last saw it.
type regState struct {
	mu      sync.Mutex
	ok      bool
	until   time.Time // binding granted until
	lastErr string
	addrs   []string // the registrar's resolved addresses (ip:port), trusted as the trunk's sources
}

func newTrunkRegs(s *Server) *trunkRegs {
	return &trunkRegs{s: s, state: map[string]*regState{}, loops: map[string]regLoop{}}
}

func (tr *trunkRegs) get(name string) *regState {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	st := tr.state[name]
	if st == nil {
		st = &regState{}
		tr.state[name] = st
	}
	return st
}

// registered reports whether trunk name holds a live registration.
func (tr *trunkRegs) registered(name string) bool {
	st := tr.get(name)
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.ok && time.Now().Before(st.until)
}

// TrunkRegistered reports whether a registration trunk holds a live registration with its
// carrier.
func (s *Server) TrunkRegistered(name string) bool { return s.tregs.registered(name) }

// regKey identifies what a registration depends on: a reload that changes it restarts the
// trunk's loop.
func regKey(tc config.Trunk) string {
	return fmt.Sprint(tc.Name, "|", tc.OutboundURIs(), "|", tc.OutboundUsername, "|", tc.OutboundSecret, "|", tc.RegisterExpires, "|", tc.Transport)
}

// run starts and stops the per-trunk loops as the configuration changes, until ctx ends
// (or stop).
func (tr *trunkRegs) run(ctx context.Context) {
	defer tr.stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		want := map[string]*trunk{}
		for _, t := range tr.s.routes.Load().trunks {
			if t.cfg.Register && len(t.dests) > 0 {
				want[regKey(t.cfg)] = t
			}
		}
		tr.mu.Lock()
		if tr.stopped {
			tr.mu.Unlock()
			return
		}
		var gone []regLoop
		for k, l := range tr.loops {
			if want[k] == nil {
				l.cancel()
				gone = append(gone, l)
				delete(tr.loops, k)
			}
		}
		tr.mu.Unlock()
		for _, l := range gone {
			<-l.done // unregistered before the changed trunk registers again
		}
		tr.mu.Lock()
		for k, t := range want {
			if _, ok := tr.loops[k]; ok || tr.stopped {
				continue
			}
			lctx, cancel := context.WithCancel(ctx)
			l := regLoop{cancel: cancel, done: make(chan struct{})}
			tr.loops[k] = l
			go func() {
				defer close(l.done)
				tr.keep(lctx, t)
			}()
		}
		tr.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// stop ends every loop (each unregisters from its carrier, bounded by 2 s) and waits for
// them; no loop starts afterwards. The Server calls it on shutdown while its sockets are
// still open.
func (tr *trunkRegs) stop() {
	tr.mu.Lock()
	tr.stopped = true
	loops := tr.loops
	tr.loops = map[string]regLoop{}
	tr.mu.Unlock()
	for _, l := range loops {
		l.cancel()
	}
	for _, l := range loops {
		<-l.done
	}
}

// keep registers t and keeps it registered until ctx ends, then unregisters.
func (tr *trunkRegs) keep(ctx context.Context, t *trunk) {
	s := tr.s
	st := tr.get(t.cfg.Name)
	callID := newID() + "@ccswitch"
	var cseq uint32 = 1
	retry := regRetryMin
	log := s.log.With("component", "sip.trunkreg", "trunk", t.cfg.Name)
	ask := t.cfg.RegisterExpires.D()
	if ask <= 0 {
		ask = config.DefaultRegisterExpires // a Config built by hand: never Expires 0 by mistake
	}
	for {
		granted, err := tr.register(ctx, t, callID, &cseq, ask)
		var wait time.Duration
		st.mu.Lock()
		wasOK := st.ok
		if err == nil {
			st.ok, st.until, st.lastErr = true, time.Now().Add(granted), ""
		} else {
			if ctx.Err() != nil {
				st.mu.Unlock()
				break
			}
			st.ok, st.lastErr = false, err.Error()
		}
		wait, retry = nextRegister(err == nil, granted, retry, rand.N(retry/2+1))
		st.mu.Unlock()
		switch {
		case err == nil && !wasOK:
			log.Info("registered with carrier", "expires", granted.String())
		case err == nil:
			log.Debug("registration refreshed", "expires", granted.String())
		default:
			s.refusals.Warn("trunkreg|"+t.cfg.Name, "registration with carrier failed", "trunk", t.cfg.Name, "error", err, "retry_in", wait.Round(time.Second).String())
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			continue
		}
		break
	}
	// Unregister (best effort): the carrier stops sending calls to this contact.
	st.mu.Lock()
	was := st.ok
	st.ok = false
	st.mu.Unlock()
	if was {
		uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := tr.register(uctx, t, callID, &cseq, 0); err == nil {
			log.Info("unregistered from carrier")
		}
	}
}

// nextRegister is when to send the next REGISTER: after a success, at 3/4 of the granted
// time but at least 10 s before its end (and not sooner than 1 s), the back-off reset; after
// a failure, half the back-off plus jitter (0 to half), the back-off doubled up to
// regRetryMax.
func nextRegister(ok bool, granted, retry, jitter time.Duration) (wait, nextRetry time.Duration) {
	if ok {
		return max(min(granted*3/4, granted-10*time.Second), time.Second), regRetryMin
	}
	return retry/2 + jitter, min(retry*2, regRetryMax)
}

var errRegAuth = errors.New("registrar refused our credentials")

// register sends one REGISTER (with its digest answer if challenged) asking for expires (0:
// remove the binding) and returns what the registrar granted.
func (tr *trunkRegs) register(ctx context.Context, t *trunk, callID string, cseq *uint32, expires time.Duration) (time.Duration, error) {
	s := tr.s
	d := t.dests[0]
	registrar := gsip.Uri{Scheme: d.uri.Scheme, Host: d.uri.Host, Port: d.uri.Port}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	peer := d.uri.Host
	var dest string
	if !isTLS(t.transport) {
		hops, err := s.dns.resolve(rctx, d.uri.Host, d.uri.Port, t.transport)
		if err != nil || len(hops) == 0 {
			tr.count(t, "error")
			return 0, fmt.Errorf("registrar %s does not resolve: %v", d.uri.Host, err)
		}
		dest, peer = hops[0].addr, hops[0].addr
		st := tr.get(t.cfg.Name)
		st.mu.Lock()
		st.addrs = st.addrs[:0]
		for _, h := range hops {
			st.addrs = append(st.addrs, h.addr)
		}
		st.mu.Unlock()
	}
	ua := s.dialogUAFor(t.transport, d.uri.Scheme, peer)
	if ua == nil {
		return 0, errors.New("no listener for the trunk's transport")
	}
	req := gsip.NewRequest(gsip.REGISTER, registrar)
	req.SetTransport(t.transport)
	if dest != "" {
		req.SetDestination(dest)
	}
	aor := gsip.Uri{Scheme: d.uri.Scheme, User: t.cfg.OutboundUsername, Host: d.uri.Host}
	from := &gsip.FromHeader{Address: aor, Params: gsip.NewParams()}
	from.Params.Add("tag", gsip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&gsip.ToHeader{Address: aor, Params: gsip.NewParams()})
	cid := gsip.CallIDHeader(callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&gsip.CSeqHeader{SeqNo: *cseq, MethodName: gsip.REGISTER})
	contact := ua.ContactHDR.Clone()
	contact.Address.User = t.cfg.OutboundUsername
	if contact.Address.UriParams == nil {
		contact.Address.UriParams = gsip.NewParams()
	} else {
		contact.Address.UriParams = contact.Address.UriParams.Clone()
	}
	contact.Address.UriParams.Add("line", t.line)
	req.AppendHeader(contact)
	req.AppendHeader(gsip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	req.AppendHeader(gsip.NewHeader("User-Agent", s.userAgent))
	mf := gsip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)

	res, err := ua.Client.Do(rctx, req)
	if err == nil && (res.StatusCode == 401 || res.StatusCode == 407) && t.cfg.OutboundUsername != "" {
		res, err = ua.Client.DoDigestAuth(rctx, req, res, sipgo.DigestAuth{Username: t.cfg.OutboundUsername, Password: t.cfg.OutboundSecret})
	}
	*cseq = req.CSeq().SeqNo + 1
	switch {
	case err != nil:
		tr.count(t, "timeout")
		return 0, err
	case res.StatusCode == 401 || res.StatusCode == 407 || res.StatusCode == 403:
		tr.count(t, "auth-failed")
		return 0, fmt.Errorf("%w: %d %s", errRegAuth, res.StatusCode, res.Reason)
	case res.StatusCode == 423 && expires > 0:
		// Interval Too Brief: ask again for the registrar's minimum.
		if h := res.GetHeader("Min-Expires"); h != nil {
			if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 && n <= 86400 && time.Duration(n)*time.Second > expires {
				return tr.register(ctx, t, callID, cseq, time.Duration(n)*time.Second)
			}
		}
		tr.count(t, "rejected")
		return 0, fmt.Errorf("registrar answered %d %s", res.StatusCode, res.Reason)
	case !res.IsSuccess():
		tr.count(t, "rejected")
		return 0, fmt.Errorf("registrar answered %d %s", res.StatusCode, res.Reason)
	}
	tr.count(t, "ok")
	return grantedExpires(res, t.line, expires), nil
}

func (tr *trunkRegs) count(t *trunk, result string) {
	tr.s.trunkm.registrations.WithLabelValues(t.cfg.Name, result).Inc()
}

// grantedExpires is the expiry the registrar gave our contact (its expires parameter in the
// 200's Contact list, else the Expires header, else what we asked for).
func grantedExpires(res *gsip.Response, line string, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*gsip.ContactHeader)
		if !ok {
			continue
		}
		if l, _ := ch.Address.UriParams.Get("line"); l != line {
			continue
		}
		if e, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(e); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(h.Value()); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

// registrarAddrs is where trunk name's registrar was last reached (ip:port).
func (tr *trunkRegs) registrarAddrs(name string) []string {
	st := tr.get(name)
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]string(nil), st.addrs...)
}

// trunkByRegistration returns the registration trunk an INVITE was sent to through its
// registered contact: the Request-URI carries the trunk's line parameter or its user is
// outbound_username, and the request comes from the registrar's address (any port) or the
// trunk's sources.
func (s *Server) trunkByRegistration(r *routing, req *gsip.Request) *trunk {
	line, _ := req.Recipient.UriParams.Get("line")
	src := req.Source()
	for _, t := range r.trunks {
		if !t.cfg.Register {
			continue
		}
		if line != t.line && (line != "" || req.Recipient.User != t.cfg.OutboundUsername) {
			continue
		}
		if r.trunkBySource(src) == t {
			return t
		}
		srcIP := hostOf(src)
		for _, a := range s.tregs.registrarAddrs(t.cfg.Name) {
			if hostOf(a) == srcIP {
				return t
			}
		}
	}
	return nil
}

func hostOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			h := addr[:i]
			if len(h) > 1 && h[0] == '[' {
				h = h[1 : len(h)-1]
			}
			return h
		}
	}
	return addr
}
