package center

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

// FlowRecord is the voice path's account of a call it ran a flow on, for the call's record.
// The voice path hands it over once the call is over: both legs ended and every agent it
// dialled answered or gave up, so that their SIP records came before.
type FlowRecord struct {
	// Call is the SIP call's ID (the caller's leg: the record's ID).
	Call string
	// Flow is the flow's name; Outcome how it ended (ivr.Outcome's names: answered, hangup,
	// transferred, unavailable, abandoned, failed).
	Flow    string
	Outcome string
	// Vars are what the flow learned (language, choices).
	Vars map[string]string
	// Tasks are the ACD tasks the call waited in, in order.
	Tasks []string
	// Recording is the voicemail the caller left, if any.
	Recording string
	// The voice path owns a flow call's media: CallerMedia are the caller leg's figures,
	// AgentMedia those of the leg it bridged the caller to, AgentCall that leg's SIP call (one
	// of the legs dialled for the call).
	CallerMedia, AgentMedia LegMedia
	AgentCall               string
	// Monitoring is what supervisors did on the call (listen, whisper, barge), in order.
	Monitoring []store.MonitorRecord
}

// LegMedia are one leg's RTP figures, as its record keeps them.
type LegMedia struct {
	Packets, Lost uint64  // received from the peer; sent by it and never arrived
	JitterMs      float64 // the peer's interarrival jitter
}

func (m LegMedia) put(l *store.LegRecord) {
	l.Packets, l.Lost, l.Jitter = m.Packets, m.Lost, m.JitterMs
}

// CallEnded takes the SIP side's record of one SIP call, with its legs' media figures. A leg
// ccswitch dialled for another call (Parent set) is folded into that call's record.
func (c *Center) CallEnded(rec store.CallRecord) { c.records.callEnded(rec) }

// FlowEnded takes the voice path's account of a flow call.
func (c *Center) FlowEnded(f FlowRecord) { c.records.flowEnded(f) }

// taskFacts are what the engine's events tell of one voice task.
type taskFacts struct {
	queue, agent                string
	wait                        time.Duration // waited until answered or ended
	accepted, completed, wrapEd time.Time
	outcome                     string // answered, abandoned, timed-out
	ended                       bool   // wrap-up ended, or ended without one
	at                          time.Time
}

// pending is a call record waiting for its parts (invariant 5).
type pending struct {
	rec      store.CallRecord
	haveSIP  bool
	flow     *FlowRecord
	children []store.CallRecord
	since    time.Time
}

// ledger joins the parts of call records and writes each once.
type ledger struct {
	log     *slog.Logger
	st      *store.Store
	clock   acd.Clock
	timeout time.Duration
	m       *recordMetrics

	mu      sync.Mutex // guards everything below (a leaf)
	pend    map[string]*pending
	tasks   map[string]*taskFacts
	claimed map[string]string // task → call whose record waits for it
	export  string
	out     *os.File
	closed  bool
}

func newLedger(cfg *config.Config, o Options, clock acd.Clock, log *slog.Logger) (*ledger, error) {
	l := &ledger{log: log, st: o.Store, clock: clock, timeout: cmp.Or(o.RecordTimeout, time.Hour),
		m: newRecordMetrics(o.Registerer), pend: map[string]*pending{}, tasks: map[string]*taskFacts{},
		claimed: map[string]string{}}
	if err := l.open(cfg); err != nil {
		return nil, err
	}
	return l, nil
}

// open (re)opens the export file named by cfg.
func (l *ledger) open(cfg *config.Config) error {
	path := cfg.Resolve("call_records.export", cfg.CallRecords.Export)
	l.mu.Lock()
	defer l.mu.Unlock()
	if path == l.export {
		return nil
	}
	var f *os.File
	if path != "" {
		var err error
		if f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640); err != nil {
			return fmt.Errorf("center: call_records.export: %w", err)
		}
	}
	if l.out != nil {
		l.out.Close()
	}
	l.export, l.out = path, f
	return nil
}

