package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/ccswitch/ccswitch/sip/auth"
	"github.com/ccswitch/ccswitch/sip/limit"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/validate"
	"github.com/ccswitch/ccswitch/store"
)

// allowed is what we answer; it is the Allow header everywhere.
var allowed = []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "REFER", "NOTIFY", "PRACK"}

// udpReadBuffer is the SO_RCVBUF asked for each UDP socket (the kernel caps it at rmem_max).
const udpReadBuffer = 8 << 20

// Server is ccswitch's SIP side: registrar and B2BUA on UDP and TCP listeners.
type Server struct {
	log        *slog.Logger
	st         *store.Store
	app        App
	anchor     SDPAnchor
	digestAlgs []string
	recorder   CallRecorder
	metrics    *sipMetrics

	cfg       atomic.Pointer[config.Config]
	routes    atomic.Pointer[routing]
	realm     string
	userAgent string
	auth      *auth.Authenticator
	throttle  *auth.Throttle
	reg       *registrar.Registrar
	policy    atomic.Pointer[validate.Policy]
	lim       *limit.Limits // abuse limits (limits.go)

	healthMu sync.Mutex
	health   map[string]*trunkHealth // trunk name "|" destination URI → health (routing.go)
	trunkm   *trunkMetrics           // trunks, routing, failover (trunkmetrics.go)
	dns      *resolver               // RFC 3263 lookups of trunk destinations (resolve.go)
	tregs    *trunkRegs              // registrations with carriers (trunkreg.go)

	refusals *ratelog.Logger // every refusal, once a minute per key
	reads    *readPath       // the UDP read path (readpath.go)
	pinger   *natPinger      // NAT keepalives (keepalive.go)
	self     atomic.Pointer[addrSet]

	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	udpCli *sipgo.Client
	tcpCli *sipgo.Client
	udpUA  *sipgo.DialogUA
	tcpUA  *sipgo.DialogUA
	udp    []*udpSide // one per UDP listener (listeners.go)
	host   string     // advertised host

	// The stream transports (conn.go, tls.go): TLS dialogs' user agents (Contact
	// transport=tls, or sips: for sips dialogs), connections, flows and certificates.
	tlsCli  *sipgo.Client
	tlsUA   *sipgo.DialogUA
	sipsUA  *sipgo.DialogUA
	streams *streams
	opt     streamOptions

	// legs maps Call-ID "|" our tag → *Leg, for both sides of every established call.
	legs sync.Map
	// losers maps the Call-ID of each fork that did not win → expiry (time.Time): the
	// only dialogs whose late 2xx we ACK and BYE.
	losers sync.Map
	// invites maps Call-ID|From tag|CSeq of INVITEs being or recently handled →
	// *inviteSeen: duplicate suppression behind sipgo's transactions.
	invites sync.Map
	// calls maps our call id → *call for every call in progress (ringing or up).
	calls sync.Map
	// early maps Call-ID|our tag of leg A INVITEs with reliable provisionals → *reliableA,
	// where PRACKs find them (prack.go).
	early sync.Map

	ready    chan struct{}
	addrsMu  sync.Mutex
	addrs    []net.Addr
	running  atomic.Bool
	closing  atomic.Bool
	inflight atomic.Int64
	panics   atomic.Int64   // recovered handler panics (a bug each; tests assert zero)
	drain    *drainState    // graceful stop (drain.go)
	wg       sync.WaitGroup // background goroutines: forks, BYEs, loops
	runCtx   context.Context
}

