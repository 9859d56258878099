package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/ivr/calendar"
	"github.com/ccswitch/ccswitch/media"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/store"
)

// Preview is what the agent's desktop shows when a callback is theirs: who will be called,
// from which queue, and when ccswitch dials by itself.
type Preview struct {
	Task     string            `json:"task"`
	Agent    string            `json:"agent"`
	Queue    string            `json:"queue"`
	Number   string            `json:"number"`
	DID      string            `json:"did"`
	Attempt  int               `json:"attempt"`
	Deadline time.Time         `json:"deadline"`
	Vars     map[string]string `json:"vars,omitempty"`
}

// callbacks owns the callbacks callers accepted: their ACD tasks (one inbox for all), their
// records in the store, the preview, the dialling and the retries (invariant 8).
type callbacks struct {
	a         *App
	st        *store.Store // nil: kept in memory only
	log       *slog.Logger
	rl        *ratelog.Logger
	inbox     *center.Inbox
	total     *prometheus.CounterVec
	preview   func(Preview)
	voicemail func(Voicemail)
	hold      time.Duration // a message's VoicemailHold

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // dials and re-enqueues in progress

	mu     sync.Mutex // guards byACD and timers; a leaf
	byACD  map[string]*pendingCallback
	timers map[string]*time.Timer // store task → re-enqueue timer
	capMu  sync.Mutex             // serialises the daily cap's read-modify-write
	textMu sync.Mutex             // serialises text contacts' requests (one pending per conversation)
}

type pendingCallback struct {
	rec     store.Callback
	acdTask string
	agent   string
	res     acd.ReservationID
	dialing bool
	vm      *Voicemail // a message to the queue, not a callback
	done    bool       // the message was completed
	closed  bool       // cancelled because the number closed: waits for its next opening
	preview *Preview   // shown to the agent who took it (Desk)
}

func newCallbacks(a *App, st *store.Store, reg prometheus.Registerer, preview func(Preview), log *slog.Logger) *callbacks {
	ctx, cancel := context.WithCancel(context.Background())
	m := &callbacks{a: a, st: st, log: log.With("component", "voice.callback"), inbox: center.NewInbox(), preview: preview,
		ctx: ctx, cancel: cancel, byACD: map[string]*pendingCallback{}, timers: map[string]*time.Timer{}}
	m.rl = ratelog.New(m.log, time.Minute)
	m.total = metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_callback_total",
		Help: "Callbacks by outcome: accepted (promised to a caller), refused (number not allowed or over its daily cap), made (the customer answered), no_answer (an attempt failed), given_up (no attempt left, or a limit refused the call), restored (after a restart); voicemail (a message to a queue queued), voicemail_restored (queued again after a restart), voicemail_unqueued (a message the queue refused or ended untaken: kept in the store for the next start).",
	}, []string{"outcome"}))
	return m
}

// run restores the callbacks of the store, then follows their tasks until ctx ends; it
// returns after every dial and re-enqueue it started.
func (m *callbacks) run(ctx context.Context) {
	stop := context.AfterFunc(ctx, m.cancel)
	defer stop()
	m.restore()
	for {
		select {
		case <-m.inbox.Ready():
			for _, ev := range m.inbox.Take() {
				m.event(ev)
			}
		case <-m.ctx.Done():
			m.mu.Lock()
			for task, t := range m.timers {
				if t.Stop() { // it will not run: its share of wg is given back here
					m.wg.Done()
				}
				delete(m.timers, task)
			}
			m.mu.Unlock()
			m.wg.Wait()
			return
		}
	}
}

// restore enqueues the callbacks and the messages to queues a previous run promised, oldest
// first (a callback by when its caller entered the queue, a message by when it was recorded),
// with their priority and requirements: their place among themselves is kept.
func (m *callbacks) restore() {
	if m.st == nil {
		return
	}
	recs, err := m.st.Callbacks()
	if err != nil {
		m.log.Error("callbacks not restored", "error", err)
	}
	vms, err := m.st.Voicemails()
	if err != nil {
		m.log.Error("messages to queues not restored", "error", err)
	}
	for len(recs) > 0 || len(vms) > 0 {
		if len(vms) == 0 || (len(recs) > 0 && !vms[0].Recorded.Before(recs[0].Enqueued)) {
			rec := recs[0]
			recs = recs[1:]
			m.total.WithLabelValues("restored").Inc()
			m.log.Info("callback restored", "task", rec.Task, "queue", rec.Queue, "attempts", rec.Attempts)
			m.schedule(rec)
			continue
		}
		m.restoreVoicemail(vms[0])
		vms = vms[1:]
	}
}