func (l *ledger) reload(cfg *config.Config) {
	if err := l.open(cfg); err != nil {
		l.log.Error("call record export not reopened; keeping the previous one", "error", err)
	}
}

// run sweeps records that waited too long until ctx ends, then writes every record still
// waiting as it is.
func (l *ledger) run(ctx context.Context) error {
	tick := make(chan struct{}, 1)
	every := max(l.timeout/4, time.Second)
	var t acd.Timer
	arm := func() {
		t = l.clock.AfterFunc(every, func() {
			select {
			case tick <- struct{}{}:
			default:
			}
		})
	}
	arm()
	for {
		select {
		case <-ctx.Done():
			t.Stop()
			l.mu.Lock()
			l.closed = true
			var due []string
			for id := range l.pend {
				due = append(due, id)
			}
			for _, id := range due {
				l.flushLocked(id)
			}
			if l.out != nil {
				l.out.Close()
				l.out = nil
			}
			l.mu.Unlock()
			return nil
		case <-tick:
			l.sweep()
			arm()
		}
	}
}

// sweep writes the records that waited longer than the timeout for their parts, and forgets
// the facts of tasks no record claimed.
func (l *ledger) sweep() {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, p := range l.pend {
		if now.Sub(p.since) > l.timeout {
			l.log.Warn("call record written without all its parts", "call_id", id, "sip", p.haveSIP, "flow", p.flow != nil)
			l.flushLocked(id)
		}
	}
	for id, f := range l.tasks {
		if _, ok := l.claimed[id]; !ok && f.ended && now.Sub(f.at) > l.timeout {
			delete(l.tasks, id)
		}
	}
}

func (l *ledger) pendingLocked(id string) *pending {
	p := l.pend[id]
	if p == nil {
		p = &pending{since: l.clock.Now()}
		l.pend[id] = p
	}
	return p
}

func (l *ledger) callEnded(rec store.CallRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rec.Parent != "" && (!l.closed || l.pend[rec.Parent] != nil) {
		p := l.pendingLocked(rec.Parent)
		p.children = append(p.children, rec)
		l.checkLocked(rec.Parent)
		return
	}
	p := l.pendingLocked(rec.ID)
	p.rec, p.haveSIP = rec, true
	l.checkLocked(rec.ID)
}

func (l *ledger) flowEnded(f FlowRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pendingLocked(f.Call)
	p.flow = &f
	for _, t := range f.Tasks {
		l.claimed[t] = f.Call
	}
	l.checkLocked(f.Call)
}

// watch starts collecting the facts of a voice task (before it is submitted).
func (l *ledger) watch(task string) {
	l.mu.Lock()
	l.tasks[task] = &taskFacts{at: l.clock.Now()}
	l.mu.Unlock()
}

// unwatch forgets a task whose enqueue failed.
func (l *ledger) unwatch(task string) {
	l.mu.Lock()
	delete(l.tasks, task)
	l.mu.Unlock()
}

// taskEvent takes an engine event (dispatch, on the engine goroutine).
func (l *ledger) taskEvent(ev acd.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.tasks[ev.Task]
	if f == nil {
		return
	}
	f.at = ev.Time
	switch ev.Kind {
	case acd.EventTaskQueued:
		f.queue = ev.Queue
	case acd.EventTaskTransferred, acd.EventTaskOverflowed:
		f.queue = ev.Target
	case acd.EventReservationAccepted:
		f.agent, f.accepted, f.wait, f.outcome = ev.Agent, ev.Time, ev.Wait, "answered"
	case acd.EventTaskCompleted:
		f.completed = ev.Time
	case acd.EventWrapUpEnded:
		f.wrapEd, f.ended = ev.Time, true
	case acd.EventTaskAbandoned:
		f.wait, f.outcome, f.ended = ev.Wait, "abandoned", true
	case acd.EventTaskTimedOut:
		f.wait, f.outcome, f.ended = ev.Wait, "timed-out", true
	case acd.EventCommandFailed:
		if ev.Command == "enqueue" {
			f.ended = true
		}
	}
	if f.ended {
		if call, ok := l.claimed[ev.Task]; ok {
			l.checkLocked(call)
		}
	}
}

