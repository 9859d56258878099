package acd

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHandleTimes(t *testing.T) {
	var h HandleTimes
	if _, ok := h.Mean(); ok {
		t.Fatal("an empty queue has a mean handle time")
	}
	h.Add(time.Minute)
	h.Add(-time.Second) // ignored
	h.Add(3 * time.Minute)
	if _, ok := h.Mean(); ok {
		t.Fatal("2 samples gave a mean (MinHandleSamples is 3)")
	}
	h.Add(2 * time.Minute)
	if m, ok := h.Mean(); !ok || m != 2*time.Minute {
		t.Fatalf("mean %v %v, want 2m", m, ok)
	}
	for range HandleSamples {
		h.Add(10 * time.Second) // the oldest samples drop out
	}
	if m, _ := h.Mean(); m != 10*time.Second {
		t.Fatalf("mean after %d new samples %v, want 10s", HandleSamples, m)
	}
}

func TestExpectedWait(t *testing.T) {
	for _, c := range []struct {
		pos, agents int
		aht         time.Duration
		want        time.Duration
		ok          bool
	}{
		{1, 1, 3 * time.Minute, 3 * time.Minute, true},
		{4, 2, 3 * time.Minute, 6 * time.Minute, true},
		{3, 6, time.Minute, 30 * time.Second, true},
		{1, 0, time.Minute, 0, false}, // nobody working: no honest estimate
		{1, 2, 0, 0, false},           // no handle times yet
		{0, 2, time.Minute, 0, false},
	} {
		got, ok := ExpectedWait(c.pos, c.agents, c.aht)
		if got != c.want || ok != c.ok {
			t.Errorf("ExpectedWait(%d, %d, %v) = %v %v, want %v %v", c.pos, c.agents, c.aht, got, ok, c.want, c.ok)
		}
	}
}

// TestExpectedWaitSimulated runs a simulated queue (Poisson arrivals, N agents, FIFO) and
// compares, for every caller who has to wait, the expected wait announced at entry
// (ExpectedWait with the mean of the last HandleSamples handle times) to the wait it then
// had. It reports the error for each scenario and fails when the estimate is biased by
// more than 15% of the mean wait (or, with abandons, over-estimates by more than 60%).
func TestExpectedWaitSimulated(t *testing.T) {
	for _, sc := range []struct {
		name     string
		agents   int
		load     float64 // utilisation: arrival rate × mean handle / agents
		handle   func(r *rand.Rand) time.Duration
		patience time.Duration // mean patience (exponential); 0: nobody abandons
		maxBias  float64
	}{
		{"exponential 3m, 5 agents, 95% load", 5, 0.95, expo(3 * time.Minute), 0, 0.15},
		{"exponential 3m, 20 agents, 97% load", 20, 0.97, expo(3 * time.Minute), 0, 0.15},
		{"lognormal 3m (cv 1.5), 5 agents, 95% load", 5, 0.95, lognormal(3*time.Minute, 1.5), 0, 0.15},
		{"exponential 3m, 5 agents, 110% load, abandons after 5m", 5, 1.1, expo(3 * time.Minute), 5 * time.Minute, 0.6},
	} {
		t.Run(sc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(15, 2026))
			st := simulate(r, sc.agents, sc.load, sc.handle, sc.patience, 200000)
			if st.n < 1000 {
				t.Fatalf("only %d callers waited with an estimate", st.n)
			}
			bias := st.sumErr / float64(st.n)
			meanWait := st.sumWait / float64(st.n)
			t.Logf("%d waiting callers with an estimate (%d without: too few handle times): mean wait %.0fs, mean estimate %.0fs, bias %+.0fs (%+.1f%%), mean absolute error %.0fs (%.0f%% of the mean wait), median %.0fs, 90th percentile %.0fs; announced in minutes rounded up, right or 1 minute off for %.0f%%",
				st.n, st.none, meanWait, st.sumEst/float64(st.n), bias, 100*bias/meanWait, st.sumAbs/float64(st.n), 100*st.sumAbs/float64(st.n)/meanWait,
				pct(st.abs, 0.5), pct(st.abs, 0.9), 100*float64(st.minuteOK)/float64(st.n))
			if math.Abs(bias) > sc.maxBias*meanWait {
				t.Errorf("bias %+.0fs is more than %.0f%% of the mean wait %.0fs", bias, 100*sc.maxBias, meanWait)
			}
		})
	}
}

