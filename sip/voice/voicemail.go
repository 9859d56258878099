package voice

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// RONA) and plays it in the desktop.
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
	vm := Voicemail{Task: c.id + "#vm", Queue: q.Queue, From: c.caller, DID: c.did, Recorded: start,
		Length: time.Since(start), Vars: maps.Clone(q.Vars), Recording: ref}
	if err := c.a.cb.enqueueVoicemail(vm, q); err != nil {
		c.log.Warn("message not queued", "task", vm.Task, "error", err)
		return ref, nil
	}
	if c.ended(ctx) == nil {
		c.Play(ctx, ivr.Prompt{Name: "goodbye", Language: q.Language})
	}
	return ref, nil
}

func (m *callbacks) enqueueVoicemail(vm Voicemail, q ivr.QueueRequest) error {
	p := &pendingCallback{acdTask: vm.Task, vm: &vm, rec: store.Callback{Task: vm.Task, Queue: vm.Queue}}
	m.mu.Lock()
	m.byACD[vm.Task] = p
	m.mu.Unlock()
	attrs := maps.Clone(q.Vars)
	if attrs == nil {
		attrs = map[string]string{}
	}
	attrs["caller"], attrs["did"], attrs["voicemail"] = vm.From, vm.DID, "true"
	err := m.a.center.Enqueue(cmdCtx(m.ctx), acd.Task{ID: vm.Task, Queue: vm.Queue, Channel: acd.Voice, Priority: q.Priority,
		Requirements: q.Requirements, Attributes: attrs}, m.inbox)
	if err != nil {
		m.mu.Lock()
		delete(m.byACD, vm.Task)
		m.mu.Unlock()
		return err
	}
	m.total.WithLabelValues("voicemail").Inc()
	return nil
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
		t := time.NewTimer(VoicemailHold)
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
	return m.a.center.Complete(cmdCtx(context.Background()), task)
}

// Voicemail returns the message task an agent holds, with its recording's path, for the
// desktop's player; false when the agent does not hold it.
func (a *App) Voicemail(agent, task string) (Voicemail, bool) { return a.cb.held(agent, task) }

// VoicemailDone completes the message task the agent holds (the desktop's Done).
func (a *App) VoicemailDone(agent, task string) error { return a.cb.VoicemailDone(agent, task) }