// opening is when the number the caller dialled opens next: now (zero) when it is open or
// has no flow entry, else the next change of its calendar to open.
func (m *callbacks) opening(did string, now time.Time) time.Time {
	flows := m.a.center.Flows()
	if flows == nil {
		return time.Time{}
	}
	e, ok := flows.Entry(did)
	if !ok || e.Calendar == nil {
		return time.Time{}
	}
	at := now
	for range 16 {
		if st, _ := e.Calendar.State(at); st == calendar.Open {
			if at.Equal(now) {
				return time.Time{}
			}
			return at
		}
		next, ok := e.Calendar.NextChange(at)
		if !ok {
			return time.Time{} // never opens again: do not hold the callback for ever
		}
		at = next
	}
	return time.Time{}
}

// schedule enqueues rec now, or when its NotBefore comes; a callback whose number is closed
// waits for its next opening.
func (m *callbacks) schedule(rec store.Callback) {
	if open := m.opening(rec.DID, time.Now()); open.After(rec.NotBefore) {
		rec.NotBefore = open
		m.put(rec)
	}
	wait := time.Until(rec.NotBefore)
	if rec.NotBefore.IsZero() || wait <= 0 {
		m.enqueue(rec)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return
	}
	if old := m.timers[rec.Task]; old != nil && old.Stop() {
		m.wg.Done() // replaced before it ran
	}
	m.wg.Add(1)
	var tm *time.Timer
	tm = time.AfterFunc(wait, func() {
		defer m.wg.Done()
		m.mu.Lock()
		if m.timers[rec.Task] == tm {
			delete(m.timers, rec.Task)
		}
		m.mu.Unlock()
		if m.ctx.Err() == nil {
			m.enqueue(rec)
		}
	})
	m.timers[rec.Task] = tm
}

// acdTask names attempt n's ACD task: the call's ID first, then "~2", "~3".
func acdTask(rec store.Callback) string {
	if rec.Attempts == 0 {
		return rec.Task
	}
	return fmt.Sprintf("%s~%d", rec.Task, rec.Attempts+1)
}

func (m *callbacks) attrs(rec store.Callback) map[string]string {
	attrs := maps.Clone(rec.Vars)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["caller"], attrs["did"], attrs["language"], attrs["callback"] = rec.Number, rec.DID, rec.Language, "true"
	return attrs
}

func (m *callbacks) enqueue(rec store.Callback) {
	var reqs []acd.Condition
	for _, r := range rec.Reqs {
		c, err := acd.ParseCondition(r)
		if err != nil {
			m.log.Warn("callback requirement dropped", "task", rec.Task, "requirement", r, "error", err)
			continue
		}
		reqs = append(reqs, c)
	}
	id := acdTask(rec)
	p := &pendingCallback{rec: rec, acdTask: id}
	m.mu.Lock()
	m.byACD[id] = p
	m.mu.Unlock()
	err := m.a.center.Enqueue(cmdCtx(m.ctx), acd.Task{ID: id, Queue: rec.Queue, Channel: acd.Voice, Priority: rec.Priority,
		Requirements: reqs, Attributes: m.attrs(rec)}, m.inbox)
	if err != nil {
		m.mu.Lock()
		delete(m.byACD, id)
		m.mu.Unlock()
		m.giveUp(rec, "enqueue: "+err.Error())
	}
}

// adopt takes over a caller's task, still waiting at its place: its events come here from
// now on (pending are those already delivered to the call).
func (m *callbacks) adopt(rec store.Callback, pending []acd.Event) error {
	p := &pendingCallback{rec: rec, acdTask: rec.Task}
	// Under mu, so that the run loop, which may take the task's next events as soon as it is
	// rehomed, acts on them after the pending ones.
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byACD[rec.Task] = p
	if err := m.a.center.Rehome(rec.Task, m.inbox); err != nil {
		delete(m.byACD, rec.Task)
		return err
	}
	m.total.WithLabelValues("accepted").Inc()
	m.log.Info("callback accepted", "task", rec.Task, "queue", rec.Queue, "source", rec.Source)
	for _, ev := range pending {
		m.eventLocked(ev)
	}
	return nil
}