// New builds a Server from cfg. It loads the stored registrations; it does not listen
// until Run.
func New(cfg *config.Config, st *store.Store, log *slog.Logger, opts ...Option) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("sip: nil config")
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Server{
		log:    log.With("component", "sip"),
		st:     st,
		anchor: PassThrough{},
		health: make(map[string]*trunkHealth),
		ready:  make(chan struct{}),
		runCtx: context.Background(),
	}
	for _, o := range opts {
		o(s)
	}
	s.streams = newStreams(s)
	s.realm = cfg.SIP.Realm
	if s.realm == "" {
		s.realm = "ccswitch"
	}
	s.userAgent = validate.Sanitize(cfg.SIP.UserAgent)
	if s.userAgent == "" {
		s.userAgent = "ccswitch"
	}
	s.metrics = newSIPMetrics(s, s.opt.reg)
	s.trunkm = newTrunkMetrics(s, s.opt.reg)
	s.dns = newResolver(cfg.SIP.DNS)
	s.tregs = newTrunkRegs(s)
	s.drain = newDrainState(s.opt.reg)
	s.refusals = ratelog.New(s.log, time.Minute)
	s.auth = auth.New(s.realm, []byte(cfg.SIP.NonceSecret), cfg.SIP.NonceTTL.D())
	s.throttle = auth.NewThrottle(lockout(cfg))
	s.reg = registrar.New(st, s.log.With("component", "sip.registrar"), limits(cfg))
	if err := s.initLimits(cfg, log); err != nil {
		return nil, err
	}
	if err := s.apply(cfg); err != nil {
		return nil, err
	}
	if err := s.reg.Load(); err != nil {
		return nil, err
	}
	s.reg.Subscribe(s.metrics.binding) // for the Server's lifetime
	s.pinger = newNATPinger(s.natPingInterval, s.reg, s.natPing, func(answered bool) {
		s.metrics.natPings.Inc()
		if !answered {
			s.metrics.natPingFails.Inc()
		}
	})
	s.pinger.dropped = func(aor string, c registrar.Contact) {
		s.refusals.Info("nat-unreachable|"+aor+"|"+c.Dest, "contact behind NAT stopped answering keepalives: unregistered",
			"aor", aor, "source", c.Dest, "misses", natPingMisses)
	}
	return s, nil
}

func limits(cfg *config.Config) registrar.Limits {
	maxContacts := cfg.SIP.MaxContacts
	if maxContacts <= 0 {
		maxContacts = config.DefaultMaxContacts // a Config built by hand: still bounded
	}
	return registrar.Limits{Min: cfg.SIP.MinExpires.D(), Max: cfg.SIP.MaxExpires.D(), Default: cfg.SIP.DefaultExpires.D(),
		MaxContacts: maxContacts}
}

// lockout is sip.auth_lockout with its defaults (a Config built by hand may lack them).
func lockout(cfg *config.Config) (failures, usernames int, window time.Duration) {
	l := cfg.SIP.AuthLockout
	failures, usernames, window = l.Failures, l.Usernames, l.Window.D()
	if failures <= 0 {
		failures = 5
	}
	if usernames <= 0 {
		usernames = 4
	}
	if window <= 0 {
		window = time.Minute
	}
	return failures, usernames, window
}

// natPingInterval is sip.nat_ping_interval (default 30s; 0: off), as currently configured.
func (s *Server) natPingInterval() time.Duration {
	if iv := s.cfg.Load().SIP.NATPingInterval; iv != nil {
		return iv.D()
	}
	return 30 * time.Second
}

// apply compiles cfg and makes it the one new requests see.
func (s *Server) apply(cfg *config.Config) error {
	r, err := s.compile(cfg)
	if err != nil {
		return err
	}
	if err := s.streams.apply(cfg); err != nil {
		return err
	}
	accounts := make(map[string]string, len(cfg.Users)+len(cfg.Trunks))
	for _, t := range cfg.Trunks {
		if t.Username != "" && t.Secret != "" {
			accounts[t.Username] = t.Secret
		}
	}
	for _, u := range cfg.Users {
		accounts[u.Extension] = u.Secret // an extension wins over a trunk of the same name
	}
	s.auth.SetAccounts(accounts)
	// WithDigestAlgorithms wins over sip.digest_algorithms; both follow reloads.
	if len(s.digestAlgs) > 0 {
		s.auth.SetAlgorithms(s.digestAlgs...)
	} else {
		s.auth.SetAlgorithms(cfg.SIP.DigestAlgorithms...)
	}
	s.reg.SetLimits(limits(cfg))
	if err := s.lim.Reload(cfg); err != nil {
		return err
	}
	s.throttle.SetLimits(lockout(cfg))
	s.cfg.Store(cfg)
	s.routes.Store(r)
	return nil
}

