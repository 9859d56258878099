package channels

import "sync"

type subscriber struct {
	ch chan AgentEvent
}

// hub fans agent events out to that agent's desktops.
type hub struct {
	mu   sync.Mutex
	subs map[string]map[*subscriber]struct{}
}

func (h *hub) subscribe(agent string) (<-chan AgentEvent, func()) {
	sub := &subscriber{ch: make(chan AgentEvent, 256)}
	h.mu.Lock()
	if h.subs[agent] == nil {
		h.subs[agent] = map[*subscriber]struct{}{}
	}
	h.subs[agent][sub] = struct{}{}
	h.mu.Unlock()
	return sub.ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[agent][sub]; ok {
			delete(h.subs[agent], sub)
			close(sub.ch)
		}
	}
}

// send never blocks: a subscriber whose buffer is full is dropped.
func (h *hub) send(agent string, ev AgentEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[agent] {
		select {
		case sub.ch <- ev:
		default:
			delete(h.subs[agent], sub)
			close(sub.ch)
		}
	}
}