// event follows a callback task: an offer is accepted at once for the agent (the queue's
// RONA does not apply: the agent previews, then ccswitch dials).
func (m *callbacks) event(ev acd.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.eventLocked(ev)
}

func (m *callbacks) eventLocked(ev acd.Event) {
	p := m.byACD[ev.Task]
	if p == nil {
		return
	}
	switch ev.Kind {
	case acd.EventReservationCreated:
		p.agent, p.res = ev.Agent, ev.Reservation
		if p.vm == nil && !m.opening(p.rec.DID, time.Now()).IsZero() {
			// The number closed while the callback waited: no call now; it leaves the queue
			// (the agent is not charged a miss) and comes back at the next opening.
			p.closed = true
			m.log.Info("callback waits for the number's opening", "task", ev.Task)
			m.command("cancel", ev.Task, func(ctx context.Context) error { return m.a.center.Cancel(ctx, ev.Task) })
			return
		}
		res := ev.Reservation
		if err := m.a.center.Accept(cmdCtx(m.ctx), res); err != nil {
			m.log.Warn("callback accept failed", "task", ev.Task, "agent", ev.Agent, "error", err)
		}
	case acd.EventReservationAccepted:
		if p.vm != nil {
			m.voicemailAccepted(p, ev.Agent)
			return
		}
		if p.dialing {
			return
		}
		p.dialing, p.agent = true, ev.Agent
		rec := p.rec
		deadline := time.Now().Add(rec.Preview)
		pr := Preview{Task: p.acdTask, Agent: ev.Agent, Queue: rec.Queue, Number: rec.Number, DID: rec.DID,
			Attempt: rec.Attempts + 1, Deadline: deadline, Vars: maps.Clone(rec.Vars)}
		p.preview = &pr
		if f := m.preview; f != nil {
			m.wg.Add(1)
			go func() { // the desktop's screen pop reads the store: not under mu
				defer m.wg.Done()
				f(pr)
			}()
		}
		m.log.Info("callback previewed", "task", p.acdTask, "agent", ev.Agent, "preview", rec.Preview)
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			select {
			case <-t.C:
			case <-m.ctx.Done():
				return
			}
			m.dial(p.acdTask, ev.Agent, rec)
		}()
	case acd.EventReservationTimedOut, acd.EventReservationCanceled, acd.EventReservationRejected:
		p.agent, p.res = "", 0
	case acd.EventTaskTimedOut, acd.EventTaskAbandoned:
		delete(m.byACD, ev.Task)
		if p.closed {
			rec := p.rec
			m.wg.Add(1)
			go func() { // not under mu: schedule takes it
				defer m.wg.Done()
				m.schedule(rec)
			}()
			return
		}
		if p.vm == nil {
			m.giveUp(p.rec, "the queue ended it: "+ev.Kind.String())
			return
		}
		// A message is completed only by its agent: one the queue ended (its max wait, the
		// queue removed) stays stored and is queued again at the next start.
		m.total.WithLabelValues("voicemail_unqueued").Inc()
		m.rl.Warn("vmend/"+ev.Task, "message left the queue untaken: kept for the next start", "task", ev.Task, "event", ev.Kind.String())
	case acd.EventCommandFailed:
		if ev.Command == "enqueue" {
			delete(m.byACD, ev.Task)
			if p.vm == nil {
				m.giveUp(p.rec, "enqueue: "+fmt.Sprint(ev.Err))
				return
			}
			m.total.WithLabelValues("voicemail_unqueued").Inc()
			m.rl.Warn("vmend/"+ev.Task, "message not queued: kept for the next start", "task", ev.Task, "error", fmt.Sprint(ev.Err))
		}
	case acd.EventWrapUpEnded:
		delete(m.byACD, ev.Task)
	}
}