// Reload swaps users, trunks and numbers for new requests; calls in progress continue.
// Listen addresses and realm are not reloaded. An invalid config is logged and ignored.
func (s *Server) Reload(cfg *config.Config) {
	if err := s.apply(cfg); err != nil {
		s.log.Error("reload rejected", "error", err)
		return
	}
	s.log.Info("config reloaded", "users", len(cfg.Users), "trunks", len(cfg.Trunks), "numbers", len(cfg.Numbers))
}

// Ready is closed once every listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound listen addresses (UDP first, then TCP, then TLS), valid after Ready.
func (s *Server) Addrs() []net.Addr {
	s.addrsMu.Lock()
	defer s.addrsMu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Registrar exposes the location service (lookups for other packages and tests).
func (s *Server) Registrar() *registrar.Registrar { return s.reg }

// TrunkUp reports the health of a trunk by name: up while one of its outbound destinations
// is (true until OPTIONS probes fail, trunk.go).
func (s *Server) TrunkUp(name string) bool { return s.routes.Load().trunkUp(name) }

// Run listens on the configured addresses and serves until ctx is done; then it ends the
// calls in progress (best effort), closes the sockets and returns once its goroutines
// have stopped.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("sip: Run called twice")
	}
	cfg := s.cfg.Load()
	udpAddrs, tcpAddrs := cfg.SIP.UDP, cfg.SIP.TCP
	if len(udpAddrs) == 0 && len(tcpAddrs) == 0 {
		udpAddrs = []string{"127.0.0.1:5060"}
	}

	var pcs []*net.UDPConn
	var lns []*net.TCPListener
	closeAll := func() {
		for _, c := range pcs {
			c.Close()
		}
		for _, l := range lns {
			l.Close()
		}
	}
	for _, a := range udpAddrs {
		la, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("sip: listen udp %s: %w", a, err)
		}
		c, err := net.ListenUDP("udp", la)
		if err != nil {
			closeAll()
			return fmt.Errorf("sip: listen udp %s: %w", a, err)
		}
		if err := setReadBuffer(c, udpReadBuffer); err != nil {
			s.log.Warn("cannot set UDP receive buffer", "error", err)
		}
		pcs = append(pcs, c)
	}
	for _, a := range tcpAddrs {
		la, err := net.ResolveTCPAddr("tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("sip: listen tcp %s: %w", a, err)
		}
		l, err := net.ListenTCP("tcp", la)
		if err != nil {
			closeAll()
			return fmt.Errorf("sip: listen tcp %s: %w", a, err)
		}
		lns = append(lns, l)
	}
	var tlsLns []*net.TCPListener
	for _, a := range cfg.SIP.TLS.Listen {
		la, err := net.ResolveTCPAddr("tcp", a)
		if err == nil {
			var l *net.TCPListener
			if l, err = net.ListenTCP("tcp", la); err == nil {
				tlsLns = append(tlsLns, l)
				continue
			}
		}
		closeAll()
		for _, l := range tlsLns {
			l.Close()
		}
		return fmt.Errorf("sip: listen tls %s: %w", a, err)
	}
	lns = append(lns, tlsLns...) // closed with the others; served by ServeTLS below

	if err := s.build(cfg, pcs, lns[:len(lns)-len(tlsLns)], tlsLns); err != nil {
		closeAll()
		return err
	}
	s.streams.start()
	defer s.streams.stop()

	runCtx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	s.runCtx = runCtx

	errc := make(chan error, len(pcs)+len(lns))
	var serveWG sync.WaitGroup
	for _, c := range pcs {
		serveWG.Add(1)
		go func() {
			defer serveWG.Done()
			errc <- s.srv.ServeUDP(c)
		}()
	}
	for i, l := range lns {
		serveWG.Add(1)
		go func() {
			defer serveWG.Done()
			if i >= len(lns)-len(tlsLns) {
				errc <- s.srv.ServeTLS(s.streams.listener(l, "tls"))
				return
			}
			errc <- s.srv.ServeTCP(s.streams.listener(l, "tcp"))
		}()
	}
	stopPings := s.reg.Subscribe(s.pinger.event)
	defer stopPings()
	s.wg.Add(3)
	go s.sweepLoop(runCtx)
	go s.healthLoop(runCtx)
	s.runLimits(runCtx)
	go func() {
		defer s.wg.Done()
		s.pinger.Run(runCtx)
	}()
	close(s.ready)
	s.log.Info("sip listening", "addrs", fmt.Sprint(s.Addrs()))

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("sip: serve: %w", err)
		}
	}
	s.shutdown()
	cancelRun()
	closeAll()
	s.ua.Close()
	serveWG.Wait()
	s.wg.Wait()
	return err
}

