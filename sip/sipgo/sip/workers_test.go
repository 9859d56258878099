package sip

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkerPool (ccswitch fork): blocking handlers never hold up the others (each gets a
// worker), and once they return, later work reuses the idle workers instead of adding
// goroutines.
func TestWorkerPool(t *testing.T) {
	p := newWorkerPool()
	const blocked = 50
	release := make(chan struct{})
	var started, done sync.WaitGroup
	started.Add(blocked)
	done.Add(blocked)
	for range blocked {
		p.run(func() {
			started.Done()
			<-release
			done.Done()
		})
	}
	waitGroup(t, &started, "every blocking handler started while the others block")
	close(release)
	waitGroup(t, &done, "blocking handlers ended")

	base := runtime.NumGoroutine()
	var ran atomic.Int64
	for range 2000 {
		finished := make(chan struct{})
		p.run(func() { ran.Add(1); close(finished) })
		<-finished
	}
	if ran.Load() != 2000 {
		t.Fatalf("%d of 2000 ran", ran.Load())
	}
	// Sequential work finds an idle worker each time (allow a few that were between tasks).
	if n := runtime.NumGoroutine(); n > base+5 {
		t.Errorf("%d goroutines after 2000 sequential tasks, %d before: workers are not reused", n, base)
	}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out: " + what)
	}
}
