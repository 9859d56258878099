package voice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// Voicemail is a message a waiting caller left to a queue, as the agent who took it sees it.
type Voicemail struct {
	Task      string            `json:"task"`
	Agent     string            `json:"agent"`
	Queue     string            `json:"queue"`
	From      string            `json:"from"`
	DID       string            `json:"did"`
	Recorded  time.Time         `json:"recorded"`
	Length    time.Duration     `json:"length"`
	Vars      map[string]string `json:"vars,omitempty"`
	Recording string            `json:"-"` // the WAV's path, served to the agent holding the task
}

// VoicemailHold is how long an agent holds a message before it is completed for them (the
// desktop's Done button completes it earlier).
const VoicemailHold = 10 * time.Minute

// ErrNotYours is returned for a message the agent does not hold.
var ErrNotYours = errors.New("voice: no such message held by this agent")

// leaveVoicemail records the caller's message to the queue (beep prompt, then at most the
// option's max length, ended by # or hanging up) and queues it as a task of the queue's voice
// channel, which the callbacks follow: the agent it is offered to gets it at once (no ring, no
// RONA) and plays it in the desktop. The WAV and its record (store.Voicemail) are on disk
// before the caller hears goodbye (invariant 9).
func (c *call) leaveVoicemail(ctx context.Context, q ivr.QueueRequest) (string, error) {
	if _, err := c.Play(ctx, ivr.Prompt{Name: "voicemail-beep", Language: q.Language}); err != nil {
		c.log.Info("message to the queue not left", "error", err)
		return "", err
	}
	start := time.Now()
	// The flow's context may end with the caller's BYE before the leg does: the message is
	// bounded by the leg, # and its max length, and kept when the caller hangs up.
	ref, err := c.Record(context.WithoutCancel(ctx), ivr.RecordOptions{MaxLength: q.Voicemail.MaxLength.D(), Language: q.Language})
	if err != nil {
		c.log.Info("message to the queue not recorded", "error", err)
		return "", err
	}
	rec := store.Voicemail{Task: c.id + "#vm", Queue: q.Queue, Priority: q.Priority, Reqs: q.Requirements.Strings(),
		From: c.caller, DID: c.did, Language: q.Language, Vars: maps.Clone(q.Vars), Recorded: start,
		Length: time.Since(start), Recording: ref}
	m := c.a.cb
	m.keepVoicemail(rec)
	if err := m.enqueueVoicemail(rec, q.Requirements); err != nil {
		m.total.WithLabelValues("voicemail_unqueued").Inc()
		c.log.Warn("message not queued: kept for the next start", "task", rec.Task, "error", err)
		return ref, nil
	}
	m.total.WithLabelValues("voicemail").Inc()
	if c.ended(ctx) == nil {
		c.Play(ctx, ivr.Prompt{Name: "goodbye", Language: q.Language})
	}
	return ref, nil
}

// keepVoicemail puts the message on disk: the WAV synced (media closes it, not syncs it), then
// its record, synced. A failure is logged: the message is queued all the same, for this run.
func (m *callbacks) keepVoicemail(rec store.Voicemail) {
	if m.st == nil {
		return
	}
	if err := syncFile(rec.Recording); err != nil {
		m.log.Error("message's recording not synced", "task", rec.Task, "error", err)
	}
	if abs, err := filepath.Abs(rec.Recording); err == nil {
		rec.Recording = abs // a restart in another working directory finds it
	}
	if err := m.st.PutVoicemail(rec); err != nil {
		m.log.Error("message not stored: a restart loses it", "task", rec.Task, "error", err)
	}
}