// shutdown refuses new requests, waits briefly for handlers, and ends calls in progress.
func (s *Server) shutdown() {
	s.closing.Store(true)
	s.tregs.stop() // unregister from carriers while the sockets are open (trunkreg.go)
	var wg sync.WaitGroup
	s.calls.Range(func(_, v any) bool {
		c := v.(*call)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.stop("shutdown")
		}()
		return true
	})
	wg.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for s.inflight.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// build creates the sipgo user agent, server and clients for the bound sockets.
func (s *Server) build(cfg *config.Config, pcs []*net.UDPConn, lns, tlsLns []*net.TCPListener) error {
	public := cfg.SIP.PublicHost
	s.addrsMu.Lock()
	for _, c := range pcs {
		s.addrs = append(s.addrs, c.LocalAddr())
	}
	for _, l := range lns {
		s.addrs = append(s.addrs, l.Addr())
	}
	for _, l := range tlsLns {
		s.addrs = append(s.addrs, l.Addr())
	}
	s.addrsMu.Unlock()
	var self []string
	host := ""
	for _, a := range s.Addrs() {
		h, p, _ := net.SplitHostPort(a.String())
		if adv := advertisedHost(public, h, ""); adv != "" {
			if host == "" {
				host = adv
			}
			self = append(self, net.JoinHostPort(adv, p))
		}
		if ip, err := netip.ParseAddr(h); err == nil && !ip.IsUnspecified() {
			self = append(self, net.JoinHostPort(h, p))
		}
	}
	if host == "" {
		host = advertisedHost(public, "127.0.0.1", "")
	}
	s.host = host
	s.policy.Store(&validate.Policy{Allowed: allowed, Self: self, Supported: supportedList})
	s.self.Store(selfAddrs(s.Addrs(), strings.Trim(public, "[]")))

	// sipgo's own lines: Warn and above, at most once a minute per message (readpath.go),
	// without the connections the flood limit closed (it counts and logs them itself).
	quiet := slog.New(quietFlood{newSipgoLog(s.log.With("component", "sipgo").Handler())})
	s.reads = newReadPath(pcs, s.metrics, s.refusals)
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent(s.userAgent),
		sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(
			sip_transportLogger(quiet),
			// The flood limit first (limits.go), then the UDP read path (readpath.go).
			gsip.WithTransportLayerReadFilter(s.readFilter),
			gsip.WithTransportLayerUDPParsedFilter(s.parsedDatagram),
			// One reader per core on each UDP socket (sip/sipgo/README.md): parsing is the
			// read path's cost, and one goroutine per socket was the B2BUA's ceiling.
			gsip.WithTransportLayerUDPReaders(udpReaders()),
			// No read timeout: accepted connections' idle bound is flowConn's (conn.go),
			// which follows registrations instead of closing a quiet phone's flow.
			gsip.WithTransportLayerTransports(gsip.TransportsConfig{
				TCP: &gsip.TransportTCP{WriteTimeout: 10 * time.Second},
				TLS: &gsip.TransportTLS{TransportTCP: &gsip.TransportTCP{WriteTimeout: 10 * time.Second}},
			}),
		),
		sipgo.WithUserAgenTLSConfig(s.streams.clientTLS()),
		sipgo.WithUserAgentTransactionLayerOptions(
			gsip.WithTransactionLayerLogger(quiet),
			gsip.WithTransactionLayerUnhandledResponseHandler(s.unhandledResponse),
		),
	)
	if err != nil {
		return fmt.Errorf("sip: user agent: %w", err)
	}
	s.ua = ua
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quiet))
	if err != nil {
		return fmt.Errorf("sip: server: %w", err)
	}
	s.srv = srv

	for _, c := range pcs {
		h, _, _ := net.SplitHostPort(c.LocalAddr().String())
		side, err := newUDPSide(ua, c, advertisedHost(public, h, host), sipgo.WithClientLogger(quiet))
		if err != nil {
			return fmt.Errorf("sip: client: %w", err)
		}
		s.udp = append(s.udp, side)
	}
	if len(s.udp) > 0 {
		s.udpCli, s.udpUA = s.udp[0].cli, s.udp[0].ua
	}
	for _, l := range lns {
		h, _, _ := net.SplitHostPort(l.Addr().String())
		th := advertisedHost(public, h, host)
		port := l.Addr().(*net.TCPAddr).Port
		cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname(th))
		if err != nil {
			return fmt.Errorf("sip: client: %w", err)
		}
		s.tcpCli = cli
		contact := gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: "ccswitch", Host: bracket(th), Port: port, UriParams: gsip.NewParams()}}
		contact.Address.UriParams.Add("transport", "tcp")
		s.tcpUA = &sipgo.DialogUA{Client: cli, RewriteContact: true, ContactHDR: contact}
		break
	}
	if err := s.buildTLS(ua, host, tlsLns, quiet); err != nil {
		return err
	}
	// RewriteContact: in-dialog requests go where the other side's INVITE or 2xx came from,
	// not to its Contact (symmetric signalling): phones behind NAT put private addresses in
	// their Contact, and the B2BUA adds no Record-Route.
	if s.udpUA == nil && s.tcpUA == nil {
		// No listener (an offline Server in tests): requests still have a user agent.
		cli, err := sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname(host))
		if err != nil {
			return fmt.Errorf("sip: client: %w", err)
		}
		s.udpCli = cli
		s.udpUA = &sipgo.DialogUA{Client: cli, RewriteContact: true, ContactHDR: gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: "ccswitch", Host: bracket(host)}}}
	}
	if s.udpUA == nil {
		s.udpUA = s.tcpUA
	}
	if s.tcpUA == nil {
		s.tcpUA = s.udpUA
	}

	for _, m := range []gsip.RequestMethod{gsip.INVITE, gsip.ACK, gsip.BYE, gsip.CANCEL, gsip.OPTIONS, gsip.REGISTER, gsip.INFO, gsip.UPDATE, gsip.REFER, gsip.NOTIFY, gsip.PRACK} {
		srv.OnRequest(m, s.wrap(s.route))
	}
	srv.OnNoRoute(s.wrap(s.route))
	return nil
}