// dial makes one attempt: the agent's phone first (the agent took the callback), then the
// customer through the trunk the call came in on, with the DID as caller ID, through the
// outbound decision of a dialled call (sip.Server.DialOut: the agent's outbound right,
// destination rules and daily minutes); the two are bridged when the customer answers.
func (m *callbacks) dial(task, agent string, rec store.Callback) {
	a := m.a
	srv := a.srv.Load()
	ext, ok := a.center.ExtensionOf(agent)
	if srv == nil || !ok || a.media == nil {
		m.rl.Warn("noext/"+agent, "callback: the agent has no extension: back in the queue", "agent", agent, "task", task)
		m.command("transfer", task, func(ctx context.Context) error { return a.center.Transfer(ctx, task, rec.Queue) })
		return
	}
	log := m.log.With("task", task, "agent", agent)
	mc, err := a.media.NewCall(media.CallOptions{ID: "callback-" + rec.DID})
	if err != nil {
		log.Warn("callback: no media: back in the queue", "error", err)
		m.command("transfer", task, func(ctx context.Context) error { return a.center.Transfer(ctx, task, rec.Queue) })
		return
	}
	defer mc.Close()
	mc.SetPeer(media.LegB, a.peerOf(sip.Party{User: ext}))
	offerB, err := mc.OfferTo(media.LegB, media.SendRecv)
	if err != nil {
		log.Warn("callback: no offer for the agent: back in the queue", "error", err)
		m.command("transfer", task, func(ctx context.Context) error { return a.center.Transfer(ctx, task, rec.Queue) })
		return
	}
	agentLeg, err := srv.Dial(m.ctx, sip.DialRequest{Extension: ext, CallerID: rec.Number, SDP: offerB, Parent: rec.Task})
	if err != nil {
		// The agent's phone did not take it: the task goes back to its place for another
		// agent (Transfer to its own queue keeps the place and skips this agent).
		log.Info("callback: agent's phone did not answer: back in the queue", "error", err)
		m.command("transfer", task, func(ctx context.Context) error { return a.center.Transfer(ctx, task, rec.Queue) })
		return
	}
	if _, err := mc.AnswerFrom(media.LegB, agentLeg.SDP()); err != nil {
		hangup(agentLeg)
		log.Warn("callback: agent's answer refused: back in the queue", "error", err)
		m.command("transfer", task, func(ctx context.Context) error { return a.center.Transfer(ctx, task, rec.Queue) })
		return
	}
	rec.Attempts++
	rec.NotBefore = time.Time{}
	m.put(rec)
	if rec.Source == "extension" {
		mc.SetPeer(media.LegA, a.peerOf(sip.Party{User: rec.Number}))
	} else {
		mc.SetPeer(media.LegA, a.peerOf(sip.Party{Trunk: rec.Trunk}))
	}
	offerA, err := mc.OfferTo(media.LegA, media.SendRecv)
	if err != nil {
		hangup(agentLeg)
		m.attemptFailed(task, rec, "media: "+err.Error(), false)
		return
	}
	// The agent hanging up while the customer rings stops the attempt.
	dctx, cancel := context.WithCancel(m.ctx)
	stop := context.AfterFunc(agentCtx(agentLeg), cancel)
	var custLeg *sip.Leg
	if rec.Source == "extension" {
		custLeg, err = srv.Dial(dctx, sip.DialRequest{Extension: rec.Number, CallerID: rec.DID, SDP: offerA, Parent: rec.Task})
	} else {
		custLeg, err = srv.DialOut(dctx, sip.DialOutRequest{As: ext, Number: rec.Number, CallerID: rec.DID, Trunk: rec.Trunk,
			NoEmergency: true, SDP: offerA, Parent: rec.Task})
	}
	stop()
	cancel()
	if err != nil {
		hangup(agentLeg)
		var de *sip.DialError
		refused := errors.As(err, &de) && de.Refused
		m.attemptFailed(task, rec, err.Error(), refused)
		return
	}
	if _, err := mc.AnswerFrom(media.LegA, custLeg.SDP()); err != nil {
		hangup(custLeg)
		hangup(agentLeg)
		m.attemptFailed(task, rec, "customer's answer: "+err.Error(), false)
		return
	}
	if err := srv.Bridge(agentLeg, custLeg); err != nil {
		hangup(custLeg)
		hangup(agentLeg)
		m.attemptFailed(task, rec, "bridge: "+err.Error(), false)
		return
	}
	if a.anc != nil {
		a.anc.Attach(agentLeg.CallID(), mc)
		a.anc.Attach(custLeg.CallID(), mc)
	}
	m.total.WithLabelValues("made").Inc()
	log.Info("callback made", "number", rec.Number, "attempt", rec.Attempts)
	m.del(rec.Task)
	select {
	case <-agentLeg.Done():
	case <-custLeg.Done():
	case <-m.ctx.Done():
		hangup(custLeg)
		hangup(agentLeg)
	}
	<-agentLeg.Done()
	<-custLeg.Done()
	if a.anc != nil {
		a.anc.Release(agentLeg.CallID())
		a.anc.Release(custLeg.CallID())
	}
	m.command("complete", task, func(ctx context.Context) error { return a.center.Complete(ctx, task) })
}

