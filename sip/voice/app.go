package voice

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/anchor"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/ccswitch/ccswitch/store"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configures an App.
type Options struct {
	// Config gives the prompt folder, the recordings folder and the users' static contacts.
	Config *config.Config
	// Center queues callers, knows the agents (extension ↔ agent) and their presence, and
	// takes the flow's account of each call for its record.
	Center *center.Center
	// SIP is the B2BUA (Dial, Bridge, registrations); it may be set later with SetSIP, since
	// sip.New needs the App first.
	SIP *sip.Server
	// Media answers and plays.
	Media *media.Engine
	// Anchor, when set, gets the media call of a bridged call attached under both SIP call
	// IDs, so that re-INVITEs between caller and agent are negotiated on it.
	Anchor *anchor.Anchor
	// Prompts is a prompt folder that overrides config media.prompts (tests).
	Prompts string
	// HoldMusic is a WAV file looped while a caller waits; default hold-music.wav of the
	// prompts.
	HoldMusic string
	// OnEnd, if set, receives each flow call's summary when it ends (tests; the center gets
	// the call record's part in any case).
	OnEnd func(Summary)
	// OnRing, if set, is called (on its own goroutine) each time an agent's phone is rung for
	// a queued caller: the agent desktop's screen pop.
	OnRing func(agent, callID, caller string)
	// Store keeps the callbacks callers accepted across restarts (nil: in memory only).
	Store *store.Store
	// Registerer gets the monitoring and callbacks' metrics (ccswitch_monitor_*,
	// ccswitch_callback_*); nil: none.
	Registerer prometheus.Registerer
	// OnPreview, if set, shows an agent the callback they took, before ccswitch dials
	// (the desktop's preview card and countdown); OnVoicemail a message to the queue they
	// took. Called on the callbacks' goroutine: they must not block.
	OnPreview   func(Preview)
	OnVoicemail func(Voicemail)
	// OnPrompt, if set, is told each hold prompt (announcements, offers) as it starts playing
	// to a waiting caller (tests).
	OnPrompt func(callID, prompt string)
	// VoicemailHold is how long an agent holds a message before it is completed for them;
	// 0: VoicemailHold (tests shorten it).
	VoicemailHold time.Duration
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
	center *center.Center
	media  *media.Engine
	anc    *anchor.Anchor
	onEnd  func(Summary)
	onRing func(agent, callID, caller string)
	opts   Options
	cb     *callbacks // callbacks and messages to queues (callback.go, voicemail.go)

	srv    atomic.Pointer[sip.Server]
	state  atomic.Pointer[state]
	calls  sync.WaitGroup // ServeCall in progress (invariant 6)
	byCall sync.Map       // call id → *call, for TransferCall

	liveMu     sync.Mutex       // guards live; a leaf
	live       map[string]*call // agent → the call they are bridged on (supervisors monitor it)
	monMetrics *monitorMetrics
	supDevice  atomic.Pointer[SupervisorDevice] // the browser side of Monitor (nil: phones)
	rlog       *ratelog.Logger                  // refusals, once per key per minute

	devMu   sync.Mutex        // guards statics and unsub
	statics map[string]string // agent → its extension's static contact, declared as a device
	unsub   func()
}

// state is what Reload swaps.
type state struct {
	cfg        *config.Config
	prompts    *promptSet
	holdMusic  string // a file, or "" for the prompts' hold-music.wav
	recordings string // voicemail folder
}

var _ sip.App = (*App)(nil)

// New builds the App; it does nothing until the SIP server hands it calls.
func New(o Options) *App {
	a := &App{log: o.Logger, center: o.Center, media: o.Media, anc: o.Anchor, onEnd: o.OnEnd, onRing: o.OnRing,
		opts: o, statics: map[string]string{}, live: map[string]*call{}, monMetrics: newMonitorMetrics(o.Registerer)}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.log = a.log.With("component", "voice")
	a.rlog = ratelog.New(a.log, time.Minute)
	base := o.Logger
	if base == nil {
		base = slog.Default()
	}
	a.cb = newCallbacks(a, o.Store, o.Registerer, o.OnPreview, base)
	a.cb.voicemail = o.OnVoicemail
	a.cb.hold = cmp.Or(o.VoicemailHold, VoicemailHold)
	if o.SIP != nil {
		a.srv.Store(o.SIP)
	}
	a.state.Store(newState(o, o.Config))
	return a
}