func sip_transportLogger(l *slog.Logger) gsip.TransportLayerOption {
	return gsip.WithTransportLayerLogger(l)
}

// dialogUA returns the dialog user agent for a transport name.
func (s *Server) dialogUA(transport string) *sipgo.DialogUA {
	if strings.EqualFold(transport, "tcp") {
		return s.tcpUA
	}
	if isTLS(transport) && s.tlsUA != nil {
		return s.tlsUA
	}
	return s.udpUA
}

// wrap puts validation, shutdown refusal and panic recovery in front of a handler.
func (s *Server) wrap(h func(*gsip.Request, gsip.ServerTransaction)) sipgo.RequestHandler {
	return func(req *gsip.Request, tx gsip.ServerTransaction) {
		s.inflight.Add(1)
		defer s.inflight.Add(-1)
		ctx := &countedTx{ServerTransaction: tx, m: s.metrics, method: methodLabel(req.Method)}
		defer ctx.done()
		tx = ctx
		defer func() {
			if r := recover(); r != nil {
				s.panics.Add(1)
				s.log.Error("panic in SIP handler", "panic", fmt.Sprint(r), "method", string(req.Method), "stack", string(debug.Stack()))
				if !req.IsAck() {
					func() {
						defer func() { recover() }()
						tx.Respond(gsip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
					}()
				}
			}
		}()
		if p := validate.Request(req, s.policy.Load()); p != nil {
			s.invalid(req, p)
			if !req.IsAck() {
				res := gsip.NewResponseFromRequest(req, p.Code, p.Reason, nil)
				res.SipVersion = "SIP/2.0" // also for the 505 to a SIP/7.0 request
				for _, hd := range p.Headers {
					res.AppendHeader(hd)
				}
				tx.Respond(res)
			}
			return
		}
		if s.refuseInsecure(req, tx) {
			return
		}
		if s.refuseDraining(req, tx) {
			return
		}
		if s.closing.Load() && !req.IsAck() && req.Method != gsip.BYE && req.To().Params.Has("tag") == false {
			res := gsip.NewResponseFromRequest(req, 503, "Shutting Down", nil)
			tx.Respond(res)
			return
		}
		h(req, tx)
	}
}

// route dispatches a validated request.
func (s *Server) route(req *gsip.Request, tx gsip.ServerTransaction) {
	switch req.Method {
	case gsip.REGISTER:
		s.onRegister(req, tx)
	case gsip.OPTIONS:
		s.onOptions(req, tx)
	case gsip.INVITE:
		if tag, _ := req.To().Params.Get("tag"); tag != "" {
			s.onInDialog(req, tx)
			return
		}
		s.onInvite(req, tx)
	case gsip.ACK:
		s.onAck(req, tx)
	case gsip.BYE:
		s.onBye(req, tx)
	case gsip.CANCEL:
		// A CANCEL that matched an INVITE was answered by the transaction layer.
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
	case gsip.INFO, gsip.UPDATE:
		s.onInDialog(req, tx)
	case gsip.REFER:
		s.onRefer(req, tx)
	case gsip.PRACK:
		s.onPrack(req, tx)
	case gsip.NOTIFY:
		// ccswitch sends REFERs to nobody: no subscription of ours to notify.
		respond(tx, req, 481, "Subscription Does Not Exist")
	default:
		res := gsip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(gsip.NewHeader("Allow", strings.Join(allowed, ", ")))
		tx.Respond(res)
	}
}

func respond(tx gsip.ServerTransaction, req *gsip.Request, code int, reason string, hdrs ...gsip.Header) {
	res := gsip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	tx.Respond(res)
}

func (s *Server) onOptions(req *gsip.Request, tx gsip.ServerTransaction) {
	respond(tx, req, 200, "OK",
		gsip.NewHeader("Allow", strings.Join(allowed, ", ")),
		gsip.NewHeader("Accept", "application/sdp"),
		gsip.NewHeader("Supported", supportedTags),
		gsip.NewHeader("Server", s.userAgent))
}

// sourceIP is the IP of a request's source address, the key failures are counted under.
func sourceIP(req *gsip.Request) string {
	h, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return req.Source()
	}
	return h
}

