package acd_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/acd/acdtest"
)

// FuzzCommands interprets the input as a command stream (two bytes per
// command: kind, argument), runs it on the engine's goroutine-free step
// loop with a manual clock, and checks doc.go invariants 1–8 after
// every command; then drains and checks every task ended exactly once.
func FuzzCommands(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 9, 0, 1, 0, 4, 0})
	f.Add([]byte{0, 3, 0, 7, 9, 2, 9, 3, 2, 0, 12, 40, 1, 0, 3, 0, 12, 200})
	f.Add([]byte{9, 0, 9, 1, 9, 2, 0, 0, 0, 1, 0, 2, 0, 3, 0, 4, 2, 0, 2, 0, 12, 90, 2, 0, 1, 0, 11, 1, 12, 255})
	f.Add([]byte{0, 5, 6, 1, 0, 6, 7, 2, 11, 0, 9, 4, 1, 0, 5, 0, 10, 4, 12, 30, 8, 3})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: THE QUICK BROWN FOX"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 2000 {
			return
		}
		clk := acdtest.NewClock(t0)
		tr := newTracker()
		cfg := propertyConfig(rand.New(rand.NewPCG(1, 0)), 0)
		cfg.Clock, cfg.Sink, cfg.RingSize = clk, tr, 1024
		e, err := acd.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		verify := acd.Verify(e)
		queues := []string{"sales", "support", "general", "text", "nope"}
		reqs := [][]acd.Condition{nil, acd.MustParseConditions("vip"), acd.MustParseConditions("language == de"),
			acd.MustParseConditions("sales >= 8"), acd.MustParseConditions("!vip", "sales <= 5"), acd.MustParseConditions("team == x")}
		var tasks []string
		var res []acd.ReservationID
		step := func() {
			acd.Drain(e)
			if err := verify(); err != nil {
				t.Fatal(err)
			}
			tr.mu.Lock()
			res = res[:0]
			for r := range tr.pending {
				res = append(res, r)
			}
			errs := tr.errs
			tr.mu.Unlock()
			if len(errs) > 0 {
				t.Fatal(errs[0])
			}
		}
		nth := func(b byte) string {
			if len(tasks) == 0 {
				return "none"
			}
			return tasks[int(b)%len(tasks)]
		}
		for i := 0; i+1 < len(data); i += 2 {
			op, arg := data[i]%13, data[i+1]
			agent := fmt.Sprintf("a%d", arg%11) // a10 does not exist
			switch op {
			case 0, 1:
				q := queues[int(arg)%len(queues)]
				ch := acd.Channel(arg>>3) % acd.NumChannels
				id := fmt.Sprintf("t%d", len(tasks))
				tasks = append(tasks, id)
				_ = e.Enqueue(acd.Task{ID: id, Queue: q, Channel: ch, Priority: int(arg>>5) - 3, Requirements: reqs[int(arg>>2)%len(reqs)]})
			case 2:
				if len(res) > 0 {
					_ = e.Accept(res[int(arg)%len(res)])
				} else {
					_ = e.Accept(acd.ReservationID(arg))
				}
			case 3:
				if len(res) > 0 {
					_ = e.Reject(res[int(arg)%len(res)])
				}
			case 4:
				if arg&1 == 1 && len(res) > 0 {
					_ = e.CompleteReservation(res[int(arg>>1)%len(res)])
				} else {
					_ = e.Complete(nth(arg))
				}
			case 5:
				_ = e.EndWrapUp(nth(arg))
			case 6:
				_ = e.Cancel(nth(arg))
			case 7:
				_ = e.Transfer(nth(arg), queues[int(arg>>4)%len(queues)])
			case 8:
				_ = e.SetState(agent, acd.NotReady, "x")
			case 9:
				_ = e.AgentLogin(agent)
			case 10:
				_ = e.AgentLogout(agent)
			case 11:
				_ = e.Apply(propertyConfig(nil, int(arg)))
			case 12:
				clk.Advance(time.Duration(arg) * 500 * time.Millisecond)
			}
			step()
		}
		// Drain: every task must end.
		for round := 0; ; round++ {
			for i := range 10 {
				_ = e.AgentLogin(fmt.Sprintf("a%d", i))
			}
			step()
			for _, r := range res {
				_ = e.Accept(r)
			}
			step()
			tr.mu.Lock()
			live := 0
			for id := range tr.queued {
				if tr.terminal[id] == 0 {
					live++
				}
			}
			var work []string
			for id := range tr.accepted {
				work = append(work, id)
			}
			for id := range tr.wrapping {
				work = append(work, id)
			}
			tr.mu.Unlock()
			if live == 0 && len(work) == 0 {
				break
			}
			if round > 60 {
				t.Fatalf("%d tasks never ended", live)
			}
			for _, id := range work {
				_ = e.Complete(id)
				_ = e.EndWrapUp(id)
			}
			step()
			clk.Advance(30 * time.Second)
			step()
		}
		for id := range tr.queued {
			if n := tr.terminal[id]; n != 1 {
				t.Fatalf("inv2: task %s ended %d times", id, n)
			}
		}
	})
}