// syncFile flushes a finished file and its directory entry to disk.
func syncFile(path string) error {
	for _, p := range []string{path, filepath.Dir(path)} {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// enqueueVoicemail queues a message to its queue, at its priority and with its requirements
// (reqs, or rec.Reqs parsed when nil: a message restored after a restart).
func (m *callbacks) enqueueVoicemail(rec store.Voicemail, reqs []acd.Condition) error {
	if reqs == nil {
		for _, r := range rec.Reqs {
			c, err := acd.ParseCondition(r)
			if err != nil {
				m.log.Warn("message requirement dropped", "task", rec.Task, "requirement", r, "error", err)
				continue
			}
			reqs = append(reqs, c)
		}
	}
	vm := &Voicemail{Task: rec.Task, Queue: rec.Queue, From: rec.From, DID: rec.DID, Recorded: rec.Recorded,
		Length: rec.Length, Vars: maps.Clone(rec.Vars), Recording: rec.Recording}
	p := &pendingCallback{acdTask: rec.Task, vm: vm, rec: store.Callback{Task: rec.Task, Queue: rec.Queue}}
	m.mu.Lock()
	m.byACD[rec.Task] = p
	m.mu.Unlock()
	attrs := maps.Clone(rec.Vars)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["caller"], attrs["did"], attrs["voicemail"] = rec.From, rec.DID, "true"
	err := m.a.center.Enqueue(cmdCtx(m.ctx), acd.Task{ID: rec.Task, Queue: rec.Queue, Channel: acd.Voice, Priority: rec.Priority,
		Requirements: reqs, Attributes: attrs}, m.inbox)
	if err != nil {
		m.mu.Lock()
		delete(m.byACD, rec.Task)
		m.mu.Unlock()
		return err
	}
	return nil
}

// restoreVoicemail queues a message a previous run kept and no agent completed.
func (m *callbacks) restoreVoicemail(rec store.Voicemail) {
	if _, err := os.Stat(rec.Recording); err != nil {
		// Who called and when is still worth an agent's time: the player says it is gone.
		m.log.Warn("message restored without its recording", "task", rec.Task, "error", err)
	}
	if err := m.enqueueVoicemail(rec, nil); err != nil {
		m.total.WithLabelValues("voicemail_unqueued").Inc()
		m.log.Error("message not queued again: kept for the next start", "task", rec.Task, "queue", rec.Queue, "error", err)
		return
	}
	m.total.WithLabelValues("voicemail_restored").Inc()
	m.log.Info("message restored", "task", rec.Task, "queue", rec.Queue)
}

// voicemailAccepted hands the message to its agent, and completes it after VoicemailHold
// if the agent did not (mu held).
func (m *callbacks) voicemailAccepted(p *pendingCallback, agent string) {
	vm := *p.vm
	vm.Agent = agent
	p.vm.Agent = agent
	if f := m.voicemail; f != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			f(vm)
		}()
	}
	m.log.Info("message to the queue taken", "task", vm.Task, "agent", agent)
	task := vm.Task
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTimer(m.hold)
		defer t.Stop()
		select {
		case <-t.C:
			m.VoicemailDone(agent, task)
		case <-m.ctx.Done():
		}
	}()
}

// Voicemail returns the message task an agent holds (for the desktop's player).
func (m *callbacks) held(agent, task string) (Voicemail, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.byACD[task]
	if p == nil || p.vm == nil || p.vm.Agent != agent || p.done {
		return Voicemail{}, false
	}
	return *p.vm, true
}

// VoicemailDone completes the message the agent held (their wrap-up starts).
func (m *callbacks) VoicemailDone(agent, task string) error {
	m.mu.Lock()
	p := m.byACD[task]
	ok := p != nil && p.vm != nil && p.vm.Agent == agent && !p.done
	if ok {
		p.done = true
	}
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotYours, task)
	}
	if err := m.a.center.Complete(cmdCtx(context.Background()), task); err != nil {
		return err
	}
	// Completed: the stored message goes (a crash before this line queues it once more).
	if m.st != nil {
		if err := m.st.DeleteVoicemail(task); err != nil {
			m.log.Error("message not deleted", "task", task, "error", err)
		}
	}
	return nil
}

// Voicemail returns the message task an agent holds, with its recording's path, for the
// desktop's player; false when the agent does not hold it.
func (a *App) Voicemail(agent, task string) (Voicemail, bool) { return a.cb.held(agent, task) }

// VoicemailDone completes the message task the agent holds (the desktop's Done).
func (a *App) VoicemailDone(agent, task string) error { return a.cb.VoicemailDone(agent, task) }
