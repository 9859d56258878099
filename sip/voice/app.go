// Package voice is the voice path of ccswitch: the sip.App that answers flow numbers with
// media, runs their IVR flow (ivr.Flows) over the call, queues the caller in the ACD, rings
// the reserved agent's phone through the B2BUA and bridges the two.
//
// # Wiring
//
// Stack (stack.go) builds the pieces in the order they need each other; cmd/ccswitch does:
//
//	vs, err := voice.NewStack(cfg, voice.StackOptions{Logger: log})  // ACD, flows, media, anchor, App
//	srv, err := sip.New(cfg, st, log, vs.SIPOptions()...)
//	vs.Attach(srv)                                // App.SetSIP, Anchor.SetCalls
//	go vs.Run(ctx)                                // ACD engine + auto-login; closes media at the end
//	srv.Run(ctx)
//	// SIGHUP: vs.Reload(next); srv.Reload(next)
//
// The ACD's Sink is the Stack's fan-out: every event goes to App.ACDEvent (never blocks), then
// to the sinks given in StackOptions.Sinks or AddSink (the text channels).
//
// # A call
//
// ServeCall answers the caller itself (media AnswerLocal on leg A, 200 OK), then runs the
// number's flow with the call as its ivr.Interaction: Play plays <prompts>/<lang>/<name>.wav
// on leg A (barge-in by DTMF when the flow allows it), Collect reads the call's DTMF buffer
// (RFC 4733, SIP INFO, in-band), Enqueue submits an acd.Task (ID = the call's ID, "#2"… for a
// later wait in the same call; channel voice) and plays "please hold", the position at entry (with announce) and hold music until
// an agent answers. On each reservation the agent's extension is rung (sip Dial, all its
// contacts) with an offer for leg B (media OfferTo), bounded by the reservation's timeout;
// the answer is Accepted in the ACD and, once the engine confirms, the legs are bridged (media
// AnswerFromB: the music stops and A↔B relay; sip Bridge ties the BYEs; the anchor gets the
// media call attached so re-INVITEs between the two go through it). A busy or unreachable
// agent is Rejected at once; an agent who does not answer is left to the ACD's RONA timeout,
// whose event CANCELs the ring; either way the task goes back in place and the caller keeps
// hearing music. A caller who hangs up while waiting is Cancelled in the ACD (abandoned) and a
// ringing agent CANCELled. When a bridged call ends the task is Completed (wrap-up). Transfer
// rings an extension and bridges the same way; Record keeps a voicemail WAV under
// media.recordings.
//
// Agents log in automatically while their extension has a live registration (auto_login;
// App.Run polls the registrar every AutoLoginEvery), and toggle ready / not ready by dialling
// FeatureReady (*45) from their own phone (the authenticated extension, not the From header).
//
// # Invariants
//
//  1. ACDEvent never blocks: events go to the call's buffered channel, dropped (and logged)
//     when it is full. The engine's events for a task carry its ID; reservation outcomes are
//     matched by reservation ID, so a stale event never acts on a newer ring.
//  2. At most one agent is rung per call at a time; a ring whose reservation ended is
//     CANCELled, and an agent leg answered too late is hung up, never bridged.
//  3. Every task this package enqueues ends in the ACD: Cancel when the caller leaves
//     before an agent answers, Complete after the bridged call ends.
//  4. The media call belongs to ServeCall's goroutine: it is closed when ServeCall returns,
//     after both legs have ended.
//  5. An agent leg that answers after the ring was given up (caller gone, reservation timed
//     out or cancelled, Accept lost to RONA) gets a BYE; when the caller leaves while an
//     Accept is in flight, Cancel then Complete are submitted, and exactly one applies.
package voice

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
)

