package center

import (
	"maps"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/acd"
)

// detailsKeep is how long a voice task's details outlive its last event: the signed webhooks
// describe events some time after the engine sent them (center/hook queues them).
const detailsKeep = 5 * time.Minute

// detailKeys are the task attributes a call's webhook events carry (set by sip/voice).
var detailKeys = []string{"caller", "did", "language"}

// callDetails keeps what each voice task was queued with — the caller's number, the DID,
// the language — for the signed webhooks (center/hook.Details; conversations are described
// by the channels service). An entry lives from Enqueue until detailsKeep after the task's
// terminal event; expired entries are dropped at the next Enqueue, at most once a minute.
type callDetails struct {
	mu     sync.Mutex
	m      map[string]*callDetail
	purged time.Time
}

type callDetail struct {
	d     map[string]string
	ended time.Time // zero while the task lives
}

func (cd *callDetails) add(t acd.Task, now time.Time) {
	d := make(map[string]string, len(detailKeys))
	for _, k := range detailKeys {
		if v := t.Attributes[k]; v != "" {
			d[k] = v
		}
	}
	cd.mu.Lock()
	defer cd.mu.Unlock()
	if cd.m == nil {
		cd.m = map[string]*callDetail{}
	}
	if now.Sub(cd.purged) >= time.Minute {
		for id, e := range cd.m {
			if !e.ended.IsZero() && now.Sub(e.ended) > detailsKeep {
				delete(cd.m, id)
			}
		}
		cd.purged = now
	}
	cd.m[t.ID] = &callDetail{d: d}
}

// remove forgets a task the engine never took (Enqueue failed).
func (cd *callDetails) remove(task string) {
	cd.mu.Lock()
	delete(cd.m, task)
	cd.mu.Unlock()
}

// event notes a task's end (the engine's goroutine: it never blocks for long).
func (cd *callDetails) event(ev acd.Event) {
	switch ev.Kind {
	case acd.EventWrapUpEnded, acd.EventTaskAbandoned, acd.EventTaskTimedOut:
	default:
		return
	}
	cd.mu.Lock()
	if e := cd.m[ev.Task]; e != nil {
		e.ended = ev.Time
	}
	cd.mu.Unlock()
}

// TaskDetails describes a voice task for the signed event webhooks (center/hook.Details):
// the caller's number, the DID and the language it was queued with; nil for tasks that are
// not calls, or ended more than a few minutes ago.
func (c *Center) TaskDetails(task string) map[string]string {
	c.details.mu.Lock()
	defer c.details.mu.Unlock()
	e := c.details.m[task]
	if e == nil || len(e.d) == 0 {
		return nil
	}
	return maps.Clone(e.d)
}
