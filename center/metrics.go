package center

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/store"
)

// meters are the center's collectors: the engine's live figures (read from its snapshot at
// each scrape, under the names /metrics always had) and the queue waits (from its events).
type meters struct {
	waits *prometheus.HistogramVec
}

func newMeters(c *Center, reg prometheus.Registerer) *meters {
	m := &meters{waits: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ccswitch_queue_wait_seconds",
		Help:    "How long contacts waited in a queue, by how the wait ended (answered, abandoned, timed-out).",
		Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 300, 600, 1800},
	}, []string{"queue", "outcome"})}
	m.waits = metrics.Register(reg, m.waits)
	metrics.Register(reg, prometheus.Collector(&snapshotCollector{c: c}))
	return m
}

// observe takes an engine event (dispatch, on the engine goroutine).
func (m *meters) observe(ev acd.Event) {
	var outcome string
	switch ev.Kind {
	case acd.EventReservationAccepted:
		outcome = "answered"
	case acd.EventTaskAbandoned:
		outcome = "abandoned"
	case acd.EventTaskTimedOut:
		outcome = "timed-out"
	default:
		return
	}
	m.waits.WithLabelValues(ev.Queue, outcome).Observe(ev.Wait.Seconds())
}

var (
	descWaiting = prometheus.NewDesc("ccswitch_queue_waiting", "Tasks waiting in the queue, not offered.", []string{"queue"}, nil)
	descLongest = prometheus.NewDesc("ccswitch_queue_longest_wait_seconds", "Wait of the oldest task waiting or offered.", []string{"queue"}, nil)
	descSL      = prometheus.NewDesc("ccswitch_queue_service_level", "Answered within the service level over answered, abandoned and timed out.", []string{"queue"}, nil)
	descAgents  = prometheus.NewDesc("ccswitch_agents", "Agents by state.", []string{"state"}, nil)
	queueCounts = []struct {
		desc *prometheus.Desc
		get  func(acd.QueueStats) int64
	}{
		{prometheus.NewDesc("ccswitch_queue_entered_total", "Tasks that entered the queue.", []string{"queue"}, nil), func(q acd.QueueStats) int64 { return q.Entered }},
		{prometheus.NewDesc("ccswitch_queue_answered_total", "Reservations accepted.", []string{"queue"}, nil), func(q acd.QueueStats) int64 { return q.Answered }},
		{prometheus.NewDesc("ccswitch_queue_abandoned_total", "Tasks cancelled before acceptance.", []string{"queue"}, nil), func(q acd.QueueStats) int64 { return q.Abandoned }},
		{prometheus.NewDesc("ccswitch_queue_rona_total", "Reservations not answered in time.", []string{"queue"}, nil), func(q acd.QueueStats) int64 { return q.RONA }},
	}
)

// snapshotCollector reads the engine's last snapshot at each scrape.
type snapshotCollector struct{ c *Center }

func (s *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descWaiting
	ch <- descLongest
	ch <- descSL
	ch <- descAgents
	for _, q := range queueCounts {
		ch <- q.desc
	}
}

func (s *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	snap := s.c.Snapshot()
	for _, q := range snap.Queues {
		ch <- prometheus.MustNewConstMetric(descWaiting, prometheus.GaugeValue, float64(q.Waiting), q.Name)
		ch <- prometheus.MustNewConstMetric(descLongest, prometheus.GaugeValue, q.LongestWait.Seconds(), q.Name)
		ch <- prometheus.MustNewConstMetric(descSL, prometheus.GaugeValue, q.ServiceLevel, q.Name)
		for _, c := range queueCounts {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(c.get(q)), q.Name)
		}
	}
	var counts [acd.NumAgentStates]int
	for _, a := range snap.Agents {
		if a.State < acd.NumAgentStates {
			counts[a.State]++
		}
	}
	for st := acd.AgentState(0); st < acd.NumAgentStates; st++ {
		ch <- prometheus.MustNewConstMetric(descAgents, prometheus.GaugeValue, float64(counts[st]), st.String())
	}
}

// recordMetrics count the media figures of the legs of every call record written.
type recordMetrics struct {
	count    *prometheus.CounterVec
	received *prometheus.CounterVec
	lost     *prometheus.CounterVec
	jitter   *prometheus.HistogramVec
}

func newRecordMetrics(reg prometheus.Registerer) *recordMetrics {
	side := []string{"role"}
	return &recordMetrics{
		count: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_media_legs_total",
			Help: "Call legs that carried RTP, by role (a: caller side, b: callee or agent side), counted when their call record is written."}, side)),
		received: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_media_leg_packets_received_total",
			Help: "RTP packets received on call legs, by role."}, side)),
		lost: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_media_leg_packets_lost_total",
			Help: "RTP packets the peer of a call leg sent that never arrived (RFC 3550 A.3), by role."}, side)),
		jitter: metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ccswitch_media_leg_jitter_seconds",
			Help:    "Interarrival jitter of each call leg's peer at the end of the call (RFC 3550 6.4.1), by role.",
			Buckets: []float64{.001, .005, .01, .02, .03, .05, .1, .2}}, side)),
	}
}

func (m *recordMetrics) observeLegs(ls []store.LegRecord) {
	for _, l := range ls {
		if l.Packets == 0 {
			continue
		}
		m.count.WithLabelValues(l.Role).Inc()
		m.received.WithLabelValues(l.Role).Add(float64(l.Packets))
		m.lost.WithLabelValues(l.Role).Add(float64(l.Lost))
		m.jitter.WithLabelValues(l.Role).Observe(l.Jitter / 1000)
	}
}
