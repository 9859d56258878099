package acd

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// Task is a contact to route. ID must be unique among live tasks (until
// the task ends, or its wrap-up ends if it was completed). Requirements
// add to the queue's requirements; they and Attributes must not be
// modified after Enqueue. Priority: higher is served first; it is
// clamped to ±32767 after adding the queue's priority.
type Task struct {
	ID           string
	Queue        string
	Channel      Channel
	Priority     int
	Requirements []Condition
	Attributes   map[string]string
	// Tag is the caller's own handle for the task (an index into its tables, say): the
	// engine keeps it and returns it as Event.TaskTag in every event about the task, so a
	// Sink finds its record without looking the ID up. Zero if unused.
	Tag uint64
}

type cmdKind uint8

const (
	cmdEnqueue cmdKind = iota + 1
	cmdCancel
	cmdTransfer
	cmdComplete
	cmdEndWrapUp
	cmdAccept
	cmdReject
	cmdLogin
	cmdLogout
	cmdSetState
	cmdChannels
	cmdApply
	cmdSync
)

var cmdNames = [...]string{"", "enqueue", "cancel", "transfer", "complete", "end-wrap-up",
	"accept", "reject", "login", "logout", "set-state", "set-channels", "apply", "sync"}

type command struct {
	kind  cmdKind
	ch    Channel
	chans ChannelSet
	state AgentState
	prio  int
	id    string
	arg   string
	res   ReservationID
	reqs  []Condition
	attrs map[string]string
	tag   uint64
	model *model // Apply; for Enqueue, the model qi indexes
	qi    int32
	done  chan struct{}
}

// spinYields is how many times the idle engine goroutine yields before
// it parks.
const spinYields = 50

// Engine is one shard of the queue engine. Its state is owned by the
// goroutine running Run; every other method may be called from any
// goroutine. See the package documentation for the full contract.
type Engine struct {
	r      *ring
	clock  Clock
	sink   Sink
	log    *slog.Logger
	epoch  time.Time
	every  int64
	cur    atomic.Pointer[model] // for synchronous checks in Enqueue
	snap   atomic.Pointer[Snapshot]
	run    atomic.Bool
	closed atomic.Bool
	tick   atomic.Bool
	// room is closed by Run once it has taken commands off the ring: producers that found the
	// ring full wait on it (WaitRoom).
	room atomic.Pointer[chan struct{}]

	// Owned by the Run goroutine.
	m         *model
	now       int64
	nowT      time.Time
	queues    []*queue
	queueIdx  map[string]*queue
	agents    []*agent
	agentIdx  map[string]*agent
	classes   map[classKey]*class
	reqsets   map[uint64]*reqset
	nreqsets  int32
	emptyRS   *reqset
	ids       idTable // task ID -> slot
	chunks    [][]task
	free      []int32
	nslots    int32
	seq       uint64
	offerSeq  uint64
	resSeq    uint64
	next      int64 // earliest deadline that may be due; MaxInt64 if none
	armed     int64
	timer     Timer
	dirty     bool
	lastPub   int64
	lastSweep int64
	snapSeq   uint64
	scratch   []*task
	scratchM  []*member

	// onDecision, if set (tests), is called after each reservation;
	// agentSide tells which side triggered it.
	onDecision func(t *task, a *agent, agentSide bool)
	// onBatch, if set (tests), is called after each batch of commands.
	onBatch func()
	// onPublish, if set (tests), is called with each new snapshot.
	onPublish func(*Snapshot)

	dirtyAgents []*agent // touched since the last publication
	snapFull    bool     // rebuild every agent entry at the next publication
}