type simStats struct {
	n, none                         int
	sumErr, sumAbs, sumWait, sumEst float64
	abs                             []float64
	minuteOK                        int
}

func pct(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(p*float64(len(s)-1))]
}

func expo(mean time.Duration) func(r *rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(mean)) }
}

// lognormal has the given mean and coefficient of variation.
func lognormal(mean time.Duration, cv float64) func(r *rand.Rand) time.Duration {
	s2 := math.Log(1 + cv*cv)
	mu := math.Log(float64(mean)) - s2/2
	return func(r *rand.Rand) time.Duration { return time.Duration(math.Exp(mu + math.Sqrt(s2)*r.NormFloat64())) }
}

type simEvent struct {
	at   float64 // seconds
	kind int     // 0 arrival, 1 agent free, 2 abandon
	id   int
}

type simHeap []simEvent

func (h simHeap) Len() int           { return len(h) }
func (h simHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h simHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *simHeap) Push(x any)        { *h = append(*h, x.(simEvent)) }
func (h *simHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// simulate runs callers through a FIFO queue served by agents: the queue the engine keeps
// for one class. The estimate is taken at entry with the position among the waiting.
func simulate(r *rand.Rand, agents int, load float64, handle func(*rand.Rand) time.Duration, patience time.Duration, callers int) simStats {
	meanHandle := 0.0
	{
		rr := rand.New(rand.NewPCG(1, 1))
		for range 100000 {
			meanHandle += handle(rr).Seconds()
		}
		meanHandle /= 100000
	}
	rate := load * float64(agents) / meanHandle
	var (
		ev      simHeap
		free    = agents
		queue   []int // waiting caller ids, FIFO
		arrive  = map[int]float64{}
		est     = map[int]float64{}
		gone    = map[int]bool{}
		started = map[int]float64{} // caller → when its handling started
		ht      HandleTimes
		st      simStats
	)
	heap.Push(&ev, simEvent{at: r.ExpFloat64() / rate, kind: 0, id: 0})
	serve := func(now float64, id int) {
		free--
		started[id] = now
		heap.Push(&ev, simEvent{at: now + handle(r).Seconds(), kind: 1, id: id})
		if a, ok := est[id]; ok {
			wait := now - arrive[id]
			e := a - wait
			st.n++
			st.sumErr += e
			st.sumAbs += math.Abs(e)
			st.sumWait += wait
			st.sumEst += a
			st.abs = append(st.abs, math.Abs(e))
			said := math.Ceil(a / 60)
			if math.Abs(said-wait/60) <= 1 {
				st.minuteOK++
			}
		}
	}
	for ev.Len() > 0 {
		e := heap.Pop(&ev).(simEvent)
		switch e.kind {
		case 0:
			if e.id+1 < callers {
				heap.Push(&ev, simEvent{at: e.at + r.ExpFloat64()/rate, kind: 0, id: e.id + 1})
			}
			arrive[e.id] = e.at
			if free > 0 && len(queue) == 0 {
				serve(e.at, e.id)
				continue
			}
			queue = append(queue, e.id)
			aht, ok := ht.Mean()
			if w, ok2 := ExpectedWait(len(queue), agents, aht); ok && ok2 {
				est[e.id] = w.Seconds()
			} else {
				st.none++
			}
			if patience > 0 {
				heap.Push(&ev, simEvent{at: e.at + r.ExpFloat64()*patience.Seconds(), kind: 2, id: e.id})
			}
		case 1:
			free++
			ht.Add(time.Duration((e.at - started[e.id]) * float64(time.Second)))
			delete(started, e.id)
			for free > 0 && len(queue) > 0 {
				id := queue[0]
				queue = queue[1:]
				if gone[id] {
					continue
				}
				serve(e.at, id)
			}
		case 2:
			if _, served := started[e.id]; served {
				continue
			}
			if i := slices.Index(queue, e.id); i >= 0 {
				queue = slices.Delete(queue, i, i+1)
				gone[e.id] = true
				delete(est, e.id) // an abandoned caller's estimate is not compared
			}
		}
	}
	return st
}
