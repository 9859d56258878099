package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
	"github.com/prometheus/client_golang/prometheus"
)

// Stack is the voice side of ccswitch built from one config, in the order the pieces need
// each other: the ACD engine (its Sink fans events out to the App and to any other sinks),
// the compiled flows (asking the ACD who is logged in), the media engine, the anchor and the
// App. cmd/ccswitch builds it, passes SIPOptions to sip.New, then Attach-es the server and
// Runs it beside the server.
type Stack struct {
	Media  *media.Engine
	Anchor *anchor.Anchor
	ACD    *acd.Engine
	Flows  *ivr.Flows
	App    *App

	log   *slog.Logger
	sinks atomic.Pointer[[]acd.Sink]
	mu    sync.Mutex // serialises Reload
}

// StackOptions are the optional parts of a Stack.
type StackOptions struct {
	// Sinks get every ACD event after the App (the text channels' dispatcher); more can be
	// added with AddSink. Each must not block (acd.Sink's contract).
	Sinks []acd.Sink
	// OnEnd receives each flow call's summary (see Options.OnEnd).
	OnEnd func(Summary)
	// OnRing is told each time an agent's phone rings for a queued caller (Options.OnRing).
	OnRing func(agent, callID, caller string)
	// OnRelease receives each anchored B2BUA call's media figures (anchor.Options.OnRelease).
	OnRelease func(callID string, st media.Stats)
	// AutoLoginEvery: see Options.AutoLoginEvery.
	AutoLoginEvery time.Duration
	// SnapshotEvery is the ACD's snapshot period (default 100 ms).
	SnapshotEvery time.Duration
	// Registerer gets the media engine's metrics (ports, strangers, SRTP); nil: none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// NewStack builds the voice side from cfg (media.ip, media.public_ip, media.rtp_ports,
// media.strict_source, media.rtp_timeout, media.prompts, users[].srtp, trunks[].srtp, skills,
// queues, agents, numbers, flows).
func NewStack(cfg *config.Config, o StackOptions) (*Stack, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &Stack{log: log}
	sinks := append([]acd.Sink(nil), o.Sinks...)
	s.sinks.Store(&sinks)

	ac, err := cfg.ACD()
	if err != nil {
		return nil, err
	}
	var app atomic.Pointer[App]
	ac.Sink = acd.SinkFunc(func(ev acd.Event) {
		if a := app.Load(); a != nil {
			a.ACDEvent(ev)
		}
		for _, k := range *s.sinks.Load() {
			k.Event(ev)
		}
	})
	ac.SnapshotEvery = o.SnapshotEvery
	ac.Logger = log
	if s.ACD, err = acd.New(ac); err != nil {
		return nil, err
	}
	if s.Flows, err = ivr.Compile(cfg, ivr.Options{Agents: LoggedIn(s.ACD), Logger: log}); err != nil {
		return nil, err
	}
	mc, err := mediaConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	mc.Registerer = o.Registerer
	if s.Media, err = media.New(mc); err != nil {
		return nil, err
	}
	s.Anchor = anchor.New(s.Media, anchor.Options{Config: cfg, OnRelease: o.OnRelease, Logger: log})
	s.App = New(Options{Config: cfg, Media: s.Media, ACD: s.ACD, Flows: s.Flows, Anchor: s.Anchor,
		AutoLoginEvery: o.AutoLoginEvery, OnEnd: o.OnEnd, OnRing: o.OnRing, Logger: log})
	app.Store(s.App)
	if dir := s.App.state.Load().prompts.dir; len(cfg.Numbers) > 0 {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			log.Warn("prompt folder not found: flow numbers will fail to play (set media.prompts, or run from the folder that holds configs/prompts)",
				"component", "voice", "prompts", dir)
		}
	}
	return s, nil
}

// mediaConfig reads the media settings of a config that went through config.Parse (its
// defaults are applied there, not repeated here).
func mediaConfig(cfg *config.Config, log *slog.Logger) (media.Config, error) {
	ip, err := netip.ParseAddr(cfg.Media.IP)
	if err != nil {
		return media.Config{}, fmt.Errorf("voice: media.ip %q: %w", cfg.Media.IP, err)
	}
	lo, hi, err := config.PortRange(cfg.Media.RTPPorts)
	if err != nil {
		return media.Config{}, fmt.Errorf("voice: media.rtp_ports: %w", err)
	}
	var public netip.Addr
	if cfg.Media.PublicIP != "" {
		if public, err = netip.ParseAddr(cfg.Media.PublicIP); err != nil {
			return media.Config{}, fmt.Errorf("voice: media.public_ip %q: %w", cfg.Media.PublicIP, err)
		}
	}
	strict := cfg.Media.StrictSource == nil || *cfg.Media.StrictSource
	return media.Config{IP: ip, PublicIP: public, LatchAnySource: !strict, PortMin: lo, PortMax: hi,
		RTPTimeout: cfg.Media.RTPTimeout.D(), Logger: log}, nil
}

// AddSink adds a receiver of every ACD event (safe while the engine runs).
func (s *Stack) AddSink(k acd.Sink) {
	for {
		old := s.sinks.Load()
		next := append(append([]acd.Sink(nil), *old...), k)
		if s.sinks.CompareAndSwap(old, &next) {
			return
		}
	}
}

// SIPOptions plug the App (flow numbers) and the anchor (every other call's media) into
// sip.New.
func (s *Stack) SIPOptions() []sip.Option {
	return []sip.Option{sip.WithApp(s.App), sip.WithSDPAnchor(s.Anchor)}
}

// Attach gives the App and the anchor the server built with SIPOptions.
func (s *Stack) Attach(srv *sip.Server) {
	s.App.SetSIP(srv)
	if c, ok := any(srv).(anchor.Calls); ok {
		s.Anchor.SetCalls(c)
	} else {
		s.log.Warn("sip.Server offers no CallTrunk/Hangup: no per-trunk passthrough, no BYE on RTP timeout")
	}
}

// Run runs the ACD engine and the App's auto-login until ctx ends, then closes the media
// engine. Run the sip.Server beside it (with the same ctx); the server's calls end first.
func (s *Stack) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errc <- s.ACD.Run(ctx) }()
	go func() { defer wg.Done(); errc <- s.App.Run(ctx) }()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.Media.Close()
	return errors.Join(errs...)
}

// Reload applies a new config to the ACD (queues, agents, skills), recompiles the flows and
// hands them to the App and the anchor; calls in progress keep what they started with. The
// SIP server is reloaded separately (srv.Reload). Media settings (ip, ports) are not
// reloaded. On error nothing changed.
func (s *Stack) Reload(cfg *config.Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ac, err := cfg.ACD()
	if err != nil {
		return err
	}
	flows, err := ivr.Compile(cfg, ivr.Options{Agents: LoggedIn(s.ACD), Logger: s.log})
	if err != nil {
		return err
	}
	if err := s.ACD.Apply(ac); err != nil {
		return err
	}
	s.Flows = flows
	s.App.Reload(cfg, flows)
	s.Anchor.Reload(cfg)
	return nil
}