// Options configures an App.
type Options struct {
	// Config gives the agents (ID ↔ extension, auto_login), the prompt folder and the number
	// languages.
	Config *config.Config
	// SIP is the B2BUA (Dial, Bridge, registrations); it may be set later with SetSIP, since
	// sip.New needs the App first.
	SIP *sip.Server
	// Media answers and plays; ACD queues; Flows are the compiled flows (ivr.Compile).
	Media *media.Engine
	ACD   *acd.Engine
	Flows *ivr.Flows
	// Anchor, when set, gets the media call of a bridged call attached under both SIP call
	// IDs, so that re-INVITEs between caller and agent are negotiated on it.
	Anchor *anchor.Anchor
	// Prompts is the prompt folder; default: config media.prompts (relative to the config's
	// folder), else configs/prompts.
	Prompts string
	// HoldMusic is the WAV looped while a caller waits; default <Prompts>/hold-music.wav.
	HoldMusic string
	// AutoLoginEvery is how often registrations are checked for agents with auto_login
	// (default 1s).
	AutoLoginEvery time.Duration
	// OnEnd, if set, receives each flow call's summary when it ends (for the call record).
	OnEnd func(Summary)
	// OnRing, if set, is called (on its own goroutine) each time an agent's phone is rung for
	// a queued caller: the agent desktop's screen pop.
	OnRing func(agent, callID, caller string)
	// Logger gets component=voice; nil means slog.Default().
	Logger *slog.Logger
}

// Summary is what happened to one call handled by the App.
type Summary struct {
	CallID string // ccswitch's ID of the caller's SIP call (also its first ACD task's ID)
	DID    string
	Caller string
	Result *ivr.Result // nil when the call failed before the flow ran
	Err    error
	Agent  string      // the agent who answered ("" for none)
	Media  media.Stats // leg A: caller, leg B: agent
}

// App is the voice sip.App. Safe for concurrent use.
type App struct {
	log    *slog.Logger
	media  *media.Engine
	acd    *acd.Engine
	anc    *anchor.Anchor
	onEnd  func(Summary)
	onRing func(agent, callID, caller string)
	every  time.Duration

	srv   atomic.Pointer[sip.Server]
	state atomic.Pointer[state]

	mu    sync.RWMutex
	tasks map[string]*call // by task ID

	loginMu  sync.Mutex
	loggedIn map[string]bool // agents this package auto-logged in
}

// state is what Reload swaps.
type state struct {
	cfg        *config.Config
	flows      *ivr.Flows
	prompts    *promptSet
	holdMusic  string
	recordings string            // voicemail folder
	agentExt   map[string]string // agent ID → extension
	extAgent   map[string]string // extension → agent ID
	autoLogin  map[string]bool   // agent ID → auto_login
	opts       Options
}

var _ sip.App = (*App)(nil)

// New builds the App; it does nothing until the SIP server hands it calls.
func New(o Options) *App {
	a := &App{log: o.Logger, media: o.Media, acd: o.ACD, anc: o.Anchor, onEnd: o.OnEnd, onRing: o.OnRing,
		every: o.AutoLoginEvery, tasks: map[string]*call{}, loggedIn: map[string]bool{}}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("component", "voice")
	if a.every <= 0 {
		a.every = time.Second
	}
	if o.SIP != nil {
		a.srv.Store(o.SIP)
	}
	a.state.Store(newState(o, o.Config, o.Flows))
	return a
}

func newState(o Options, cfg *config.Config, flows *ivr.Flows) *state {
	s := &state{cfg: cfg, flows: flows, opts: o, agentExt: map[string]string{}, extAgent: map[string]string{},
		autoLogin: map[string]bool{}}
	dir := o.Prompts
	base := ""
	if cfg != nil {
		base = cfg.Dir
		if dir == "" && cfg.Media.Prompts != "" {
			dir = cfg.Media.Prompts
			if !filepath.IsAbs(dir) && cfg.Dir != "" {
				dir = filepath.Join(cfg.Dir, dir)
			}
		}
		for _, ag := range cfg.Agents {
			if ag.Extension == "" {
				continue
			}
			s.agentExt[ag.ID] = ag.Extension
			s.extAgent[ag.Extension] = ag.ID
			s.autoLogin[ag.ID] = ag.AutoLogin
		}
	}
	if dir == "" {
		dir = filepath.Join("configs", "prompts")
	}
	s.recordings = "recordings"
	if cfg != nil && cfg.Media.Recordings != "" {
		s.recordings = cfg.Media.Recordings
		if !filepath.IsAbs(s.recordings) && cfg.Dir != "" {
			s.recordings = filepath.Join(cfg.Dir, s.recordings)
		}
	}
	s.prompts = newPromptSet(dir, base)
	s.holdMusic = o.HoldMusic
	if s.holdMusic == "" {
		s.holdMusic = filepath.Join(dir, "hold-music.wav")
	}
	return s
}

