package center

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
)

// Presence is an agent's presence as the center owns it: what the desktop and the wallboard
// show, and what the engine was told.
type Presence struct {
	Agent string `json:"agent"`
	// State is the engine's view (offline, available, not-ready, busy, wrap-up, rona), and
	// Reason why not ready.
	State  acd.AgentState `json:"state"`
	Reason string         `json:"reason,omitempty"`
	// Ready is the agent's own ready / not ready, whoever set it last.
	Ready bool `json:"ready"`
	// Voice: signed in for voice; Text: a desktop session is open (signed in for text).
	Voice bool `json:"voice"`
	Text  bool `json:"text"`
	// Devices is the number of the agent's voice devices up (registered phones…).
	Devices int `json:"devices"`
	// VoiceLoggedOut: an explicit voice logout is in force (auto_login waits for a login).
	VoiceLoggedOut bool `json:"voice_logged_out,omitempty"`
}

// Channels are the acd channels p signs the agent in on.
func (p Presence) Channels() acd.ChannelSet {
	var s acd.ChannelSet
	if p.Voice {
		s |= acd.ChannelsOf(acd.Voice)
	}
	if p.Text {
		s |= textChannels
	}
	return s
}

// textChannels are the channels a desktop session signs an agent in on.
var textChannels = acd.ChannelsOf(acd.Chat, acd.Email, acd.Social)

// ReasonLoggedIn is the not-ready reason of an agent a desktop signed in from nothing.
const ReasonLoggedIn = "logged in"

// directory is what presence needs of the configured agents; replaced whole on Reload.
type directory struct {
	agents map[string]*agentDef
	byExt  map[string]string // extension → agent id
}

type agentDef struct {
	id, ext   string
	autoLogin bool
	queues    []string
}

func newDirectory(cfg *config.Config) *directory {
	d := &directory{agents: map[string]*agentDef{}, byExt: map[string]string{}}
	for _, a := range cfg.Agents {
		d.agents[a.ID] = &agentDef{id: a.ID, ext: a.Extension, autoLogin: a.AutoLogin, queues: slices.Clone(a.Queues)}
		if a.Extension != "" {
			d.byExt[a.Extension] = a.ID
		}
	}
	return d
}

// AgentOfExtension returns the agent whose phone is extension ext.
func (c *Center) AgentOfExtension(ext string) (string, bool) {
	id, ok := c.dir.Load().byExt[ext]
	return id, ok
}

// ExtensionOf returns the extension an agent's voice tasks ring.
func (c *Center) ExtensionOf(agent string) (string, bool) {
	a, ok := c.dir.Load().agents[agent]
	if !ok || a.ext == "" {
		return "", false
	}
	return a.ext, true
}

// voiceIntent is what the agent last said explicitly about voice.
type voiceIntent uint8

const (
	intentAuto voiceIntent = iota // nothing: auto_login decides
	intentIn                      // explicit login (*45, the desktop)
	intentOut                     // explicit logout (*44, the desktop): beats auto_login
)

// agentPresence is the owner's state of one agent.
type agentPresence struct {
	devices  map[string]struct{}
	intent   voiceIntent
	sessions int
	ready    bool
	reason   string
	rona     bool // the engine put the agent in RONA; the next ready ends it
	engine   acd.AgentState
	engReas  string
	sent     command // what the engine was last told
}

// command is the engine's view of an agent: channels, then state.
type command struct {
	chans  acd.ChannelSet
	state  acd.AgentState // Offline, Available, NotReady or RONA (set by the engine itself)
	reason string
}

// channels are the channels the agent is signed in on (invariant 3).
func (p *agentPresence) channels(autoLogin bool) acd.ChannelSet {
	var s acd.ChannelSet
	if len(p.devices) > 0 && (p.intent == intentIn || p.intent == intentAuto && autoLogin) {
		s |= acd.ChannelsOf(acd.Voice)
	}
	if p.sessions > 0 {
		s |= textChannels
	}
	return s
}

// want is what the engine should show for the agent.
func (p *agentPresence) want(autoLogin bool) command {
	w := command{chans: p.channels(autoLogin)}
	switch {
	case w.chans == 0:
		w.state = acd.Offline
	case p.rona:
		w.state, w.reason = acd.RONA, p.reason
	case p.ready:
		w.state = acd.Available
	default:
		w.state, w.reason = acd.NotReady, p.reason
	}
	return w
}

