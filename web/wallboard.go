package web

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/config"
)

// Monitoring is the voice path's supervisor side as the wallboard uses it: sip/voice's App
// (cmd/ccswitch passes it through an adapter, since web does not import sip).
type Monitoring interface {
	// LiveCalls lists the calls agents are bridged on now.
	LiveCalls() []LiveCall
	// Monitor rings the supervisor's phone and joins them to the agent's call in mode
	// ("listen", "whisper", "barge") once they answer. It checks the role itself: a
	// refusal's error has a Status() int (403 not a supervisor, 404, 409 busy or no call…).
	Monitor(ctx context.Context, supervisor, agent, mode string) error
}

// LiveCall is a call an agent is on, as the wallboard lists it (the fields of voice.LiveCall).
type LiveCall struct {
	CallID     string    `json:"call_id"`
	Agent      string    `json:"agent"`
	Caller     string    `json:"caller"`
	DID        string    `json:"did"`
	Since      time.Time `json:"since"`
	Supervisor string    `json:"supervisor,omitempty"`
	Mode       string    `json:"mode,omitempty"`
}

// Trend sampling: one sample of every queue per trendStep, an hour kept; service level and
// average answer are computed over the trendWindow before each sample (so a quiet minute does
// not blank the chart).
const (
	trendStep   = 15 * time.Second
	trendKeep   = int(time.Hour / trendStep)
	trendWindow = 5 * time.Minute
)

// queueSample is one queue's cumulative counters at one sample.
type queueSample struct {
	waiting                             int
	answered, inSL, abandoned, timedOut int64
	waitSum                             time.Duration // AvgSpeedOfAnswer × Answered
	serviceLevel                        time.Duration // the queue's target, for the chart
	valid                               bool
}

type trendSample struct {
	at     time.Time
	queues map[string]queueSample
}

// trends keeps the last hour of samples (a leaf lock).
type trends struct {
	mu      sync.Mutex
	samples []trendSample // oldest first, at most trendKeep
}

// add takes a sample of every queue at time at.
func (t *trends) add(at time.Time, qs []acd.QueueStats, cfg *config.Config) {
	targets := map[string]time.Duration{}
	if cfg != nil {
		for _, q := range cfg.Queues {
			targets[q.Name] = q.ServiceLevel.D()
		}
	}
	s := trendSample{at: at, queues: make(map[string]queueSample, len(qs))}
	for _, q := range qs {
		s.queues[q.Name] = queueSample{waiting: q.Waiting, answered: q.Answered, inSL: q.AnsweredInSL, abandoned: q.Abandoned,
			timedOut: q.TimedOut, waitSum: q.AvgSpeedOfAnswer * time.Duration(q.Answered), serviceLevel: targets[q.Name], valid: true}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.samples) == trendKeep {
		copy(t.samples, t.samples[1:])
		t.samples = t.samples[:trendKeep-1]
	}
	t.samples = append(t.samples, s)
}

// TrendPoint is one point of a queue's chart: the contacts waiting at T, and over the
// trendWindow before T the service level (share answered within target) and the average
// answer time, nil when no contact ended its wait in that window.
type TrendPoint struct {
	T       int64    `json:"t"` // Unix ms
	Waiting int      `json:"waiting"`
	SL      *float64 `json:"sl"`
	ASA     *float64 `json:"asa_s"`
}

// QueueTrend is one queue's chart.
type QueueTrend struct {
	Name         string       `json:"name"`
	ServiceLevel float64      `json:"service_level_s"` // the answer-time target
	Points       []TrendPoint `json:"points"`
}

// series computes every queue's chart from the samples (queues in the order of the last
// sample's config, then by name).
func (t *trends) series(order []string) []QueueTrend {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]QueueTrend, 0, len(order))
	for _, name := range order {
		qt := QueueTrend{Name: name, Points: []TrendPoint{}}
		base := 0 // the first sample inside the window of sample i
		for i, s := range t.samples {
			q, ok := s.queues[name]
			if !ok {
				continue
			}
			qt.ServiceLevel = q.serviceLevel.Seconds()
			for base < i && s.at.Sub(t.samples[base].at) > trendWindow {
				base++
			}
			p := TrendPoint{T: s.at.UnixMilli(), Waiting: q.waiting}
			if b, ok := t.samples[base].queues[name]; ok && base < i {
				p.SL, p.ASA = windowed(b, q)
			}
			qt.Points = append(qt.Points, p)
		}
		out = append(out, qt)
	}
	return out
}

// windowed is the service level and average answer between two samples of a queue; nil
// when nothing ended its wait between them or the counters went back (the engine restarted).
func windowed(from, to queueSample) (sl, asa *float64) {
	ended := (to.answered - from.answered) + (to.abandoned - from.abandoned) + (to.timedOut - from.timedOut)
	answered := to.answered - from.answered
	if ended <= 0 || answered < 0 || to.inSL < from.inSL {
		return nil, nil
	}
	v := float64(to.inSL-from.inSL) / float64(ended)
	sl = &v
	if answered > 0 {
		a := (to.waitSum - from.waitSum).Seconds() / float64(answered)
		if a >= 0 {
			asa = &a
		}
	}
	return sl, asa
}

// sampleTrends samples the center's queues every trendStep until ctx ends.
func (s *Server) sampleTrends(ctx context.Context) {
	take := func() {
		s.trends.add(time.Now(), s.opts.Center.Snapshot().Queues, s.model.Load().cfg)
	}
	take()
	t := time.NewTicker(trendStep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			take()
		}
	}
}

// wallboard serves GET /api/wallboard: the queues' trends over the last hour with the
// thresholds to colour them, and, for supervisors, the live calls.
func (s *Server) wallboard(w http.ResponseWriter, r *http.Request) {
	cfg := s.model.Load().cfg
	var order []string
	for _, q := range cfg.Queues {
		order = append(order, q.Name)
	}
	sup := callerOf(r).supervisor // the role in the configuration in force (auth)
	live := []LiveCall{}
	if sup && s.opts.Monitoring != nil {
		live = append(live, s.opts.Monitoring.LiveCalls()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"time": time.Now().UnixMilli(), "step_s": trendStep.Seconds(), "window_s": trendWindow.Seconds(),
		"service_level_target": cfg.Wallboard.ServiceLevelTarget, "waiting_alert": cfg.Wallboard.WaitingAlert,
		"queues": s.trends.series(order), "supervisor": sup, "live": live,
	})
}

// monitor serves POST /api/monitor {"agent": "1001", "mode": "listen"}: ccswitch rings the
// supervisor's phone into that mode on the agent's live call. The voice side checks the
// role and counts refusals (ccswitch_monitor_refused_total).
func (s *Server) monitor(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Agent string `json:"agent"`
		Mode  string `json:"mode"`
	}
	if !decode(w, r, &req) {
		return
	}
	if s.opts.Monitoring == nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "no voice"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute) // the supervisor's phone rings
	defer cancel()
	err := s.opts.Monitoring.Monitor(ctx, agentOf(r), req.Agent, req.Mode)
	if err == nil {
		writeJSON(w, http.StatusOK, map[string]string{"mode": req.Mode})
		return
	}
	code := http.StatusBadGateway // the phone did not answer
	var st interface{ Status() int }
	if errors.As(err, &st) {
		switch st.Status() {
		case 403:
			code = http.StatusForbidden
		case 404:
			code = http.StatusNotFound
		case 400, 484:
			code = http.StatusBadRequest
		default: // 480 no call, 486 another supervisor on it, no phone
			code = http.StatusConflict
		}
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
