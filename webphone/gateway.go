package webphone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/ratelog"
)

// iceReadBuffer is the receive buffer asked for the ICE mux socket (capped by net.core.rmem_max).
const iceReadBuffer = 8 << 20

// Options configures a Gateway.
type Options struct {
	// Config gives webrtc.port, media.ip, media.public_ip, the agents (extension, device) and
	// the users' secrets.
	Config *config.Config
	// SIP is ccswitch's UDP SIP listener address, where the browser phones register and call;
	// read at each registration (sip.Server.Addrs is known once the server listens).
	SIP func() (netip.AddrPort, bool)
	// Registerer gets the gateway's metrics (nil: none).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Gateway is the browser phones' side of ccswitch. New binds its sockets; Run serves SIP
// until its context ends, then ends every Line.
type Gateway struct {
	log     *slog.Logger
	cfg     atomic.Pointer[config.Config]
	sipAddr func() (netip.AddrPort, bool)
	m       *gauges
	refuse  *ratelog.Logger // refused INVITEs: once a minute per reason

	iceConn net.PacketConn
	mux     ice.UDPMux
	se      webrtc.SettingEngine
	rtpIP   netip.Addr // the Legs' RTP sockets bind here

	sipConn *net.UDPConn
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	cli     *sipgo.Client
	dua     *sipgo.DialogUA
	self    netip.AddrPort // the SIP socket's address, in our contacts

	mu     sync.Mutex
	lines  map[string]*Line // by contact user ("wp-<token>")
	calls  map[string]*call // by SIP Call-ID
	closed bool
}

// New binds the ICE mux on media.ip:webrtc.port and the SIP socket. cfg.WebRTC.Port must be set.
func New(o Options) (*Gateway, error) {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	g := &Gateway{log: log.With("component", "webphone"), sipAddr: o.SIP, m: newMetrics(o.Registerer),
		lines: map[string]*Line{}, calls: map[string]*call{}}
	g.refuse = ratelog.New(g.log, time.Minute)
	g.cfg.Store(cfg)
	ip, err := netip.ParseAddr(cfg.Media.IP)
	if err != nil {
		return nil, fmt.Errorf("webphone: media.ip: %w", err)
	}
	g.rtpIP = ip
	if ip.IsUnspecified() {
		g.rtpIP = netip.MustParseAddr("127.0.0.1")
		if ip.Is6() {
			g.rtpIP = netip.IPv6Loopback()
		}
	}
	advertised := ip
	if cfg.Media.PublicIP != "" {
		if advertised, err = netip.ParseAddr(cfg.Media.PublicIP); err != nil {
			return nil, fmt.Errorf("webphone: media.public_ip: %w", err)
		}
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(cfg.WebRTC.Port))))
	if err != nil {
		return nil, fmt.Errorf("webphone: webrtc.port: %w", err)
	}
	g.iceConn = c
	// Every browser's packets queue on this one socket: a deep buffer rides out scheduling
	// stalls (the kernel's default ~200 kB is 40 ms of 100 calls).
	if err := c.SetReadBuffer(iceReadBuffer); err != nil {
		g.log.Warn("webrtc.port: receive buffer not raised", "error", err)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	g.mux = webrtc.NewICEUDPMux(lf.NewLogger("ice"), c)
	g.se.SetLite(true)
	g.se.SetICEUDPMux(g.mux)
	g.se.LoggerFactory = lf
	if ip.Is4() || ip.Is4In6() {
		g.se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	} else {
		g.se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP6})
	}
	g.se.SetIncludeLoopbackCandidate(true)
	// One host candidate: the address browsers reach (media.public_ip behind 1:1 NAT).
	if !advertised.IsUnspecified() {
		if err := g.se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: []string{advertised.String()},
			AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			c.Close()
			return nil, fmt.Errorf("webphone: candidates: %w", err)
		}
	}
	if err := g.listenSIP(); err != nil {
		g.mux.Close()
		c.Close()
		return nil, err
	}
	return g, nil
}

// ICEPort is the bound UDP port of every browser leg.
func (g *Gateway) ICEPort() int { return g.iceConn.LocalAddr().(*net.UDPAddr).Port }

// SIPSource is the address every browser phone's REGISTER and INVITE comes from.
func (g *Gateway) SIPSource() netip.AddrPort { return g.self }

// Reload takes a new config for the registrations and calls that start from now on.
func (g *Gateway) Reload(cfg *config.Config) { g.cfg.Store(cfg) }