type inputKind uint8

const (
	inDeviceUp inputKind = iota + 1
	inDeviceDown
	inSessionOpened
	inSessionClosed
	inVoiceLogin
	inVoiceLogout
	inSetReady
	inToggle
	inEngine // an EventAgentState or an agent command that failed
	inReload
	inBarrier
)

// input is one thing the presence owner is told.
type input struct {
	kind   inputKind
	agent  string
	device string
	ready  bool
	reason string
	ev     acd.Event
	dir    *directory
	reply  chan Presence // inToggle
	done   chan struct{} // inBarrier
}

// trigger is who signed an agent in from nothing: it picks the agent's first ready state.
type trigger uint8

const (
	byOther   trigger = iota
	byPhone           // a device or an explicit voice login: ready
	byDesktop         // a desktop session: not ready, "logged in"
)

// presence is the owner of agent presence: one goroutine (run) applies inputs in order and
// tells the engine; readers see the published views.
type presence struct {
	c   *Center
	log *slog.Logger

	qmu    sync.Mutex // guards queue (a leaf)
	queue  []input
	wake   chan struct{}
	closed bool

	// Owned by the run goroutine.
	agents map[string]*agentPresence
	dir    *directory

	mu       sync.Mutex // guards view and watchers (a leaf)
	view     map[string]Presence
	watchers map[int]func(Presence)
	nextW    int

	staffed atomic.Pointer[map[string]bool] // queue → some agent of it is signed in
}

func newPresence(c *Center, dir *directory, log *slog.Logger) *presence {
	p := &presence{c: c, log: log, wake: make(chan struct{}, 1), agents: map[string]*agentPresence{},
		dir: dir, view: map[string]Presence{}, watchers: map[int]func(Presence){}}
	for id := range dir.agents {
		p.agents[id] = newAgentPresence()
		p.view[id] = Presence{Agent: id}
	}
	empty := map[string]bool{}
	p.staffed.Store(&empty)
	return p
}

func newAgentPresence() *agentPresence {
	return &agentPresence{devices: map[string]struct{}{}, sent: command{chans: acd.AllChannels, state: acd.Offline}}
}

