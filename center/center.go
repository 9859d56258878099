package center

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// Options are the optional parts of a Center.
type Options struct {
	// Store keeps the call records (nil: records are exported, not stored).
	Store *store.Store
	// Registerer gets the center's metrics (queues, agents, queue waits); nil registers none.
	Registerer prometheus.Registerer
	// Clock is the engine's clock and the records' (default the real clock); tests inject
	// acdtest.Clock.
	Clock acd.Clock
	// SnapshotEvery is the engine's snapshot period (default 100 ms).
	SnapshotEvery time.Duration
	// RingSize is the engine's command ring (default 16384); tests make it small to see the
	// backpressure.
	RingSize int
	// RecordTimeout is how long a call record waits for its parts (default 1 h); the wrap-up
	// of its last task usually ends it much earlier.
	RecordTimeout time.Duration
	// Logger gets component=center; nil means slog.Default().
	Logger *slog.Logger
}

// Center is the contact center between the protocols and the engine (see the package
// documentation). Its methods are safe for concurrent use.
type Center struct {
	log   *slog.Logger
	eng   *acd.Engine
	clock acd.Clock

	cfg   atomic.Pointer[config.Config]
	flows atomic.Pointer[ivr.Flows]
	dir   atomic.Pointer[directory]
	relMu sync.Mutex // serialises Reload

	routesMu sync.Mutex // guards routes (a leaf)
	routes   map[string]*Inbox
	// resTask maps the reservations of live tasks to their task, and taskRes back; owned by
	// the engine goroutine (dispatch).
	resTask map[acd.ReservationID]string
	taskRes map[string][]acd.ReservationID

	presence *presence
	records  *ledger
	metrics  *meters
	sinks    atomic.Pointer[[]acd.Sink] // observers of every event (AddSink), copied on write
	details  callDetails                // what voice tasks were queued with, for webhooks
	waits    *waits                     // recent handle times: the expected wait (waits.go)

	callbacker atomic.Pointer[callbackerBox] // who places text contacts' callbacks (callbacks.go)
}

// New builds the center from a validated configuration (skills, profiles, queues, agents,
// numbers, flows, call_records): the engine, the compiled flows, presence and the ledger. It
// does nothing until Run.
func New(cfg *config.Config, o Options) (*Center, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	c := &Center{log: log.With("component", "center"), clock: o.Clock, routes: map[string]*Inbox{},
		resTask: map[acd.ReservationID]string{}, taskRes: map[string][]acd.ReservationID{}}
	if c.clock == nil {
		c.clock = acd.RealClock{}
	}
	ac, err := cfg.ACD()
	if err != nil {
		return nil, err
	}
	flows, err := ivr.Compile(cfg, ivr.Options{Agents: c, Logger: log})
	if err != nil {
		return nil, err
	}
	dir := newDirectory(cfg)
	c.cfg.Store(cfg)
	c.flows.Store(flows)
	c.dir.Store(dir)
	c.presence = newPresence(c, dir, c.log)
	c.metrics = newMeters(c, o.Registerer)
	if c.records, err = newLedger(cfg, o, c.clock, c.log); err != nil {
		return nil, err
	}
	c.waits = newWaits()
	c.AddSink(c.waits)
	ac.Sink = acd.SinkFunc(c.dispatch)
	ac.Clock, ac.SnapshotEvery, ac.RingSize, ac.Logger = c.clock, o.SnapshotEvery, o.RingSize, log
	if c.eng, err = acd.New(ac); err != nil {
		return nil, err
	}
	return c, nil
}