// listenSIP binds the SIP socket on the IP ccswitch's UDP listener will have (the loopback
// when it binds every interface), so that ccswitch sees our REGISTERs and INVITEs from the
// address of our contacts.
func (g *Gateway) listenSIP() error {
	cfg := g.cfg.Load()
	ip := netip.MustParseAddr("127.0.0.1")
	for _, a := range cfg.SIP.UDP {
		if ap, err := netip.ParseAddrPort(a); err == nil {
			if !ap.Addr().IsUnspecified() {
				ip = ap.Addr()
			} else if ap.Addr().Is6() {
				ip = netip.IPv6Loopback()
			}
			break
		}
	}
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return fmt.Errorf("webphone: sip socket: %w", err)
	}
	g.sipConn = pc
	g.self = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	host := g.self.Addr().String()
	quiet := slog.New(g.log.With("component", "webphone.sipgo").Handler())
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("ccswitch-webphone"), sipgo.WithUserAgentHostname(host),
		sipgo.WithUserAgentTransportLayerOptions(gsip.WithTransportLayerLogger(quiet)),
		sipgo.WithUserAgentTransactionLayerOptions(gsip.WithTransactionLayerLogger(quiet)))
	if err != nil {
		pc.Close()
		return fmt.Errorf("webphone: user agent: %w", err)
	}
	g.ua = ua
	if g.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(quiet)); err != nil {
		pc.Close()
		return err
	}
	if g.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(quiet), sipgo.WithClientHostname(host),
		sipgo.WithClientPort(int(g.self.Port())), sipgo.WithClientConnectionAddr(g.self.String())); err != nil {
		pc.Close()
		return err
	}
	g.dua = &sipgo.DialogUA{Client: g.cli, RewriteContact: true,
		ContactHDR: gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: "webphone", Host: host, Port: int(g.self.Port())}}}
	g.srv.OnInvite(g.only(g.onInvite))
	g.srv.OnAck(g.only(g.onAck))
	g.srv.OnBye(g.only(g.onBye))
	g.srv.OnOptions(g.only(func(req *gsip.Request, tx gsip.ServerTransaction) {
		tx.Respond(gsip.NewResponseFromRequest(req, 200, "OK", nil))
	}))
	g.srv.OnNoRoute(g.only(func(req *gsip.Request, tx gsip.ServerTransaction) {
		tx.Respond(gsip.NewResponseFromRequest(req, 501, "Not Implemented", nil))
	}))
	return nil
}

// Run serves the browser phones' SIP until ctx ends, then closes every Line (their calls end,
// their registrations are removed) and the sockets.
func (g *Gateway) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- g.srv.ServeUDP(g.sipConn) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		if ctx.Err() == nil {
			g.shutdown()
			return fmt.Errorf("webphone: sip: %w", err)
		}
	}
	g.shutdown()
	return nil
}

func (g *Gateway) shutdown() {
	g.mu.Lock()
	g.closed = true
	lines := make([]*Line, 0, len(g.lines))
	for _, l := range g.lines {
		lines = append(lines, l)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range lines {
		wg.Add(1)
		go func() { defer wg.Done(); l.disconnect() }()
	}
	wg.Wait()
	g.ua.Close()
	g.sipConn.Close()
	g.mux.Close()
	g.iceConn.Close()
}

func newToken() string {
	var b [9]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (g *Gateway) lineOf(user string) *Line {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lines[user]
}

func (g *Gateway) callOf(id string) *call {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[id]
}

func (g *Gateway) addCall(c *call) {
	g.mu.Lock()
	g.calls[c.id] = c
	g.mu.Unlock()
	g.m.calls.Inc()
}

func (g *Gateway) dropCall(c *call) {
	g.mu.Lock()
	if g.calls[c.id] == c {
		delete(g.calls, c.id)
		g.m.calls.Dec()
	}
	g.mu.Unlock()
}

// refused counts and logs (once a minute per reason) an INVITE the gateway turned down.
func (g *Gateway) refused(req *gsip.Request, reason string) {
	g.m.failures.WithLabelValues(reason).Inc()
	g.refuse.Warn("invite|"+reason, "browser phone refused a call", "reason", reason, "call_id", req.CallID().Value(),
		"source", req.Source())
}

// only serves requests from ccswitch's SIP address (its IP): the gateway's socket is reachable
// wherever ccswitch's UDP listener is, and nobody else may ring a browser. Others get 403 (an
// ACK nothing), counted and logged as "stranger".
func (g *Gateway) only(h func(*gsip.Request, gsip.ServerTransaction)) func(*gsip.Request, gsip.ServerTransaction) {
	return func(req *gsip.Request, tx gsip.ServerTransaction) {
		if g.fromCCSwitch(req) {
			h(req, tx)
			return
		}
		g.refused(req, "stranger")
		if !req.IsAck() {
			respond(req, tx, 403, "Forbidden")
		}
	}
}

func (g *Gateway) fromCCSwitch(req *gsip.Request) bool {
	if g.sipAddr == nil {
		return false
	}
	want, ok := g.sipAddr()
	if !ok {
		return false
	}
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return false
	}
	if want.Addr().IsUnspecified() {
		return src.Addr().Unmap() == g.self.Addr().Unmap()
	}
	return src.Addr().Unmap() == want.Addr().Unmap()
}
