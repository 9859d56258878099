package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// Connections and flows of the stream transports (TCP, TLS). sipgo accepts and reads the
// connections; every accepted one passes through flowListener, which wraps it in a flowConn
// that ccswitch owns the lifetime of:
//
//   - Admission: at most sip.connections.max_per_source connections per source IP (trunk
//     sources exempt); one more is closed at accept, counted and logged once a minute.
//   - TLS: the handshake runs on the connection's first read, bounded by
//     sip.tls.handshake_timeout; a failed or slow one closes the connection (counted, logged).
//   - Idle bound: a connection that carries no binding (and no call) is closed after
//     sip.connections.idle_timeout without a byte from the peer. One a REGISTER bound a
//     contact to has no idle bound: it lives as long as its binding (sipgo's own TCP read
//     timeout is off; the deadline is ours and follows the connection's state).
//   - Flow: a binding registered over TCP/TLS is reached over the connection it came on
//     (RFC 5626 §5.3; contacts route to the binding's source), and when that connection
//     closes the binding is removed with registrar.ReasonFlowClosed. A binding whose flow is
//     already gone is not rung. Bindings loaded from the store that were registered over
//     TCP/TLS lost their connection with the restart: they are removed at Run.
//   - Connection reuse for in-dialog requests (sipgo #361): ccswitch's requests inside a
//     dialog whose INVITE (or 2xx) came over a connection still open are sent over it, even
//     when a Record-Route names the peer's listening port.

// streamOptions are the Options that reach the stream side.
type streamOptions struct {
	dataDir string
	reg     prometheus.Registerer
}

// WithDataDir names the data folder, where a self-signed TLS certificate is kept when
// sip.tls has none (cmd passes -data).
func WithDataDir(dir string) Option { return func(s *Server) { s.opt.dataDir = dir } }

type streamMetrics struct {
	open              *prometheus.GaugeVec
	refused           *prometheus.CounterVec
	closed            *prometheus.CounterVec
	tlsVerifyFailures *prometheus.CounterVec
	insecure          *prometheus.CounterVec
}

func newStreamMetrics(reg prometheus.Registerer) *streamMetrics {
	return &streamMetrics{
		open: metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ccswitch_sip_connections", Help: "Accepted TCP and TLS connections open now.",
		}, []string{"transport"})),
		refused: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_connections_refused_total", Help: "TCP and TLS connections closed at accept (reason per_source: sip.connections.max_per_source reached).",
		}, []string{"transport", "reason"})),
		closed: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_connections_closed_total", Help: "TCP and TLS connections ccswitch closed (reason idle: sip.connections.idle_timeout without a binding; handshake: TLS handshake failed or timed out).",
		}, []string{"transport", "reason"})),
		tlsVerifyFailures: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_tls_verify_failures_total", Help: "Outbound TLS handshakes refused because the peer's certificate did not verify.",
		}, []string{"trunk"})),
		insecure: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_insecure_refused_total", Help: "Requests refused 403 because they had to come over TLS (reason sips: a sips: URI; require_tls: the extension's or trunk's setting).",
		}, []string{"reason"})),
	}
}

// connLimits are the bounds in force (they follow reloads).
type connLimits struct {
	maxPerSource int
	idle         time.Duration
	handshake    time.Duration
}

// streams is the stream-transport side of a Server: certificates, accepted connections and
// the flows registrations are bound to.
type streams struct {
	s        *Server
	log      *slog.Logger
	rl       *ratelog.Logger
	m        *streamMetrics
	certs    certs
	dataDir  string
	outbound atomic.Pointer[outboundPolicies]
	limits   atomic.Pointer[connLimits]
	ua       atomic.Pointer[sipgo.UserAgent] // set by Run (build): a reload may come first

	mu    sync.Mutex
	conns map[string]*flowConn         // source "ip:port" → accepted connection
	perIP map[netip.Addr]int           // open accepted connections per source IP
	owner map[string]map[string]string // aor → contact → source of its flow
	stale []registrar.Event            // replayed stream bindings with no flow (Run removes them)
	// dialogs maps Call-ID "|" our tag → source "ip:port" of the connection a caller's
	// INVITE came on, while that dialog lasts (in-dialog requests are steered onto it).
	dialogs sync.Map
	unsub   func()
}