// New validates cfg and builds an engine. All agents start Offline. It
// returns every configuration violation, joined. Run must be called for
// commands to take effect.
func New(cfg Config) (*Engine, error) {
	if cfg.Sink == nil {
		return nil, fmt.Errorf("acd: new: nil Sink: %w", ErrBadConfig)
	}
	m, err := compile(&cfg)
	if err != nil {
		return nil, err
	}
	e := &Engine{clock: cfg.Clock, sink: cfg.Sink, log: cfg.Logger, every: int64(cfg.SnapshotEvery)}
	if e.clock == nil {
		e.clock = RealClock{}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.log = e.log.With("component", "acd")
	if e.every <= 0 {
		e.every = int64(defaultSnapshot)
	}
	size := cfg.RingSize
	if size <= 0 {
		size = defaultRingSize
	}
	e.r = newRing(size)
	e.epoch = e.clock.Now()
	e.nowT = e.epoch
	e.timer = e.clock.AfterFunc(time.Hour, e.onTimer)
	e.timer.Stop()
	e.ids = newIDTable()
	e.next, e.armed = math.MaxInt64, math.MaxInt64
	e.install(m)
	e.publish()
	return e, nil
}

// Run processes commands and timers until ctx is done. It returns nil
// after ctx ends, or ErrRunning if Run was already called. Commands
// still in the ring when Run returns are dropped; later submissions
// return ErrClosed.
func (e *Engine) Run(ctx context.Context) error {
	if !e.run.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer func() {
		e.closed.Store(true)
		e.signalRoom()
		e.timer.Stop()
		var c command
		for e.r.pop(&c) {
			if c.done != nil {
				close(c.done)
			}
		}
	}()
	done := ctx.Done()
	for {
		if e.step() > 0 {
			select {
			case <-done:
				return nil
			default:
			}
			continue
		}
		// Yield a few times before parking: a producer that submits
		// within microseconds (a caller answering an event) finds the
		// engine awake, without a futex wake-up.
		spun := false
		for range spinYields {
			if e.r.ready() || e.tick.Load() {
				spun = true
				break
			}
			runtime.Gosched()
		}
		if spun {
			continue
		}
		e.r.sleeping.Store(true)
		if e.r.ready() || e.tick.Load() {
			e.r.sleeping.Store(false)
			continue
		}
		select {
		case <-ctx.Done():
			e.r.sleeping.Store(false)
			return nil
		case <-e.r.wake:
		}
		e.r.sleeping.Store(false)
	}
}

// step runs due timers and one batch of commands, publishes the
// snapshot if due and arms the clock timer. It returns the number of
// commands handled.
func (e *Engine) step() int {
	var c command
	e.setNow()
	if e.tick.Swap(false) || e.next <= e.now {
		e.fireTimers()
	}
	e.sweepIfDue()
	n := 0
	for n < 1024 && e.r.pop(&c) {
		e.handle(&c)
		n++
	}
	if n > 0 {
		e.signalRoom()
	}
	if e.onBatch != nil {
		e.onBatch()
	}
	if e.dirty && e.now-e.lastPub >= e.every {
		e.publish()
	}
	e.arm()
	return n
}

func (e *Engine) onTimer() {
	e.tick.Store(true)
	select {
	case e.r.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) setNow() {
	t := e.clock.Now()
	d := int64(t.Sub(e.epoch))
	if d > e.now { // never step back
		e.now, e.nowT = d, t
	}
}

// arm sets the clock timer for the earliest deadline.
func (e *Engine) arm() {
	want := e.next
	if e.dirty {
		want = min(want, e.lastPub+e.every)
	}
	if want == math.MaxInt64 || want >= e.armed && e.armed > e.now {
		return
	}
	e.armed = want
	e.timer.Reset(time.Duration(max(want-e.now, 0)))
}

func (e *Engine) submit(c *command) error {
	if e.closed.Load() {
		return ErrClosed
	}
	if !e.r.push(c) {
		return ErrBusy
	}
	return nil
}

// WaitRoom is the backpressure of a full ring: a producer whose command returned ErrBusy
// calls it, then submits again. It returns nil once the ring has room (another producer may
// take it first: then the command returns ErrBusy again, and the producer waits again),
// ctx.Err() if ctx ends first, and ErrClosed once Run has returned.
func (e *Engine) WaitRoom(ctx context.Context) error {
	for {
		if e.closed.Load() {
			return ErrClosed
		}
		p := e.room.Load()
		if p == nil {
			ch := make(chan struct{})
			if !e.room.CompareAndSwap(nil, &ch) {
				continue
			}
			p = &ch
		}
		// Checked after the channel is installed: a pop that made room before it is seen
		// here, one after it closes the channel.
		if e.closed.Load() {
			return ErrClosed
		}
		if e.r.room() {
			return nil
		}
		select {
		case <-*p:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// signalRoom wakes the producers waiting in WaitRoom.
func (e *Engine) signalRoom() {
	if p := e.room.Swap(nil); p != nil {
		close(*p)
	}
}

// Enqueue submits a task. It checks synchronously that the ID is set and
// the queue and channel exist; the rest (duplicate ID, requirements) is
// checked on the engine goroutine and reported as EventCommandFailed.
func (e *Engine) Enqueue(t Task) error {
	if t.ID == "" {
		return fmt.Errorf("acd: enqueue: empty task id: %w", ErrUnknownTask)
	}
	m := e.cur.Load()
	qi, ok := m.queueIdx[t.Queue]
	if !ok {
		return fmt.Errorf("acd: enqueue %s: queue %q: %w", t.ID, t.Queue, ErrUnknownQueue)
	}
	if t.Channel >= NumChannels || m.queues[qi].chans&(1<<t.Channel) == 0 {
		return fmt.Errorf("acd: enqueue %s: queue %s: %v: %w", t.ID, t.Queue, t.Channel, ErrChannel)
	}
	return e.submit(&command{kind: cmdEnqueue, id: t.ID, arg: t.Queue, ch: t.Channel, prio: t.Priority, reqs: t.Requirements, attrs: t.Attributes, tag: t.Tag,
		model: m, qi: int32(qi)})
}

// Cancel ends a task that is waiting or reserved: the caller hung up or
// the chat was closed. The task ends abandoned.
func (e *Engine) Cancel(taskID string) error {
	return e.submit(&command{kind: cmdCancel, id: taskID})
}

// Transfer moves a waiting, reserved or accepted task to another queue,
// keeping its place (arrival order). An accepted task frees its agent
// without wrap-up and is not offered back to that agent in the new queue.
func (e *Engine) Transfer(taskID, queue string) error {
	return e.submit(&command{kind: cmdTransfer, id: taskID, arg: queue})
}

// Complete ends an accepted task; the agent enters the queue's wrap-up.
func (e *Engine) Complete(taskID string) error {
	return e.submit(&command{kind: cmdComplete, id: taskID})
}

// CompleteReservation is Complete for the task accepted under r: a caller that kept the
// reservation from EventReservationCreated ends the task without the engine looking its ID
// up. It fails with ErrNoReservation unless r is the accepted reservation of a live task.
func (e *Engine) CompleteReservation(r ReservationID) error {
	return e.submit(&command{kind: cmdComplete, res: r})
}

// EndWrapUp ends the wrap-up that followed the task before its timer.
func (e *Engine) EndWrapUp(taskID string) error {
	return e.submit(&command{kind: cmdEndWrapUp, id: taskID})
}

// Accept accepts a pending reservation.
func (e *Engine) Accept(r ReservationID) error {
	return e.submit(&command{kind: cmdAccept, res: r})
}

// Reject refuses a pending reservation; it counts as a miss for the
// RONA policy and the task goes back to its place.
func (e *Engine) Reject(r ReservationID) error {
	return e.submit(&command{kind: cmdReject, res: r})
}

// AgentLogin logs the agent in as Available.
func (e *Engine) AgentLogin(agentID string) error {
	return e.submit(&command{kind: cmdLogin, id: agentID})
}

// AgentLogout logs the agent out. Its pending reservations are cancelled
// and their tasks go back to their place; accepted tasks and wrap-ups
// stay until completed.
func (e *Engine) AgentLogout(agentID string) error {
	return e.submit(&command{kind: cmdLogout, id: agentID})
}

// SetState sets the agent's presence: Available, NotReady (with reason)
// or Offline (same as AgentLogout). Busy, WrapUp and RONA are set by the
// engine and rejected here.
func (e *Engine) SetState(agentID string, s AgentState, reason string) error {
	switch s {
	case Available, NotReady, Offline:
	default:
		return fmt.Errorf("acd: set state %s: %v is set by the engine: %w", agentID, s, ErrBadValue)
	}
	return e.submit(&command{kind: cmdSetState, id: agentID, state: s, arg: reason})
}

// SetChannels sets the channels the agent takes tasks on (AllChannels until it is called):
// the presence owner signs an agent in for voice while a phone is there and for text while a
// desktop is open. The agent's state is not changed; an agent Available on no channel is
// offered nothing. Offers pending on a channel that leaves the set are withdrawn and their
// tasks go back to their place (invariant 8); accepted tasks and wrap-ups stay until they end.
func (e *Engine) SetChannels(agentID string, s ChannelSet) error {
	return e.submit(&command{kind: cmdChannels, id: agentID, chans: s & AllChannels})
}

// Apply validates cfg (its Skills, Profiles, Queues, Agents and
// Strategies; other fields are ignored) and, if valid, replaces the
// engine's definitions. Tasks already waiting are re-routed under the
// new queue rules, keeping their place; relaxation steps are re-applied
// from the time each task entered its queue. Agents keep their runtime
// state; removed agents are logged out. Tasks of removed queues end
// timed out. Apply returns once the new configuration is submitted; use
// Sync to wait for it to take effect.
func (e *Engine) Apply(cfg Config) error {
	m, err := compile(&cfg)
	if err != nil {
		return err
	}
	return e.submit(&command{kind: cmdApply, model: m})
}

// Sync waits until every command submitted before it has been processed,
// and a snapshot reflecting them is published. It needs Run, and must
// not be called from the Sink. It returns ErrClosed if Run has returned.
func (e *Engine) Sync(ctx context.Context) error {
	done := make(chan struct{})
	c := &command{kind: cmdSync, done: done}
	for {
		err := e.submit(c)
		if err == nil {
			break
		}
		if err != ErrBusy {
			return err
		}
		if err := e.WaitRoom(ctx); err != nil {
			return err
		}
	}
	select {
	case <-done:
		if e.closed.Load() {
			return ErrClosed // Run returned; the barrier may have been dropped
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Snapshot returns the latest published snapshot. It never blocks and
// never returns nil; the snapshot must not be modified.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

func (e *Engine) emit(ev Event) {
	ev.Time = e.nowT
	e.sink.Event(ev)
}

func (e *Engine) fail(c *command, err error) {
	e.log.Debug("command failed", "command", cmdNames[c.kind], "error", err)
	ev := Event{Kind: EventCommandFailed, Command: cmdNames[c.kind], Err: err}
	switch c.kind {
	case cmdLogin, cmdLogout, cmdSetState, cmdChannels:
		ev.Agent = c.id
	case cmdAccept, cmdReject:
		ev.Reservation = c.res
	case cmdComplete:
		ev.Task, ev.Reservation = c.id, c.res
	default:
		ev.Task = c.id
		if c.kind == cmdEnqueue {
			ev.TaskTag = c.tag
		}
	}
	e.emit(ev)
}

func (e *Engine) handle(c *command) {
	e.dirty = true
	switch c.kind {
	case cmdEnqueue:
		e.enqueue(c)
	case cmdCancel:
		e.cancel(c)
	case cmdTransfer:
		e.transfer(c)
	case cmdComplete:
		e.complete(c)
	case cmdEndWrapUp:
		e.endWrapUpCmd(c)
	case cmdAccept:
		e.accept(c)
	case cmdReject:
		e.reject(c)
	case cmdLogin:
		e.setAgentState(c, Available)
	case cmdLogout:
		e.setAgentState(c, Offline)
	case cmdSetState:
		e.setAgentState(c, c.state)
	case cmdChannels:
		e.setAgentChannels(c)
	case cmdApply:
		e.install(c.model)
	case cmdSync:
		e.setNow()
		if e.next <= e.now {
			e.fireTimers()
		}
		e.sweepIfDue() // so that Sync returns with the sweep due by now done
		e.publish()
		close(c.done)
	}
}
