package media

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/ratelog"
)

// Config configures an Engine.
type Config struct {
	// IP is the local address RTP sockets bind to (e.g. 127.0.0.1 in tests, the host's address
	// in production). An unspecified address (0.0.0.0, ::) binds every interface and then
	// needs PublicIP.
	IP netip.Addr
	// PublicIP is the address written in SDP c= and o= lines to every peer; zero means IP (set
	// it behind 1:1 NAT, or when IP is unspecified).
	PublicIP netip.Addr
	// LatchAnySource, when true, lets a leg latch onto the first RTP source from anywhere
	// (media.strict_source: false) instead of only from its peer's signalling or SDP address.
	// Either way a latched leg never moves to another source while its SDP stands.
	LatchAnySource bool
	// PortMin and PortMax bound the RTP ports (media.rtp_ports); only even ports are used.
	PortMin, PortMax int
	// RTPTimeout ends a call whose leg receives no RTP for that long while its peer said it
	// sends (sendrecv/sendonly); 0 disables the watchdog.
	RTPTimeout time.Duration
	// ReadBuffer is SO_RCVBUF for each RTP socket; 0 means 256 KiB.
	ReadBuffer int
	// Clock is the time source; nil means SystemClock.
	Clock Clock
	// Logger gets component=media; nil means slog.Default().
	Logger *slog.Logger
	// Registerer gets media's metrics (ccswitch_media_*: ports, strangers, SRTP; the
	// internal/metrics convention); nil registers none. cmd/ccswitch passes the process's one
	// registry (voice.StackOptions.Registerer).
	Registerer prometheus.Registerer
}

// Engine owns the RTP port pool, the calls and the RTP timeout watchdog.
type Engine struct {
	cfg      Config
	publicIP netip.Addr
	clock    Clock
	log      *slog.Logger
	rlog     *ratelog.Logger // refusals and misbehaving peers, once per key per minute
	m        *engineMetrics
	pool     *portPool

	mu     sync.Mutex
	calls  map[*Call]struct{}
	closed bool

	stop chan struct{}
	wg   sync.WaitGroup
}

// New validates cfg and starts the engine (and its watchdog goroutine when RTPTimeout > 0).
func New(cfg Config) (*Engine, error) {
	if !cfg.IP.IsValid() {
		return nil, fmt.Errorf("media: config: ip: missing")
	}
	if cfg.PublicIP.IsValid() && (cfg.PublicIP.IsUnspecified() || cfg.PublicIP.IsMulticast()) {
		return nil, fmt.Errorf("media: config: public ip %v: must be a unicast address peers can reach", cfg.PublicIP)
	}
	if cfg.IP.IsUnspecified() && !cfg.PublicIP.IsValid() {
		return nil, fmt.Errorf("media: config: ip %v binds every interface: set the public ip written in SDP", cfg.IP)
	}
	pool, err := newPortPool(cfg.IP, cfg.PortMin, cfg.PortMax)
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, publicIP: cfg.PublicIP.Unmap(), clock: cfg.Clock, log: cfg.Logger, pool: pool,
		m: newEngineMetrics(cfg.Registerer), calls: map[*Call]struct{}{}, stop: make(chan struct{})}
	if !e.publicIP.IsValid() {
		e.publicIP = cfg.IP
	}
	if e.clock == nil {
		e.clock = SystemClock{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.log = e.log.With("component", "media")
	e.rlog = ratelog.New(e.log, time.Minute)
	pool.onChange = e.m.ports
	e.m.ports(pool.counts())
	if e.cfg.ReadBuffer == 0 {
		e.cfg.ReadBuffer = 256 << 10
	}
	if cfg.RTPTimeout > 0 {
		e.wg.Add(1)
		go e.watchdog()
	}
	return e, nil
}

// Close closes every call, stops the watchdog and returns after all goroutines have ended.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	calls := make([]*Call, 0, len(e.calls))
	for c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	close(e.stop)
	for _, c := range calls {
		c.Close()
	}
	e.wg.Wait()
	e.pool.mu.Lock()
	e.pool.onChange = nil
	e.m.ports(0, 0) // this engine's ports leave the gauges
	e.pool.mu.Unlock()
	return nil
}

// localIP is ccswitch's RTP address for a peer: the bind address, or the public one when the
// sockets bind every interface.
func (e *Engine) localIP() netip.Addr {
	if e.cfg.IP.IsUnspecified() {
		return e.publicIP
	}
	return e.cfg.IP
}

// NewCall creates a call with no legs yet; legs get sockets when SDP first concerns them.
func (e *Engine) NewCall(opts CallOptions) (*Call, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	c := newCall(e, opts)
	e.calls[c] = struct{}{}
	return c, nil
}

func (e *Engine) forget(c *Call) {
	e.mu.Lock()
	delete(e.calls, c)
	e.mu.Unlock()
}

// watchdog checks every call's legs for RTP silence at a quarter of the timeout.
func (e *Engine) watchdog() {
	defer e.wg.Done()
	period := e.cfg.RTPTimeout / 4
	t := e.clock.NewTimer(period)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C():
			e.checkTimeouts(now)
			t.Reset(period)
		}
	}
}

// checkTimeouts fires OnTimeout for calls with a silent leg as of now.
func (e *Engine) checkTimeouts(now time.Time) {
	e.mu.Lock()
	calls := make([]*Call, 0, len(e.calls))
	for c := range e.calls {
		calls = append(calls, c)
	}
	e.mu.Unlock()
	for _, c := range calls {
		c.checkTimeout(now.UnixNano(), int64(e.cfg.RTPTimeout))
	}
}