func newStreams(s *Server) *streams {
	e := &streams{
		s:       s,
		log:     s.log.With("component", "sip.conn"),
		m:       newStreamMetrics(s.opt.reg),
		dataDir: s.opt.dataDir,
		conns:   map[string]*flowConn{},
		perIP:   map[netip.Addr]int{},
		owner:   map[string]map[string]string{},
	}
	e.rl = ratelog.New(e.log, time.Minute)
	e.outbound.Store(&outboundPolicies{})
	e.limits.Store(&connLimits{maxPerSource: config.DefaultMaxConnsPerSource, idle: config.DefaultConnIdleTimeout, handshake: config.DefaultTLSHandshakeTimeout})
	return e
}

// apply takes the stream settings of cfg: bounds, trunk certificate policies, and the
// listeners' certificate (re-read from its files: SIGHUP reloads it). A certificate that
// cannot be loaded keeps the previous one (an error at the first load).
func (e *streams) apply(cfg *config.Config) error {
	lim := connLimits{maxPerSource: cfg.SIP.Connections.MaxPerSource, idle: cfg.SIP.Connections.IdleTimeout.D(), handshake: cfg.SIP.TLS.HandshakeTimeout.D()}
	if lim.maxPerSource <= 0 {
		lim.maxPerSource = config.DefaultMaxConnsPerSource
	}
	if lim.idle <= 0 {
		lim.idle = config.DefaultConnIdleTimeout
	}
	if lim.handshake <= 0 {
		lim.handshake = config.DefaultTLSHandshakeTimeout
	}
	pol, err := compileOutbound(cfg)
	if err != nil {
		return err
	}
	if err := e.certs.load(cfg, e.dataDir); err != nil {
		if e.certs.cur.Load() == nil {
			return err
		}
		e.log.Error("TLS certificate not reloaded; keeping the previous one", "error", err)
	}
	e.limits.Store(&lim)
	old := e.outbound.Swap(&pol)
	if ua := e.ua.Load(); ua != nil && old != nil {
		// A connection verified under a trunk's previous CA or name is closed: the next
		// request dials and verifies anew.
		for _, addr := range old.changed(pol) {
			if c, err := ua.TransportLayer().GetConnection("tls", addr); err == nil {
				c.Close()
				e.log.Info("closed the TLS connection of a trunk whose certificate policy changed", "addr", addr)
			}
		}
	}
	return nil
}

// exempt reports whether a source is a trunk's (no connection bounds for carriers).
func (e *streams) exempt(src netip.AddrPort) bool {
	r := e.s.routes.Load()
	return r != nil && r.trunkBySource(src.String()) != nil
}

// flowListener wraps a TCP listener: admission, TLS, and flowConn for each connection.
type flowListener struct {
	net.Listener
	e         *streams
	transport string // "tcp" or "tls"
	tlsConf   *tls.Config
}

func (e *streams) listener(l net.Listener, transport string) net.Listener {
	fl := &flowListener{Listener: l, e: e, transport: transport}
	if transport == "tls" {
		fl.tlsConf = e.certs.serverTLS()
	}
	return fl
}

// Accept returns the next admitted connection. Errors other than a closed listener (a full
// file table) are retried after a short pause, as net/http does, instead of ending sipgo's
// accept loop and with it the listener.
func (l *flowListener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			l.e.rl.Warn("accept|"+l.transport, "accept failed; retrying", "transport", l.transport, "error", err)
			time.Sleep(pause)
			continue
		}
		pause = 0
		if fc := l.e.admit(c, l.transport, l.tlsConf); fc != nil {
			return fc, nil
		}
	}
}