// challenge answers 401 (REGISTER) or 407 (other requests) with our two challenges.
func (s *Server) challenge(req *gsip.Request, tx gsip.ServerTransaction, stale bool) int {
	code, reason, name := 407, "Proxy Authentication Required", "Proxy-Authenticate"
	if req.Method == gsip.REGISTER {
		code, reason, name = 401, "Unauthorized", "WWW-Authenticate"
	}
	res := gsip.NewResponseFromRequest(req, code, reason, nil)
	for _, c := range s.auth.Challenges(stale) {
		res.AppendHeader(gsip.NewHeader(name, c))
	}
	tx.Respond(res)
	return code
}

// authenticate checks the request's credentials. It answers the request itself (401/407
// or 403) unless it returns ok.
func (s *Server) authenticate(req *gsip.Request, tx gsip.ServerTransaction) (user string, ok bool) {
	user, code := s.authenticateCode(req, tx)
	return user, code == 0
}

// authenticateCode is authenticate that also tells which answer it sent (0: none, the
// request is authenticated as user).
func (s *Server) authenticateCode(req *gsip.Request, tx gsip.ServerTransaction) (user string, code int) {
	ip := sourceIP(req)
	if s.throttle.SourceBlocked(ip) {
		s.authRefused(req, ip, "", "locked-out")
		respond(tx, req, 403, "Forbidden")
		return "", 403
	}
	name := "Proxy-Authorization"
	if req.Method == gsip.REGISTER {
		name = "Authorization"
	}
	var vals []string
	for _, h := range req.GetHeaders(name) {
		vals = append(vals, h.Value())
	}
	r := s.auth.Check(string(req.Method), req.Recipient.String(), vals)
	if r.Status != auth.Missing && s.throttle.Blocked(ip, r.Username) {
		s.authRefused(req, ip, r.Username, "locked-out")
		respond(tx, req, 403, "Forbidden")
		return "", 403
	}
	switch r.Status {
	case auth.OK:
		return r.Username, 0
	case auth.Stale:
		return "", s.challenge(req, tx, true)
	case auth.Missing:
		return "", s.challenge(req, tx, false)
	}
	s.throttle.Fail(ip, r.Username)
	s.authRefused(req, ip, r.Username, r.Reason)
	respond(tx, req, 403, "Forbidden")
	return "", 403
}