// agentCtx is a context that ends with the leg.
func agentCtx(l *sip.Leg) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-l.Done()
		cancel()
	}()
	return ctx
}

// attemptFailed ends an unanswered attempt: the agent's task is completed and the callback
// tried again after retry_after, up to retries more times, unless a limit refused it.
func (m *callbacks) attemptFailed(task string, rec store.Callback, why string, refused bool) {
	m.command("complete", task, func(ctx context.Context) error { return m.a.center.Complete(ctx, task) })
	rec.LastError = why
	if refused || rec.Attempts > rec.Retries {
		m.giveUp(rec, why)
		return
	}
	m.total.WithLabelValues("no_answer").Inc()
	rec.NotBefore = time.Now().Add(rec.RetryAfter)
	m.log.Info("callback not answered: will retry", "task", rec.Task, "attempt", rec.Attempts, "retry_at", rec.NotBefore, "error", why)
	m.put(rec)
	m.schedule(rec)
}

func (m *callbacks) giveUp(rec store.Callback, why string) {
	m.total.WithLabelValues("given_up").Inc()
	m.rl.Warn("giveup/"+rec.Task, "callback given up", "task", rec.Task, "queue", rec.Queue, "attempts", rec.Attempts, "error", why)
	m.del(rec.Task)
}

func (m *callbacks) put(rec store.Callback) {
	if m.st == nil {
		return
	}
	if err := m.st.PutCallback(rec); err != nil {
		m.log.Error("callback not stored", "task", rec.Task, "error", err)
	}
}

func (m *callbacks) del(task string) {
	if m.st == nil {
		return
	}
	if err := m.st.DeleteCallback(task); err != nil {
		m.log.Error("callback not deleted", "task", task, "error", err)
	}
}

func (m *callbacks) command(what, task string, f func(ctx context.Context) error) {
	if err := f(cmdCtx(context.Background())); err != nil {
		m.log.Warn("ACD command failed", "command", what, "task", task, "error", err)
	}
}

// refuse counts a callback not promised.
func (m *callbacks) refuse(key, why string, args ...any) {
	m.total.WithLabelValues("refused").Inc()
	m.rl.Info("refuse/"+key, "callback refused: "+why, args...)
}

// takeCap counts one callback promised to number today, within callback.daily_cap.
func (m *callbacks) takeCap(number string, max int) bool {
	if m.st == nil {
		return true
	}
	m.capMu.Lock()
	defer m.capMu.Unlock()
	ok, err := m.st.TakeCallbackCap(time.Now().UTC().Format("2006-01-02"), number, max)
	if err != nil {
		m.log.Error("callback cap not read", "error", err)
		return false
	}
	return ok
}

// takeCallback is the caller's acceptance of the callback, during the wait in a queue: the
// number (presented, or keyed and allowed), the daily cap, then the task handed to the
// callbacks at its place, the promise stored, the confirmation played. false: the caller
// keeps waiting on the line (told why when the number cannot be called back).
func (c *call) takeCallback(ctx context.Context, q ivr.QueueRequest, task string) (string, bool) {
	a := c.a
	m := a.cb
	cfg := c.st.cfg
	pol := config.Callback{}
	if cfg != nil {
		pol = cfg.Callback
	}
	number, source := c.caller, "presented"
	if q.Callback.Number == "keyed" {
		first, err := c.Play(ctx, ivr.Prompt{Name: "callback-number", Language: q.Language, BargeIn: true})
		if err != nil {
			return "", false
		}
		keyed := ""
		if first != "#" { // # at once: no number, the presented one
			rest, err := c.Collect(ctx, ivr.CollectOptions{MaxDigits: 16, Terminator: "#", Timeout: 8 * time.Second})
			if err != nil {
				return "", false
			}
			keyed = first + rest
		}
		if keyed != "" {
			number, source = keyed, "keyed"
		}
	}
	trunk := ""
	if srv := a.srv.Load(); srv != nil {
		trunk = srv.CallTrunk(c.id)
	}
	var n string
	var err error
	if source == "presented" && trunk == "" && isExtension(cfg, number) {
		// One of our extensions called the DID: it is called back on the extension (an
		// internal call, no trunk).
		n, source = number, "extension"
	} else {
		n, err = callbackNumber(pol, number, c.did, source == "keyed")
	}
	if err == nil && !m.takeCap(n, pol.DailyCap) {
		err = errCallbackCap
	}
	if err != nil {
		m.refuse(number, err.Error(), "call_id", c.id, "source", source)
		c.Play(ctx, ivr.Prompt{Name: "callback-unavailable", Language: q.Language})
		return "", false
	}
	now := time.Now()
	rec := store.Callback{Task: task, Queue: q.Queue, Priority: q.Priority, Reqs: q.Requirements.Strings(), Number: n,
		Source: source, DID: c.did, Trunk: trunk, Language: q.Language, Vars: maps.Clone(q.Vars), Enqueued: now, Accepted: now,
		Retries: derefInt(q.Callback.Retries, config.DefaultCallbackRetries), RetryAfter: q.Callback.RetryAfter.D(),
		Preview: q.Callback.Preview.D()}
	if rec.Preview <= 0 {
		rec.Preview = config.DefaultCallbackPreview
	}
	if rec.RetryAfter <= 0 {
		rec.RetryAfter = config.DefaultCallbackRetryAfter
	}
	m.put(rec) // synced before the caller is told
	// Events the call received and did not act on yet go with the task.
	var pending []acd.Event
	for _, ev := range c.inbox.Take() {
		if ev.Task == task {
			pending = append(pending, ev)
		}
	}
	if err := m.adopt(rec, pending); err != nil {
		c.log.Warn("callback not taken", "task", task, "error", err)
		m.del(task)
		return "", false
	}
	c.Play(ctx, ivr.Prompt{Name: q.Callback.Confirm, Language: q.Language})
	return n, true
}