// admit counts c against its source's cap and wraps it, or closes it and returns nil.
func (e *streams) admit(c net.Conn, transport string, tlsConf *tls.Config) *flowConn {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		c.Close()
		return nil
	}
	ip := ap.Addr().Unmap()
	fc := &flowConn{Conn: c, raw: c, e: e, remote: c.RemoteAddr().String(), ip: ip, transport: transport, exempt: e.exempt(ap)}
	lim := e.limits.Load()
	e.mu.Lock()
	if !fc.exempt && e.perIP[ip] >= lim.maxPerSource {
		e.mu.Unlock()
		// Counted and logged before the close, which is what the source sees (a test reading
		// the counter once its connection was refused read 0 once).
		e.m.refused.WithLabelValues(transport, "per_source").Inc()
		e.rl.Warn("conncap|"+ip.String(), "connection refused: too many connections from one source", "source", ip.String(), "transport", transport, "max_per_source", lim.maxPerSource)
		c.Close()
		return nil
	}
	e.perIP[ip]++
	e.conns[fc.remote] = fc
	e.mu.Unlock()
	e.m.open.WithLabelValues(transport).Inc()
	if tlsConf != nil {
		fc.tls = tls.Server(c, tlsConf)
		fc.Conn = fc.tls
	}
	return fc
}

// flowConn is one accepted TCP or TLS connection, as sipgo reads and writes it.
type flowConn struct {
	net.Conn // what sipgo uses: the TCP connection, or the TLS connection over it
	raw      net.Conn
	tls      *tls.Conn
	e        *streams
	remote   string
	ip       netip.Addr
	// transport is "tcp" or "tls".
	transport string
	exempt    bool

	handshaken atomic.Bool
	closed     atomic.Bool

	// mu orders deadline changes: a Read arming the idle deadline and a binding attaching
	// (which clears it) must not interleave.
	mu    sync.Mutex
	keys  map[string]struct{} // bindings on this flow: aor "\x00" contact
	calls int                 // calls whose caller's INVITE came on this flow, still up
}

// held reports (under mu) whether the connection must stay open however quiet it is.
func (c *flowConn) heldLocked() bool { return c.exempt || len(c.keys) > 0 || c.calls > 0 }

// armLocked sets the read deadline for the connection's state.
func (c *flowConn) armLocked() {
	if c.heldLocked() {
		c.raw.SetReadDeadline(time.Time{})
		return
	}
	c.raw.SetReadDeadline(time.Now().Add(c.e.limits.Load().idle))
}

func (c *flowConn) Read(b []byte) (int, error) {
	if c.tls != nil && !c.handshaken.Load() {
		if err := c.handshake(); err != nil {
			return 0, io.EOF // counted and logged; sipgo closes the connection quietly
		}
	}
	c.mu.Lock()
	c.armLocked()
	c.mu.Unlock()
	n, err := c.Conn.Read(b)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.e.m.closed.WithLabelValues(c.transport, "idle").Inc()
			c.e.rl.Info("idle|"+c.ip.String(), "closing a connection that carried no registration", "source", c.remote, "transport", c.transport, "idle_timeout", c.e.limits.Load().idle)
			return n, io.EOF
		}
	}
	return n, err
}

func (c *flowConn) handshake() error {
	c.raw.SetDeadline(time.Now().Add(c.e.limits.Load().handshake))
	err := c.tls.Handshake()
	c.raw.SetWriteDeadline(time.Time{})
	if err != nil {
		c.e.m.closed.WithLabelValues(c.transport, "handshake").Inc()
		c.e.rl.Info("handshake|"+c.ip.String(), "TLS handshake failed", "source", c.remote, "error", err)
		return err
	}
	c.handshaken.Store(true)
	return nil
}

// Close closes the connection once; its flow's bindings are removed (flow-closed).
func (c *flowConn) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	err := c.Conn.Close()
	c.e.release(c)
	return err
}

