package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/center/hook"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
	"github.com/ccswitch/ccswitch/webphone"
)

// process is ccswitch's parts wired together, in the order they need each other: the
// contact center (ACD engine, compiled flows, presence, call records), the voice stack on it
// (media engine, anchor, voice App), the SIP server that hands the voice App its calls and
// the center its call records, and the web server (desktop, API, text channels) on the same
// center. One metrics registry gathers every part's, served at /metrics.
type process struct {
	log    *slog.Logger
	reg    *prometheus.Registry // every part's collectors (internal/metrics), served at /metrics
	center *center.Center
	voice  *voice.Stack
	sip    *sip.Server
	web    *web.Server
	hooks  *hook.Dispatcher // signed event webhooks (config webhooks:)
	crm    *crm.Client      // customer lookups shown on offers and screen pops (config crm:)
	mu     sync.Mutex       // serialises reloads
	// drainTimeout is sip.drain_timeout (time.Duration) of the running configuration.
	drainTimeout atomic.Int64

	phone *webphone.Gateway // the agents' browser phone (config webrtc:), nil when off
}

func newProcess(cfg *config.Config, st *store.Store, dataDir string, log *slog.Logger) (*process, error) {
	p := &process{log: log, reg: prometheus.NewRegistry()}
	p.drainTimeout.Store(int64(cfg.SIP.Drain()))
	p.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var err error
	if p.center, err = center.New(cfg, center.Options{Store: st, Registerer: p.reg, Logger: log}); err != nil {
		return nil, err
	}
	// The agent desktop pops the caller's customer record when the agent's phone rings.
	screenPop := func(agent, callID, caller string) {
		if p.web != nil {
			p.web.Service().ScreenPop(agent, callID, caller)
		}
	}
	// A callback the agent took pops the customer's card too (the desktop's preview shows the
	// countdown: web/waiting.go); accepted callbacks survive a restart in the store.
	preview := func(pv voice.Preview) { screenPop(pv.Agent, pv.Task, pv.Number) }
	p.voice, err = voice.NewStack(cfg, p.center, voice.StackOptions{Logger: log, OnRing: screenPop, Registerer: p.reg,
		Store: st, OnPreview: preview})
	if err != nil {
		return nil, err
	}
	// The data folder keeps the self-signed TLS certificate when sip.tls names none.
	opts := append(p.voice.SIPOptions(), sip.WithDataDir(dataDir), sip.WithRegisterer(p.reg))
	if p.sip, err = sip.New(cfg, st, log, opts...); err != nil {
		return nil, err
	}
	p.voice.Attach(p.sip)
	p.crm = crm.New(cfg.CRM, crm.Options{Logger: log, Registerer: p.reg})
	var phone web.Phone
	if p.phone, err = newPhone(cfg, p.sip, p.reg, log); err != nil {
		return nil, err
	} else if p.phone != nil {
		phone = p.phone
	}
	// The text adapters are those cfg.Channels enables.
	p.web, err = web.New(web.Options{Config: cfg, Store: st, Center: p.center, CRM: p.crm,
		Registerer: p.reg, Gatherer: p.reg, Logger: log, Phone: phone, Monitoring: monitoring{p.voice.App}, Calls: p.voice.App})
	if err != nil {
		return nil, err
	}
	p.web.SetWaiting(waitingDesk{p.voice.App})
	p.hooks = hook.New(hook.Options{Webhooks: cfg.Webhooks, Details: taskDetails{p.web.Service(), p.center}, Logger: log, Registerer: p.reg})
	p.center.AddSink(acd.SinkFunc(p.hooks.ACDEvent))
	return p, nil
}

// run runs every part until ctx ends; the first part to fail stops the others. The protocols
// (SIP, voice, web) stop first; the center they talk to stops after them, so that the calls
// and chats the stop ends still reach it (their records, their tasks' ends).
func (p *process) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	centerCtx, stopCenter := context.WithCancel(context.Background())
	centerErr := make(chan error, 1)
	go func() { centerErr <- p.center.Run(centerCtx) }()

	parts := []func(context.Context) error{p.voice.Run, p.sip.Run, p.web.Run, p.hooks.Run, p.crm.Run}
	if p.phone != nil {
		parts = append(parts, p.phone.Run)
	}
	errs := make([]error, len(parts)+1)
	var wg sync.WaitGroup
	for i, run := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	stopCenter()
	errs[len(parts)] = <-centerErr
	return errors.Join(errs...)
}

// reload applies a new configuration to calls and contacts that start from now on; calls,
// chats and waiting contacts in progress continue (waiting contacts get the new queue rules).
func (p *process) reload(ctx context.Context, cfg *config.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.center.Reload(ctx, cfg); err != nil {
		return err
	}
	p.voice.Reload(cfg)
	p.sip.Reload(cfg)
	p.drainTimeout.Store(int64(cfg.SIP.Drain()))
	if err := p.web.Reload(cfg); err != nil {
		return fmt.Errorf("web side kept its agents' passwords (the center, voice and SIP took the new configuration): %w", err)
	}
	p.hooks.Reload(cfg.Webhooks)
	p.crm.Reload(cfg.CRM)
	if p.phone != nil {
		p.phone.Reload(cfg) // webrtc.port itself is not reloaded
	}
	return nil
}

// taskDetails describes a task for the signed webhooks: a conversation by the channels
// service (adapter, customer, wrap-up), a call by the center (caller, DID, language).
type taskDetails []hook.Details

func (ds taskDetails) TaskDetails(task string) map[string]string {
	for _, d := range ds {
		if m := d.TaskDetails(task); m != nil {
			return m
		}
	}
	return nil
}