func newState(o Options, cfg *config.Config) *state {
	s := &state{cfg: cfg, holdMusic: o.HoldMusic, recordings: "recordings"}
	dir, base := o.Prompts, ""
	if cfg != nil {
		base = cfg.Dir
		if dir == "" {
			dir = cfg.Resolve("media.prompts", cfg.Media.Prompts)
		}
		if cfg.Media.Recordings != "" {
			s.recordings = cfg.Resolve("media.recordings", cfg.Media.Recordings)
		}
	}
	s.prompts = newPromptSet(dir, base)
	return s
}

// SetSIP gives the App the server it dials agents through (after sip.New(..., WithApp(app))).
func (a *App) SetSIP(s *sip.Server) { a.srv.Store(s) }

// Reload takes a new config for calls that start from now on (calls in progress keep theirs;
// prompts are loaded again); the flows come from the center, reloaded on its own.
func (a *App) Reload(cfg *config.Config) {
	a.state.Store(newState(a.opts, cfg))
	a.declareStatics(cfg)
}

// watchPhones makes the registrar's bindings the agents' voice devices (center.DeviceUp and
// DeviceDown); the registrar replays the bindings it has first.
func (a *App) watchPhones(reg *registrar.Registrar) {
	unsub := reg.Subscribe(func(ev registrar.Event) {
		agent, ok := a.center.AgentOfExtension(ev.AOR)
		if !ok {
			return
		}
		dev := "sip:" + ev.Contact
		switch ev.Kind {
		case registrar.Bound:
			a.center.DeviceUp(agent, dev)
		case registrar.Unbound:
			a.center.DeviceDown(agent, dev)
		}
	})
	a.devMu.Lock()
	a.unsub = unsub
	a.devMu.Unlock()
}

// declareStatics makes an agent's extension with a static contact (users[].contact: a device
// that never registers) one of the agent's voice devices, for as long as the config says so.
func (a *App) declareStatics(cfg *config.Config) {
	if a.center == nil || cfg == nil {
		return
	}
	contact := map[string]string{}
	for _, u := range cfg.Users {
		if u.Contact != "" {
			contact[u.Extension] = u.Contact
		}
	}
	next := map[string]string{}
	for _, ag := range cfg.Agents {
		if c := contact[ag.Extension]; c != "" {
			next[ag.ID] = "static:" + c
		}
	}
	a.devMu.Lock()
	defer a.devMu.Unlock()
	for agent, dev := range a.statics {
		if next[agent] != dev {
			a.center.DeviceDown(agent, dev)
		}
	}
	for agent, dev := range next {
		if a.statics[agent] != dev {
			a.center.DeviceUp(agent, dev)
		}
	}
	a.statics = next
}

// stop ends the registrar subscription and waits for the calls in progress to return.
func (a *App) stop() {
	a.devMu.Lock()
	unsub := a.unsub
	a.unsub = nil
	a.devMu.Unlock()
	if unsub != nil {
		unsub()
	}
	a.calls.Wait()
}

// cmdCtx is the context of the commands a call must submit whatever happens to it (Cancel and
// Complete after the caller left): only the engine's backpressure delays them.
func cmdCtx(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// peerOf is the media peer of a SIP party: its signalling IP and, through the anchor, the
// SRTP policy of its extension or trunk.
func (a *App) peerOf(p sip.Party) media.Peer {
	if a.anc != nil {
		return a.anc.Peer(p)
	}
	return media.Peer{Signal: p.Source.Addr()}
}