// Run runs the engine, the presence owner and the records' sweeper until ctx ends; it returns
// after all three stopped, with the call records still waiting for parts written as they are.
func (c *Center) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, run := range []func(context.Context) error{c.eng.Run, c.presence.run, c.records.run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = run(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Reload applies a new configuration: the engine takes the new skills, queues and agents
// (contacts already waiting get the new queue rules), the flows are compiled again for
// contacts that start from now on, and presence follows the new agents and their auto_login.
// On error nothing changed.
func (c *Center) Reload(ctx context.Context, cfg *config.Config) error {
	c.relMu.Lock()
	defer c.relMu.Unlock()
	ac, err := cfg.ACD()
	if err != nil {
		return err
	}
	flows, err := ivr.Compile(cfg, ivr.Options{Agents: c, Logger: c.log})
	if err != nil {
		return err
	}
	if err := c.submit(ctx, func() error { return c.eng.Apply(ac) }); err != nil {
		return fmt.Errorf("center: reload: %w", err)
	}
	dir := newDirectory(cfg)
	c.cfg.Store(cfg)
	c.flows.Store(flows)
	c.dir.Store(dir)
	c.records.reload(cfg)
	c.presence.push(input{kind: inReload, dir: dir})
	return nil
}

// Config returns the configuration in force.
func (c *Center) Config() *config.Config { return c.cfg.Load() }

// Flows returns the flows compiled from the configuration in force (voice and text run the
// same ones); a contact keeps the Flows it started with.
func (c *Center) Flows() *ivr.Flows { return c.flows.Load() }

// Snapshot returns the engine's last published figures; it never blocks.
func (c *Center) Snapshot() *acd.Snapshot { return c.eng.Snapshot() }

// Sync waits until the presence inputs queued before it reached the engine, the engine
// processed every command submitted before it and published a snapshot, and the presence
// owner took the engine's answers.
func (c *Center) Sync(ctx context.Context) error {
	if err := c.presence.barrier(ctx); err != nil {
		return err
	}
	if err := c.eng.Sync(ctx); err != nil {
		return err
	}
	// The engine's answers (agent states) are queued for the presence owner by now.
	return c.presence.barrier(ctx)
}

// AddSink adds an observer of every engine event (the signed event webhooks): k is called
// on the engine goroutine, in engine order, and must not block (acd.Sink's contract). Safe
// while the engine runs.
func (c *Center) AddSink(k acd.Sink) {
	for {
		old := c.sinks.Load()
		var next []acd.Sink
		if old != nil {
			next = append(next, *old...)
		}
		next = append(next, k)
		if c.sinks.CompareAndSwap(old, &next) {
			return
		}
	}
}

// dispatch is the engine's Sink, on the engine goroutine: it never blocks.
func (c *Center) dispatch(ev acd.Event) {
	c.metrics.observe(ev)
	c.details.event(ev)
	if ks := c.sinks.Load(); ks != nil {
		for _, k := range *ks {
			k.Event(ev)
		}
	}
	switch {
	case ev.Kind == acd.EventAgentState:
		c.presence.push(input{kind: inEngine, agent: ev.Agent, ev: ev})
		return
	case ev.Kind == acd.EventCommandFailed && ev.Agent != "":
		c.presence.push(input{kind: inEngine, agent: ev.Agent, ev: ev})
		return
	}
	switch ev.Kind {
	case acd.EventReservationCreated:
		c.resTask[ev.Reservation] = ev.Task
		c.taskRes[ev.Task] = append(c.taskRes[ev.Task], ev.Reservation)
	case acd.EventCommandFailed:
		if ev.Task == "" && ev.Reservation != 0 {
			ev.Task = c.resTask[ev.Reservation] // an Accept or Reject that lost a race
		}
	}
	if ev.Task == "" {
		return
	}
	c.records.taskEvent(ev)
	last := false
	switch ev.Kind {
	case acd.EventWrapUpEnded, acd.EventTaskAbandoned, acd.EventTaskTimedOut:
		last = true
	case acd.EventCommandFailed:
		last = ev.Command == "enqueue"
	}
	if last {
		for _, r := range c.taskRes[ev.Task] {
			delete(c.resTask, r)
		}
		delete(c.taskRes, ev.Task)
	}
	c.routesMu.Lock()
	in := c.routes[ev.Task]
	if last {
		delete(c.routes, ev.Task)
	}
	c.routesMu.Unlock()
	if in == nil {
		c.log.Debug("event for a task with no inbox", "task", ev.Task, "event", ev.Kind.String())
		return
	}
	in.put(ev)
}
