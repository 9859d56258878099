package voice

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
	"github.com/ccswitch/ccswitch/store"
)

// Stack is the voice side of ccswitch built from one config on a center: the media engine,
// the anchor and the App. cmd/ccswitch builds it, passes SIPOptions to sip.New, then Attach-es
// the server and Runs it beside the server (see the package documentation).
type Stack struct {
	Media  *media.Engine
	Anchor *anchor.Anchor
	App    *App
}

// StackOptions are the optional parts of a Stack.
type StackOptions struct {
	// OnEnd receives each flow call's summary (see Options.OnEnd).
	OnEnd func(Summary)
	// OnRing is told each time an agent's phone rings for a queued caller (Options.OnRing).
	OnRing func(agent, callID, caller string)
	// OnRelease receives each anchored B2BUA call's media figures (anchor.Options.OnRelease).
	OnRelease func(callID string, st media.Stats)
	// Registerer gets the media engine's metrics (legs, ports, strangers, SRTP:
	// media.Config.Registerer) and the monitoring ones (ccswitch_monitor_*); nil: none.
	Registerer prometheus.Registerer
	// Store keeps accepted callbacks across restarts (Options.Store).
	Store *store.Store
	// OnPreview, OnVoicemail and OnPrompt: see Options.
	OnPreview   func(Preview)
	OnVoicemail func(Voicemail)
	OnPrompt    func(callID, prompt string)
	// VoicemailHold: see Options.
	VoicemailHold time.Duration
	Logger        *slog.Logger
}

// NewStack builds the voice side from cfg (media.ip, media.public_ip, media.rtp_ports,
// media.strict_source, media.rtp_timeout, media.prompts, media.recordings, users[].srtp,
// trunks[].srtp, users' static contacts) on the center c, which queues the callers, runs the
// flows and owns presence.
func NewStack(cfg *config.Config, c *center.Center, o StackOptions) (*Stack, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	mc, err := mediaConfig(cfg, log)
	if err != nil {
		return nil, err
	}
	mc.Registerer = o.Registerer
	s := &Stack{}
	if s.Media, err = media.New(mc); err != nil {
		return nil, err
	}
	s.Anchor = anchor.New(s.Media, anchor.Options{Config: cfg, OnRelease: o.OnRelease, Logger: log})
	s.App = New(Options{Config: cfg, Center: c, Media: s.Media, Anchor: s.Anchor, OnEnd: o.OnEnd, OnRing: o.OnRing, Logger: log,
		Store: o.Store, Registerer: o.Registerer, OnPreview: o.OnPreview, OnVoicemail: o.OnVoicemail, OnPrompt: o.OnPrompt,
		VoicemailHold: o.VoicemailHold})
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

// SIPOptions plug the App (flow numbers and feature codes), the anchor (every other call's
// media) and the center (call records) into sip.New.
func (s *Stack) SIPOptions() []sip.Option {
	return []sip.Option{sip.WithApp(s.App), sip.WithSDPAnchor(s.Anchor), sip.WithCallRecorder(s.App.center)}
}

// Attach gives the App and the anchor the server built with SIPOptions, and makes its
// registrations (and the agents' static contacts) the agents' voice devices.
func (s *Stack) Attach(srv *sip.Server) {
	s.App.SetSIP(srv)
	if s.App.center != nil {
		s.App.center.SetCallbacker(s.App) // text contacts' "call me"
	}
	s.Anchor.SetCalls(srv)
	s.App.watchPhones(srv.Registrar())
	s.App.declareStatics(s.App.state.Load().cfg)
}

// Run waits until ctx ends, then stops watching the phones, waits for the calls the App is
// serving (the SIP server, run beside it with the same ctx, ends them) and closes the media
// engine (invariant 6).
func (s *Stack) Run(ctx context.Context) error {
	cbDone := make(chan struct{})
	go func() {
		defer close(cbDone)
		s.App.cb.run(ctx)
	}()
	<-ctx.Done()
	<-cbDone
	s.App.stop()
	s.Media.Close()
	return nil
}

// Reload applies a new config to the App and the anchor for calls that start from now on;
// calls in progress keep what they started with. The center and the SIP server are reloaded
// separately. Media settings (ip, ports) are not reloaded.
func (s *Stack) Reload(cfg *config.Config) {
	s.App.Reload(cfg)
	s.Anchor.Reload(cfg)
}
