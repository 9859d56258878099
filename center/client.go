package center

import (
	"context"
	"errors"
	"fmt"

	"github.com/ccswitch/ccswitch/acd"
)

// submit runs f, a command to the engine, until the engine takes it: while the ring is full it
// waits for room (invariant 1). It returns f's error, or ctx's, or acd.ErrClosed.
func (c *Center) submit(ctx context.Context, f func() error) error {
	for {
		err := f()
		if !errors.Is(err, acd.ErrBusy) {
			return err
		}
		if err := c.eng.WaitRoom(ctx); err != nil {
			return err
		}
	}
}

// Enqueue queues a contact: t.ID names it (a call's ID, a conversation's), t.Requirements
// come parsed from the compiled flows. Every event of the task, from now until its wrap-up
// ends (or it ends without one), goes to to (invariant 2). The queue and channel are checked
// here (acd.ErrUnknownQueue, acd.ErrChannel); what the engine refuses later comes to the
// inbox as EventCommandFailed with Command "enqueue".
func (c *Center) Enqueue(ctx context.Context, t acd.Task, to *Inbox) error {
	if to == nil {
		return fmt.Errorf("center: enqueue %s: %w", t.ID, ErrNoInbox)
	}
	c.routesMu.Lock()
	if _, dup := c.routes[t.ID]; dup {
		c.routesMu.Unlock()
		return fmt.Errorf("center: enqueue %s: %w", t.ID, ErrDuplicateTask)
	}
	c.routes[t.ID] = to
	c.routesMu.Unlock()
	if t.Channel == acd.Voice {
		c.records.watch(t.ID)
		c.details.add(t, c.clock.Now())
	}
	if err := c.submit(ctx, func() error { return c.eng.Enqueue(t) }); err != nil {
		c.routesMu.Lock()
		if c.routes[t.ID] == to {
			delete(c.routes, t.ID)
		}
		c.routesMu.Unlock()
		c.records.unwatch(t.ID)
		c.details.remove(t.ID)
		return fmt.Errorf("center: enqueue %s: %w", t.ID, err)
	}
	return nil
}

// Accept takes the offer r: the agent answered (voice) or accepted it (text). If the offer
// ended first, EventCommandFailed (acd.ErrNoReservation) comes to the task's inbox.
func (c *Center) Accept(ctx context.Context, r acd.ReservationID) error {
	return c.submit(ctx, func() error { return c.eng.Accept(r) })
}

// Reject refuses the offer r: the task goes back to its place for the next agent.
func (c *Center) Reject(ctx context.Context, r acd.ReservationID) error {
	return c.submit(ctx, func() error { return c.eng.Reject(r) })
}

// Cancel ends a task that waits or is offered: the caller hung up, the chat ended.
func (c *Center) Cancel(ctx context.Context, task string) error {
	return c.submit(ctx, func() error { return c.eng.Cancel(task) })
}

// Complete ends an accepted task; its agent's wrap-up starts.
func (c *Center) Complete(ctx context.Context, task string) error {
	return c.submit(ctx, func() error { return c.eng.Complete(task) })
}

// EndWrapUp ends the wrap-up that followed task, before the queue's timer.
func (c *Center) EndWrapUp(ctx context.Context, task string) error {
	return c.submit(ctx, func() error { return c.eng.EndWrapUp(task) })
}

// Transfer moves a task to another queue, keeping its place; an accepted task frees its agent.
func (c *Center) Transfer(ctx context.Context, task, queue string) error {
	return c.submit(ctx, func() error { return c.eng.Transfer(task, queue) })
}
