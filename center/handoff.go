package center

import "fmt"

// Rehome sends the events of a live task to another inbox from now on: a caller who accepted
// a callback hangs up and the task, still waiting at its place, is followed by whoever calls
// back. Events already delivered stay in the old inbox (the caller of Rehome moves them).
func (c *Center) Rehome(task string, to *Inbox) error {
	if to == nil {
		return fmt.Errorf("center: rehome %s: %w", task, ErrNoInbox)
	}
	c.routesMu.Lock()
	defer c.routesMu.Unlock()
	if _, ok := c.routes[task]; !ok {
		return fmt.Errorf("center: rehome %s: %w", task, ErrUnknownTask)
	}
	c.routes[task] = to
	return nil
}
