package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/center/hook"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/voice"
	"github.com/ccswitch/ccswitch/store"
	"github.com/ccswitch/ccswitch/web"
)

// process is ccswitch's parts wired together, in the order they need each other: the voice
// stack (ACD engine, compiled flows, media engine, anchor, voice App), the SIP server that
// hands it flow calls and SDP, and the web server (desktop, API, text channels), which gets
// every ACD event after the voice App.
type process struct {
	log   *slog.Logger
	voice *voice.Stack
	sip   *sip.Server
	web   *web.Server
	hooks *hook.Dispatcher // signed event webhooks (config webhooks:)
	crm   *crm.Client      // customer lookups shown on offers (config crm:)
	// metrics is the registry the parts register their collectors on (internal/metrics).
	metrics *prometheus.Registry
	mu      sync.Mutex // serialises reloads
}

func newProcess(cfg *config.Config, st *store.Store, dataDir string, log *slog.Logger) (*process, error) {
	p := &process{log: log, metrics: prometheus.NewRegistry()}
	var err error
	// The agent desktop pops the caller's customer record when the agent's phone rings.
	screenPop := func(agent, callID, caller string) {
		if p.web != nil {
			p.web.Service().ScreenPop(agent, callID, caller)
		}
	}
	p.voice, err = voice.NewStack(cfg, voice.StackOptions{Logger: log, OnRing: screenPop})
	if err != nil {
		return nil, err
	}
	// The data folder keeps the self-signed TLS certificate when sip.tls names none.
	sipOpts := append(p.voice.SIPOptions(), sip.WithDataDir(dataDir), sip.WithRegisterer(p.metrics))
	if p.sip, err = sip.New(cfg, st, log, sipOpts...); err != nil {
		return nil, err
	}
	p.voice.Attach(p.sip)
	p.crm = crm.New(cfg.CRM, crm.Options{Logger: log, Registerer: p.metrics})
	p.web, err = web.New(web.Options{Config: cfg, Store: st, Engine: p.voice.ACD, Flows: p.voice.Flows, Logger: log, CRM: p.crm})
	if err != nil {
		return nil, err
	}
	svc := p.web.Service()
	p.voice.AddSink(acd.SinkFunc(svc.ACDEvent))
	p.hooks = hook.New(hook.Options{Webhooks: cfg.Webhooks, Details: svc, Logger: log, Registerer: p.metrics})
	p.voice.AddSink(acd.SinkFunc(p.hooks.ACDEvent))
	return p, nil
}

// run runs every part until ctx ends; the first part to fail stops the others.
func (p *process) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	parts := []func(context.Context) error{p.voice.Run, p.sip.Run, p.web.Run, p.hooks.Run, p.crm.Run}
	errs := make([]error, len(parts))
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
	return errors.Join(errs...)
}

// reload applies a new configuration to calls and contacts that start from now on; calls,
// chats and waiting contacts in progress continue (waiting contacts get the new queue rules).
func (p *process) reload(cfg *config.Config) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.voice.Reload(cfg); err != nil {
		return err
	}
	p.sip.Reload(cfg)
	if err := p.web.Reload(cfg, p.voice.Flows); err != nil {
		return fmt.Errorf("web side kept its configuration (voice and SIP took the new one): %w", err)
	}
	p.hooks.Reload(cfg.Webhooks)
	p.crm.Reload(cfg.CRM)
	return nil
}