// authRefused counts and logs (once a minute per source, username and reason) a digest
// failure or a lockout refusal. The username is the one claimed, sanitised; no secret is
// logged.
func (s *Server) authRefused(req *gsip.Request, ip, user, reason string) {
	s.metrics.authFailures.WithLabelValues(reason).Inc()
	if len(user) > 64 {
		user = user[:64]
	}
	user = validate.Sanitize(user)
	s.refusals.Warn("auth|"+reason+"|"+ip+"|"+user, "digest authentication refused",
		"source", req.Source(), "user", user, "reason", reason, "method", string(req.Method))
}

// invalid counts and logs (once a minute per source and reason) a request validate refused
// as malformed; capability answers (405, 501, 420, 415, 406) and loops are not malformed.
func (s *Server) invalid(req *gsip.Request, p *validate.Problem) {
	switch p.Code {
	case 400, 416, 505:
	default:
		return
	}
	reason := strings.ToLower(strings.ReplaceAll(p.Reason, " ", "-"))
	s.metrics.malformed.WithLabelValues(reason).Inc()
	s.refusals.Warn("malformed|"+reason+"|"+sourceIP(req), "malformed SIP request refused",
		"source", req.Source(), "reason", reason, "status", p.Code)
}

func (s *Server) onRegister(req *gsip.Request, tx gsip.ServerTransaction) {
	user, code := s.authenticateCode(req, tx)
	switch code {
	case 0:
	case 401:
		s.metrics.registrations.WithLabelValues(regChallenged).Inc()
		return
	default:
		s.metrics.registrations.WithLabelValues(regAuthFailed).Inc()
		return
	}
	aor := req.To().Address.User
	r := s.routes.Load()
	why := ""
	u, isUser := r.users[aor]
	if aor != user || !isUser {
		why = "not-owner"
	} else {
		why = s.vetRegister(req, r)
	}
	if why != "" {
		s.metrics.registrations.WithLabelValues(regForbidden).Inc()
		s.refusals.Warn("register|"+why+"|"+sourceIP(req), "REGISTER refused",
			"source", req.Source(), "aor", validate.Sanitize(aor), "user", user, "reason", why)
		respond(tx, req, 403, "Forbidden")
		return
	}
	if s.refuseUserInsecure(req, tx, u) { // require_tls: counted and logged there
		s.metrics.registrations.WithLabelValues(regForbidden).Inc()
		return
	}
	res := s.reg.Register(req, aor)
	s.streams.registered(req, aor, res)
	switch {
	case res.StatusCode == 200:
		s.metrics.registrations.WithLabelValues(regOK).Inc()
	case res.StatusCode == 403:
		s.metrics.registrations.WithLabelValues(regTooMany).Inc()
		s.refusals.Warn("register|too-many|"+aor, "REGISTER refused: sip.max_contacts reached",
			"source", req.Source(), "aor", aor)
	case res.StatusCode >= 500:
		s.metrics.registrations.WithLabelValues(regServerError).Inc()
	default:
		s.metrics.registrations.WithLabelValues(regInvalid).Inc()
	}
	tx.Respond(res)
}

// sweepLoop expires registrations, nc state and throttle entries.
func (s *Server) sweepLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.reg.Sweep()
			s.auth.Sweep()
			s.throttle.Sweep()
			now := time.Now()
			s.invites.Range(func(k, v any) bool {
				if d := v.(*inviteSeen).done.Load(); d != 0 && now.Sub(time.Unix(0, d)) > 32*time.Second {
					s.invites.Delete(k)
				}
				return true
			})
			s.losers.Range(func(k, v any) bool {
				if now.After(v.(time.Time)) {
					s.losers.Delete(k)
				}
				return true
			})
		}
	}
}
