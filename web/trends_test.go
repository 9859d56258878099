package web

import (
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
)

// TestTrendSeries: samples of cumulative counters become, per point, the waiting count and the
// service level / average answer over the window before it; nil where nothing ended its wait
// in the window or the counters went back (engine restart); an hour is kept.
func TestTrendSeries(t *testing.T) {
	cfg := &config.Config{Queues: []config.Queue{{Name: "sales", ServiceLevel: config.Duration(20 * time.Second)}}}
	t0 := time.Unix(1_800_000_000, 0)
	type step struct {
		at                                 time.Duration
		waiting                            int
		answered, inSL, abandoned, timeout int64
		asa                                time.Duration // cumulative mean
		wantSL, wantASA                    float64       // -1: nil
	}
	steps := []step{
		{0, 0, 0, 0, 0, 0, 0, -1, -1},                                // first point: no window yet
		{15 * time.Second, 2, 0, 0, 0, 0, 0, -1, -1},                 // nothing ended
		{30 * time.Second, 1, 2, 2, 0, 0, 10 * time.Second, 1, 10},   // two answered in 10 s
		{45 * time.Second, 0, 3, 2, 1, 0, 20 * time.Second, 0.5, 20}, // window from t0: 2 in SL of 4 ended; mean 60 s / 3
		{6 * time.Minute, 0, 3, 2, 1, 0, 20 * time.Second, -1, -1},   // window past them: nothing ended
		{7 * time.Minute, 0, 1, 0, 0, 0, 40 * time.Second, -1, -1},   // counters went back
	}
	var tr trends
	for _, s := range steps {
		tr.add(t0.Add(s.at), []acd.QueueStats{{Name: "sales", Waiting: s.waiting, Answered: s.answered, AnsweredInSL: s.inSL,
			Abandoned: s.abandoned, TimedOut: s.timeout, AvgSpeedOfAnswer: s.asa}}, cfg)
	}
	got := tr.series([]string{"sales", "gone"})
	if len(got) != 2 || got[0].ServiceLevel != 20 || len(got[0].Points) != len(steps) || len(got[1].Points) != 0 {
		t.Fatalf("series %+v", got)
	}
	for i, s := range steps {
		p := got[0].Points[i]
		if p.T != t0.Add(s.at).UnixMilli() || p.Waiting != s.waiting {
			t.Errorf("point %d: %+v", i, p)
		}
		check := func(what string, v *float64, want float64) {
			switch {
			case want < 0 && v != nil:
				t.Errorf("point %d: %s = %v, want none", i, what, *v)
			case want >= 0 && (v == nil || *v < want-1e-9 || *v > want+1e-9):
				t.Errorf("point %d: %s = %v, want %v", i, what, v, want)
			}
		}
		check("service level", p.SL, s.wantSL)
		check("average answer", p.ASA, s.wantASA)
	}
	for i := 0; i < trendKeep+10; i++ {
		tr.add(t0.Add(time.Duration(i)*trendStep), nil, cfg)
	}
	if n := len(tr.samples); n != trendKeep {
		t.Fatalf("%d samples kept, want %d (an hour)", n, trendKeep)
	}
}