// release forgets a closed connection and removes the bindings that were reached over it.
func (e *streams) release(c *flowConn) {
	e.mu.Lock()
	if e.conns[c.remote] == c {
		delete(e.conns, c.remote)
	}
	if e.perIP[c.ip]--; e.perIP[c.ip] <= 0 {
		delete(e.perIP, c.ip)
	}
	c.mu.Lock()
	keys := c.keys
	c.keys = nil
	c.mu.Unlock()
	for k := range keys {
		aor, contact, _ := strings.Cut(k, "\x00")
		if m := e.owner[aor]; m != nil && m[contact] == c.remote {
			delete(m, contact)
			if len(m) == 0 {
				delete(e.owner, aor)
			}
		}
	}
	e.mu.Unlock()
	e.m.open.WithLabelValues(c.transport).Dec()
	for k := range keys {
		aor, contact, _ := strings.Cut(k, "\x00")
		if e.s.reg.RemoveFlow(aor, contact, c.remote, registrar.ReasonFlowClosed) {
			e.log.Debug("flow closed: binding removed", "aor", aor, "source", c.remote, "transport", c.transport)
		}
	}
}

// attachLocked puts a binding on the flow from source (e.mu held).
func (e *streams) attachLocked(aor, contact, source string) {
	m := e.owner[aor]
	if m == nil {
		m = map[string]string{}
		e.owner[aor] = m
	}
	if prev, ok := m[contact]; ok && prev != source {
		e.detachConnLocked(prev, aor, contact)
	}
	m[contact] = source
	if c := e.conns[source]; c != nil {
		c.mu.Lock()
		if c.keys == nil {
			c.keys = map[string]struct{}{}
		}
		c.keys[aor+"\x00"+contact] = struct{}{}
		c.armLocked()
		c.mu.Unlock()
	}
}

// detachLocked takes a binding off its flow (e.mu held) when it is still on source.
func (e *streams) detachLocked(aor, contact, source string) {
	m := e.owner[aor]
	if m == nil || m[contact] != source {
		return
	}
	delete(m, contact)
	if len(m) == 0 {
		delete(e.owner, aor)
	}
	e.detachConnLocked(source, aor, contact)
}

func (e *streams) detachConnLocked(source, aor, contact string) {
	c := e.conns[source]
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.keys, aor+"\x00"+contact)
	c.armLocked()
	c.mu.Unlock()
}

// registered binds the stream bindings of aor to their flows after a REGISTER was
// answered 2xx. It also catches a refresh that moved a contact to a new connection, which
// the registrar does not report as an event.
func (e *streams) registered(req *gsip.Request, aor string, res *gsip.Response) {
	if res == nil || !res.IsSuccess() || !isStream(req.Transport()) {
		return
	}
	if outboundRequested(req) {
		// RFC 5626 §6: the binding is bound to its flow (the connection it came on), and the
		// phone learns it: it keeps the flow alive with CRLF keepalives and re-registers
		// over a new one when it breaks.
		res.AppendHeader(gsip.NewHeader("Require", "outbound"))
	}
	live := e.s.reg.Lookup(aor)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := map[string]string{}
	for _, c := range live {
		if isStream(c.Transport) {
			now[c.Contact] = c.Source
		}
	}
	for contact, src := range e.owner[aor] {
		if now[contact] != src {
			e.detachLocked(aor, contact, src)
		}
	}
	for contact, src := range now {
		e.attachLocked(aor, contact, src)
	}
}

// outboundRequested reports whether a REGISTER asks for RFC 5626 flows: Supported: outbound
// and a contact with reg-id and +sip.instance.
func outboundRequested(req *gsip.Request) bool {
	supported := false
	for _, h := range req.GetHeaders("Supported") {
		for _, opt := range strings.Split(h.Value(), ",") {
			if strings.EqualFold(strings.TrimSpace(opt), "outbound") {
				supported = true
			}
		}
	}
	if !supported {
		return false
	}
	for _, h := range req.GetHeaders("Contact") {
		if ch, ok := h.(*gsip.ContactHeader); ok && ch.Params.Has("reg-id") && ch.Params.Has("+sip.instance") {
			return true
		}
	}
	return false
}

