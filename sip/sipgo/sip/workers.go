package sip

import "time"

// workerIdle is how long a worker of the transaction layer waits for work before it exits.
const workerIdle = 10 * time.Second

// workerPool runs the transaction layer's handling of each message on a goroutine (ccswitch
// fork). Upstream starts a new goroutine per message: it starts on the smallest stack and
// grows it on every message handled (runtime.newstack and copystack were ~8 % of the B2BUA's
// CPU under load, issue 16). A worker keeps its grown stack for the next message. Handlers
// may block (an INVITE's handler runs the call setup), so run never waits: it hands f to an
// idle worker or starts one more. Idle workers exit after workerIdle.
type workerPool struct {
	tasks chan func() // unbuffered: a send succeeds only when a worker is waiting
}

func newWorkerPool() workerPool { return workerPool{tasks: make(chan func())} }

func (p *workerPool) run(f func()) {
	select {
	case p.tasks <- f: // nil channel (a zero pool): never ready, a goroutine as upstream
	default:
		go p.worker(f)
	}
}

func (p *workerPool) worker(f func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		f()
		f = nil
		t.Reset(workerIdle)
		select {
		case f = <-p.tasks:
		case <-t.C:
			return
		}
	}
}