func isExtension(cfg *config.Config, s string) bool {
	if cfg == nil {
		return false
	}
	for _, u := range cfg.Users {
		if u.Extension == s {
			return true
		}
	}
	return false
}

func derefInt(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

var (
	errCallbackNumber = errors.New("not a number that can be called back")
	errCallbackDenied = errors.New("number in a denied range (callback.denied)")
	errCallbackKeyed  = errors.New("keyed number outside callback.allowed")
	errCallbackCap    = errors.New("number over callback.daily_cap today")
)

// callbackNumber checks a number to call back and returns it in E.164 form (+digits). A
// presented number "0033..." or "+33..." is taken as is; digits without + are taken as
// international. Denied prefixes (premium ranges by default) apply to every number; a keyed
// number must also match callback.allowed, by default the country code of the DID called.
func callbackNumber(pol config.Callback, number, did string, keyed bool) (string, error) {
	n := strings.TrimSpace(number)
	if strings.HasPrefix(n, "00") {
		n = n[2:]
	}
	n = strings.TrimPrefix(n, "+")
	if len(n) < 7 || len(n) > 15 {
		return "", errCallbackNumber
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return "", errCallbackNumber
		}
	}
	for _, p := range pol.Denied {
		if strings.HasPrefix(n, strings.TrimPrefix(p, "+")) {
			return "", errCallbackDenied
		}
	}
	if keyed {
		allowed := pol.Allowed
		if len(allowed) == 0 {
			if cc := countryCode(strings.TrimPrefix(did, "+")); cc != "" {
				allowed = []string{cc}
			}
		}
		ok := false
		for _, p := range allowed {
			if strings.HasPrefix(n, strings.TrimPrefix(p, "+")) {
				ok = true
			}
		}
		if !ok {
			return "", errCallbackKeyed
		}
	}
	return "+" + n, nil
}

// countryCode is the ITU calling code an international number starts with ("" if none):
// 1 and 7, the assigned two-digit codes, else three digits.
func countryCode(n string) string {
	if n == "" {
		return ""
	}
	if n[0] == '1' || n[0] == '7' {
		return n[:1]
	}
	if len(n) < 3 {
		return ""
	}
	two := map[string]bool{"20": true, "27": true, "30": true, "31": true, "32": true, "33": true, "34": true, "36": true,
		"39": true, "40": true, "41": true, "43": true, "44": true, "45": true, "46": true, "47": true, "48": true, "49": true,
		"51": true, "52": true, "53": true, "54": true, "55": true, "56": true, "57": true, "58": true, "60": true, "61": true,
		"62": true, "63": true, "64": true, "65": true, "66": true, "81": true, "82": true, "84": true, "86": true, "90": true,
		"91": true, "92": true, "93": true, "94": true, "95": true, "98": true}
	if two[n[:2]] {
		return n[:2]
	}
	return n[:3]
}
