package acd

import "sync"

// Hooks for the external tests.

// Check runs the structural invariant checker.
func Check(e *Engine) error { return e.check() }

// Verify makes e check its invariants after every batch and every
// decision by brute force; the first violation is returned by the
// returned func. Must be called before Run.
func Verify(e *Engine) func() error {
	var mu sync.Mutex
	var first error
	note := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && first == nil {
			first = err
		}
	}
	e.onBatch = func() { note(e.check()) }
	e.onDecision = func(t *task, a *agent, agentSide bool) { note(e.oracle(t, a, agentSide)) }
	e.onPublish = func(s *Snapshot) { note(e.checkSnapshot(s)) }
	// Callers Sync first; Sync's channel close orders this read after
	// the engine goroutine's writes.
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
}

// Drain processes everything submitted, without Run, on the caller's
// goroutine.
func Drain(e *Engine) {
	for e.step() > 0 {
	}
}

// Classes returns the number of classes; call it after Sync.
func Classes(e *Engine) int { return len(e.classes) }