// checkLocked writes the record of call id if every part named for it is in (invariant 5).
func (l *ledger) checkLocked(id string) {
	p := l.pend[id]
	if p == nil {
		return
	}
	if !l.closed {
		if !p.haveSIP || p.rec.Flow != "" && p.flow == nil {
			return
		}
		if p.flow != nil {
			for _, t := range p.flow.Tasks {
				if f := l.tasks[t]; f != nil && !f.ended {
					return
				}
			}
		}
	}
	l.flushLocked(id)
}

// flushLocked composes the record of call id from the parts it has, and writes it.
func (l *ledger) flushLocked(id string) {
	p := l.pend[id]
	delete(l.pend, id)
	rec := p.rec
	if !p.haveSIP {
		rec.ID = id
		if len(p.children) > 0 {
			rec.Start = p.children[0].Start
		}
	}
	for _, ch := range p.children {
		if f := p.flow; f != nil && ch.ID == f.AgentCall {
			for i := range ch.Legs {
				f.AgentMedia.put(&ch.Legs[i])
			}
		}
		rec.Legs = append(rec.Legs, ch.Legs...)
	}
	if f := p.flow; f != nil {
		for i := range rec.Legs {
			if rec.Legs[i].Role == "a" {
				f.CallerMedia.put(&rec.Legs[i])
			}
		}
	}
	slices.SortStableFunc(rec.Legs, func(a, b store.LegRecord) int { return a.Start.Compare(b.Start) })
	switch {
	case rec.Code == 200:
		rec.Disposition = "answered"
	default:
		rec.Disposition = rec.Cause
	}
	if f := p.flow; f != nil {
		rec.Flow = cmp.Or(rec.Flow, f.Flow)
		rec.Disposition = cmp.Or(f.Outcome, rec.Disposition)
		if len(f.Vars) > 0 {
			if rec.Vars == nil {
				rec.Vars = map[string]string{}
			}
			maps.Copy(rec.Vars, f.Vars)
		}
		rec.Recording = cmp.Or(f.Recording, rec.Recording)
		rec.Monitoring = append(rec.Monitoring, f.Monitoring...)
		var wait time.Duration
		for _, t := range f.Tasks {
			tf := l.tasks[t]
			delete(l.tasks, t)
			delete(l.claimed, t)
			if tf == nil {
				continue
			}
			rec.Queue = cmp.Or(tf.queue, rec.Queue)
			wait += tf.wait
			if tf.outcome == "answered" {
				rec.Agent, rec.Disposition = tf.agent, "answered"
				if !tf.completed.IsZero() {
					rec.TalkMs = tf.completed.Sub(tf.accepted).Milliseconds()
				}
				if !tf.wrapEd.IsZero() {
					rec.WrapUpMs = tf.wrapEd.Sub(tf.completed).Milliseconds()
				}
			} else if tf.outcome != "" && rec.Agent == "" {
				rec.Disposition = tf.outcome
			}
		}
		rec.WaitMs = wait.Milliseconds()
	}
	l.m.observeLegs(rec.Legs)
	if l.st != nil {
		if err := l.st.PutCallRecord(rec); err != nil {
			l.log.Error("call record not stored", "call_id", rec.ID, "error", err)
		}
	}
	if l.out != nil {
		b, err := json.Marshal(rec)
		if err == nil {
			_, err = l.out.Write(append(b, '\n'))
		}
		if err != nil {
			l.log.Error("call record not exported", "call_id", rec.ID, "file", l.export, "error", err)
		}
	}
}