// onEvent follows the registrar (called with an AOR's shard lock held: no registrar calls).
func (e *streams) onEvent(ev registrar.Event) {
	if !isStream(ev.Transport) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev.Kind {
	case registrar.Bound:
		if e.conns[ev.Source] != nil {
			e.attachLocked(ev.AOR, ev.Contact, ev.Source)
		} else if ev.Reason == registrar.ReasonPresent {
			e.stale = append(e.stale, ev)
		}
	case registrar.Unbound:
		e.detachLocked(ev.AOR, ev.Contact, ev.Source)
	}
}

// start subscribes to the registrar and removes the stream bindings whose connection did
// not survive a restart.
func (e *streams) start() {
	e.unsub = e.s.reg.Subscribe(e.onEvent)
	e.mu.Lock()
	stale := e.stale
	e.stale = nil
	e.mu.Unlock()
	for _, ev := range stale {
		e.s.reg.RemoveFlow(ev.AOR, ev.Contact, ev.Source, registrar.ReasonFlowClosed)
	}
	if len(stale) > 0 {
		e.log.Info("removed TCP/TLS registrations whose connection closed with the restart", "bindings", len(stale))
	}
}

func (e *streams) stop() {
	if e.unsub != nil {
		e.unsub()
	}
}

// alive reports whether an accepted connection from source is open.
func (e *streams) alive(source string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.conns[source] != nil
}

// holdCall keeps the connection a caller's INVITE came on open (no idle bound) and
// remembers it as the dialog's flow, until the caller's dialog ends.
func (e *streams) holdCall(req *gsip.Request, dlg *sipgo.DialogServerSession) {
	if !isStream(req.Transport()) {
		return
	}
	e.mu.Lock()
	c := e.conns[req.Source()]
	e.mu.Unlock()
	if c == nil {
		return
	}
	tag, _ := dlg.InviteRequest.To().Params.Get("tag")
	key := req.CallID().Value() + "|" + tag
	e.dialogs.Store(key, req.Source())
	c.mu.Lock()
	c.calls++
	c.armLocked()
	c.mu.Unlock()
	context.AfterFunc(dlg.Context(), func() {
		e.dialogs.Delete(key)
		c.mu.Lock()
		c.calls--
		c.armLocked()
		c.mu.Unlock()
	})
}

// flowTarget routes a registered contact over the connection its REGISTER came on. It
// reports false when that connection is gone (the binding is being removed: skip it).
func (e *streams) flowTarget(t *target, c registrar.Contact) bool {
	if !isStream(c.Transport) {
		return true
	}
	if !e.alive(c.Source) {
		return false
	}
	t.transport = c.Transport
	t.dest = c.Source
	return true
}

// flowRequester sends a client's requests through sipgo's layers, first steering in-dialog
// requests onto the connection their dialog came over (sipgo #361 workaround).
type flowRequester struct {
	s  *Server
	ua *sipgo.UserAgent
}

func (r flowRequester) Request(ctx context.Context, req *gsip.Request) (gsip.ClientTransaction, error) {
	r.s.streams.steer(req)
	if req.IsAck() {
		return nil, r.ua.TransportLayer().WriteMsg(req)
	}
	return r.ua.TransactionLayer().Request(ctx, req)
}