// SetSIP gives the App the server it dials agents through (after sip.New(..., WithApp(app))).
func (a *App) SetSIP(s *sip.Server) { a.srv.Store(s) }

// Reload takes a new config and flows for calls that start from now on (calls in progress
// keep theirs; prompts are loaded again).
func (a *App) Reload(cfg *config.Config, flows *ivr.Flows) {
	old := a.state.Load()
	a.state.Store(newState(old.opts, cfg, flows))
}

// AgentExtension returns the extension an agent is rung on.
func (a *App) AgentExtension(agentID string) (string, bool) {
	e, ok := a.state.Load().agentExt[agentID]
	return e, ok
}

// ExtensionAgent returns the agent whose phone is ext.
func (a *App) ExtensionAgent(ext string) (string, bool) {
	id, ok := a.state.Load().extAgent[ext]
	return id, ok
}

// ACDEvent takes one event of the ACD engine (call it from the engine's Sink, for every
// event). It never blocks.
func (a *App) ACDEvent(ev acd.Event) {
	if ev.Task == "" || ev.Channel != acd.Voice {
		return
	}
	a.mu.RLock()
	c := a.tasks[ev.Task]
	a.mu.RUnlock()
	if c == nil {
		return
	}
	select {
	case c.events <- ev:
	default:
		a.log.Warn("voice call's event queue full: event dropped", "call", c.id, "event", ev.Kind.String())
	}
}

func (a *App) track(id string, c *call) {
	a.mu.Lock()
	a.tasks[id] = c
	a.mu.Unlock()
}

func (a *App) untrack(id string) {
	a.mu.Lock()
	delete(a.tasks, id)
	a.mu.Unlock()
}

// LoggedIn is an ivr.Agents over an ACD engine's snapshot: a queue has agents logged in when
// any of its agents is in a state other than offline. The snapshot lags commands by at most
// acd.Config.SnapshotEvery.
func LoggedIn(e *acd.Engine) ivr.Agents {
	return ivr.AgentsFunc(func(queue string) bool {
		s := e.Snapshot()
		if s == nil {
			return false
		}
		q, ok := s.Queue(queue)
		if !ok {
			return false
		}
		for st, n := range q.Agents {
			if acd.AgentState(st) != acd.Offline && n > 0 {
				return true
			}
		}
		return false
	})
}

// Run logs agents with auto_login in when their extension has a live registration, and out
// when it has none any more (only those it logged in itself), until ctx ends.
func (a *App) Run(ctx context.Context) error {
	t := time.NewTicker(a.every)
	defer t.Stop()
	for {
		a.autoLogin()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (a *App) autoLogin() {
	srv := a.srv.Load()
	if srv == nil || a.acd == nil {
		return
	}
	st := a.state.Load()
	a.loginMu.Lock()
	defer a.loginMu.Unlock()
	changed := false
	defer func() {
		if changed { // publish the snapshot LoggedIn reads before the next caller arrives
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			a.acd.Sync(ctx)
			cancel()
		}
	}()
	for id, auto := range st.autoLogin {
		if !auto {
			continue
		}
		registered := len(srv.Registrar().Lookup(st.agentExt[id])) > 0
		switch {
		case registered && !a.loggedIn[id]:
			if err := a.acd.AgentLogin(id); err == nil {
				a.loggedIn[id] = true
				changed = true
				a.log.Info("agent logged in on registration", "agent", id, "extension", st.agentExt[id])
			}
		case !registered && a.loggedIn[id]:
			if err := a.acd.AgentLogout(id); err == nil {
				delete(a.loggedIn, id)
				changed = true
				a.log.Info("agent logged out: registration gone", "agent", id)
			}
		}
	}
}

// peerOf is the media peer of a SIP party: its signalling IP and, through the anchor, the
// SRTP policy of its extension or trunk.
func (a *App) peerOf(p sip.Party) media.Peer {
	if a.anc != nil {
		return a.anc.Peer(p)
	}
	return media.Peer{Signal: p.Source.Addr()}
}