// push queues an input for the owner; it never blocks.
func (p *presence) push(in input) {
	p.qmu.Lock()
	if p.closed {
		p.qmu.Unlock()
		if in.done != nil {
			close(in.done)
		}
		if in.reply != nil {
			close(in.reply)
		}
		return
	}
	p.queue = append(p.queue, in)
	p.qmu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// barrier waits until the owner applied every input queued before it.
func (p *presence) barrier(ctx context.Context) error {
	done := make(chan struct{})
	p.push(input{kind: inBarrier, done: done})
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run applies inputs until ctx ends.
func (p *presence) run(ctx context.Context) error {
	defer func() {
		p.qmu.Lock()
		p.closed = true
		rest := p.queue
		p.queue = nil
		p.qmu.Unlock()
		for _, in := range rest {
			if in.done != nil {
				close(in.done)
			}
			if in.reply != nil {
				close(in.reply)
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
		p.qmu.Lock()
		batch := p.queue
		p.queue = nil
		p.qmu.Unlock()
		for _, in := range batch {
			p.apply(ctx, in)
		}
	}
}

// apply runs one input: the agent's state changes, the engine is told, the view published.
func (p *presence) apply(ctx context.Context, in input) {
	switch in.kind {
	case inBarrier:
		close(in.done)
		return
	case inReload:
		p.reload(ctx, in.dir)
		return
	}
	def, ok := p.dir.agents[in.agent]
	a := p.agents[in.agent]
	if !ok || a == nil {
		if in.reply != nil {
			close(in.reply)
		}
		return
	}
	before := a.channels(def.autoLogin)
	by, force := byOther, false
	switch in.kind {
	case inDeviceUp:
		a.devices[in.device] = struct{}{}
		by = byPhone
	case inDeviceDown:
		delete(a.devices, in.device)
	case inSessionOpened:
		a.sessions++
		by = byDesktop
	case inSessionClosed:
		a.sessions = max(a.sessions-1, 0)
	case inVoiceLogin:
		a.intent, by = intentIn, byPhone
	case inVoiceLogout:
		a.intent = intentOut
	case inSetReady:
		a.ready, a.reason, force = in.ready, in.reason, true
		if in.ready {
			a.reason, a.rona = "", false
		}
	case inToggle:
		switch {
		case !before.Has(acd.Voice):
			a.intent, by = intentIn, byPhone
			a.ready, a.reason, a.rona, force = true, "", false, true
		case a.ready && !a.rona:
			a.ready, a.reason, force = false, in.reason, true
		default:
			a.ready, a.reason, a.rona, force = true, "", false, true
		}
	case inEngine:
		if in.ev.Kind == acd.EventCommandFailed {
			p.log.Warn("agent command refused", "agent", in.agent, "command", in.ev.Command, "error", in.ev.Err)
			break
		}
		a.engine, a.engReas = in.ev.State, in.ev.Reason
		if in.ev.State == acd.RONA {
			a.rona, a.ready, a.reason = true, false, in.ev.Reason
			a.sent.state, a.sent.reason = acd.RONA, in.ev.Reason
		}
	}
	after := a.channels(def.autoLogin)
	if before == 0 && after != 0 {
		switch by {
		case byPhone:
			a.ready, a.reason, a.rona = true, "", false
		case byDesktop:
			a.ready, a.reason, a.rona = false, ReasonLoggedIn, false
		}
	}
	if (before == 0) != (after == 0) {
		p.restaff()
	}
	p.tell(ctx, in.agent, a, a.want(def.autoLogin), force)
	if in.kind != inEngine && a.engine != acd.Busy && a.engine != acd.WrapUp {
		// What the engine will report for an agent holding nothing: shown at once, so that a
		// watcher does not see the state before the change; the engine's event confirms it.
		a.engine, a.engReas = a.sent.state, a.sent.reason
	}
	pr := p.presenceOf(in.agent, def, a)
	p.publish(pr)
	if in.reply != nil {
		in.reply <- pr
	}
}

// tell submits the commands that take the engine from what it was told to w: channels
// first, then the state, so that an agent never shows available on a channel it left.
func (p *presence) tell(ctx context.Context, agent string, a *agentPresence, w command, force bool) {
	s := &a.sent
	if w.chans == 0 {
		if s.state != acd.Offline {
			p.submit(ctx, agent, "set-state", func() error { return p.c.eng.SetState(agent, acd.Offline, "") })
			s.state, s.reason = acd.Offline, ""
		}
		return
	}
	if w.chans != s.chans {
		p.submit(ctx, agent, "set-channels", func() error { return p.c.eng.SetChannels(agent, w.chans) })
		s.chans = w.chans
	}
	if w.state == acd.RONA { // the engine's own state: nothing to say unless it must end
		return
	}
	if w.state != s.state || w.reason != s.reason || force {
		p.submit(ctx, agent, "set-state", func() error { return p.c.eng.SetState(agent, w.state, w.reason) })
		s.state, s.reason = w.state, w.reason
	}
}

func (p *presence) submit(ctx context.Context, agent, what string, f func() error) {
	if err := p.c.submit(ctx, f); err != nil {
		p.log.Warn("presence not told to the engine", "agent", agent, "command", what, "error", err)
	}
}

func (p *presence) presenceOf(id string, def *agentDef, a *agentPresence) Presence {
	ch := a.channels(def.autoLogin)
	return Presence{Agent: id, State: a.engine, Reason: a.engReas, Ready: a.ready && !a.rona,
		Voice: ch.Has(acd.Voice), Text: a.sessions > 0, Devices: len(a.devices), VoiceLoggedOut: a.intent == intentOut}
}

// publish stores pr as the agent's view and tells the watchers when it changed.
func (p *presence) publish(pr Presence) {
	p.mu.Lock()
	if p.view[pr.Agent] == pr {
		p.mu.Unlock()
		return
	}
	p.view[pr.Agent] = pr
	ws := slices.Collect(maps.Values(p.watchers))
	p.mu.Unlock()
	for _, w := range ws {
		w(pr)
	}
}

// restaff recomputes which queues have an agent signed in.
func (p *presence) restaff() {
	m := map[string]bool{}
	for id, a := range p.agents {
		def := p.dir.agents[id]
		if def == nil || a.channels(def.autoLogin) == 0 {
			continue
		}
		for _, q := range def.queues {
			m[q] = true
		}
	}
	p.staffed.Store(&m)
}

// reload takes a new directory: removed agents are forgotten (the engine logs them out), new
// ones start offline, and everyone's channels follow their auto_login.
func (p *presence) reload(ctx context.Context, dir *directory) {
	p.dir = dir
	for id := range p.agents {
		if dir.agents[id] == nil {
			delete(p.agents, id)
			p.mu.Lock()
			delete(p.view, id)
			p.mu.Unlock()
		}
	}
	for id, def := range dir.agents {
		a := p.agents[id]
		if a == nil {
			a = newAgentPresence()
			p.agents[id] = a
		}
		p.tell(ctx, id, a, a.want(def.autoLogin), false)
		p.publish(p.presenceOf(id, def, a))
	}
	p.restaff()
}

// The inputs. Each queues and returns at once; unknown agents are refused here.

func (c *Center) agentInput(in input) error {
	if _, ok := c.dir.Load().agents[in.agent]; !ok {
		return fmt.Errorf("center: agent %q: %w", in.agent, ErrUnknownAgent)
	}
	c.presence.push(in)
	return nil
}

// DeviceUp says that one of the agent's voice devices (a registered phone contact, a browser
// phone) can take calls; device names it among the agent's devices. It never blocks.
func (c *Center) DeviceUp(agent, device string) error {
	return c.agentInput(input{kind: inDeviceUp, agent: agent, device: device})
}

// DeviceDown says that the device is gone (unregistered, expired, unreachable).
func (c *Center) DeviceDown(agent, device string) error {
	return c.agentInput(input{kind: inDeviceDown, agent: agent, device: device})
}

// SessionOpened says that a desktop session of the agent opened: signed in for text.
func (c *Center) SessionOpened(agent string) error {
	return c.agentInput(input{kind: inSessionOpened, agent: agent})
}

// SessionClosed says that one of the agent's desktop sessions ended (logout, expiry).
func (c *Center) SessionClosed(agent string) error {
	return c.agentInput(input{kind: inSessionClosed, agent: agent})
}

// VoiceLogin is the agent's explicit login for voice (while a device is up).
func (c *Center) VoiceLogin(agent string) error {
	return c.agentInput(input{kind: inVoiceLogin, agent: agent})
}

// VoiceLogout is the agent's explicit logout of voice; it beats auto_login until VoiceLogin.
func (c *Center) VoiceLogout(agent string) error {
	return c.agentInput(input{kind: inVoiceLogout, agent: agent})
}

// SetReady sets the agent ready, or not ready with a free-text reason.
func (c *Center) SetReady(agent string, ready bool, reason string) error {
	if !ready && reason == "" {
		reason = "not ready"
	}
	return c.agentInput(input{kind: inSetReady, agent: agent, ready: ready, reason: reason})
}

// ToggleReady is the agent's feature code: an agent not signed in for voice logs in for it,
// ready; otherwise ready and not ready (with reason) alternate. It waits until the change is
// told to the engine and returns the agent's presence then.
func (c *Center) ToggleReady(ctx context.Context, agent, reason string) (Presence, error) {
	reply := make(chan Presence, 1)
	if err := c.agentInput(input{kind: inToggle, agent: agent, reason: reason, reply: reply}); err != nil {
		return Presence{}, err
	}
	select {
	case pr, ok := <-reply:
		if !ok {
			return Presence{}, fmt.Errorf("center: toggle %s: %w", agent, acd.ErrClosed)
		}
		return pr, nil
	case <-ctx.Done():
		return Presence{}, ctx.Err()
	}
}

// Presence returns the agent's presence.
func (c *Center) Presence(agent string) (Presence, bool) {
	c.presence.mu.Lock()
	defer c.presence.mu.Unlock()
	pr, ok := c.presence.view[agent]
	return pr, ok
}

// WatchPresence calls fn with every change of an agent's presence, on the presence owner's
// goroutine: fn must not block. cancel stops it.
func (c *Center) WatchPresence(fn func(Presence)) (cancel func()) {
	p := c.presence
	p.mu.Lock()
	id := p.nextW
	p.nextW++
	p.watchers[id] = fn
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		delete(p.watchers, id)
		p.mu.Unlock()
	}
}

// LoggedIn tells the flows whether an agent serving queue is signed in (ivr.Agents): a
// contact is not queued where nobody can answer. It follows the presence owner without lag.
func (c *Center) LoggedIn(queue string) bool { return (*c.presence.staffed.Load())[queue] }