// steer sets the destination of an in-dialog request over a stream transport to the open
// connection its dialog came over: the caller's INVITE's (leg A, remembered by holdCall
// until the dialog ends: the leg itself is already unlisted while its BYE goes out) or the
// callee's 2xx's (leg B).
func (e *streams) steer(req *gsip.Request) {
	if !isStream(req.Transport()) || req.From() == nil || req.CallID() == nil {
		return
	}
	tag, _ := req.From().Params.Get("tag")
	key := req.CallID().Value() + "|" + tag
	src := ""
	if v, ok := e.dialogs.Load(key); ok {
		src = v.(string)
	} else if v, ok := e.s.legs.Load(key); ok {
		if l := v.(*Leg); l.cli != nil && l.cli.InviteResponse != nil {
			src = l.cli.InviteResponse.Source()
		}
	}
	if src != "" && src != req.Destination() && e.alive(src) {
		req.SetDestination(src)
	}
}

// dialogUAFor is the dialog user agent for a transport, URI scheme and peer (host:port):
// over TLS, a sips: dialog gets a sips: Contact (RFC 3261 §8.1.1.8, §12.1.1), a sip: one
// transport=tls; over UDP, the listener of the peer's address family (dialogUAToPeer).
func (s *Server) dialogUAFor(transport, scheme, peer string) *sipgo.DialogUA {
	if isTLS(transport) && strings.EqualFold(scheme, "sips") && s.sipsUA != nil {
		return s.sipsUA
	}
	return s.dialogUAToPeer(transport, peer)
}

// legUA is dialogUAFor the dialog of a leg.
func (s *Server) legUA(l *Leg) *sipgo.DialogUA {
	scheme := "sip"
	if l.srv != nil {
		scheme = l.srv.InviteRequest.Recipient.Scheme
	} else if l.cli != nil {
		scheme = l.cli.InviteRequest.Recipient.Scheme
	}
	return s.dialogUAFor(l.transport(), scheme, l.remoteAddr())
}

// refuseInsecure answers 403 to a request that had to come over TLS and did not: a sips:
// Request-URI, a REGISTER binding a sips: contact (RFC 5630: a SIPS URI is only reached over
// TLS), or a request from a trunk with require_tls. It reports whether it answered.
func (s *Server) refuseInsecure(req *gsip.Request, tx gsip.ServerTransaction) bool {
	if isTLS(req.Transport()) || req.IsAck() {
		return false
	}
	reason := ""
	switch {
	case strings.EqualFold(req.Recipient.Scheme, "sips"):
		reason = "sips"
	case req.Method == gsip.REGISTER && sipsContact(req):
		reason = "sips"
	default:
		if t := s.routes.Load().trunkBySource(req.Source()); t != nil && t.cfg.RequireTLS {
			reason = "require_tls"
		}
	}
	if reason == "" {
		return false
	}
	s.streams.m.insecure.WithLabelValues(reason).Inc()
	if req.Method == gsip.REGISTER {
		s.metrics.registrations.WithLabelValues(regForbidden).Inc() // every REGISTER has its result
	}
	s.streams.rl.Warn("insecure|"+reason+"|"+sourceIP(req), "request refused: it must come over TLS", "source", req.Source(), "transport", req.Transport(), "reason", reason, "method", string(req.Method))
	respond(tx, req, 403, "TLS Required")
	return true
}

// refuseUserInsecure answers 403 when an authenticated extension with require_tls sent its
// request over anything but TLS. It reports whether it answered.
func (s *Server) refuseUserInsecure(req *gsip.Request, tx gsip.ServerTransaction, u *config.User) bool {
	if u == nil || !u.RequireTLS || isTLS(req.Transport()) {
		return false
	}
	s.streams.m.insecure.WithLabelValues("require_tls").Inc()
	s.streams.rl.Warn("insecure|user|"+u.Extension, "request refused: the extension requires TLS", "aor", u.Extension, "source", req.Source(), "transport", req.Transport(), "method", string(req.Method))
	respond(tx, req, 403, "TLS Required")
	return true
}

func sipsContact(req *gsip.Request) bool {
	for _, h := range req.GetHeaders("Contact") {
		if ch, ok := h.(*gsip.ContactHeader); ok && strings.EqualFold(ch.Address.Scheme, "sips") {
			return true
		}
	}
	return false
}
