package limit

import (
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// metricSet is every limit's count (BRIEF: refusals are never silent).
type metricSet struct {
	reg       prometheus.Registerer
	refused   *prometheus.CounterVec
	cut       prometheus.Counter
	emergency prometheus.Counter
	dropped   prometheus.Counter
	blocks    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metricSet {
	return &metricSet{
		reg: reg,
		refused: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_limit_refused_total",
			Help: "Calls refused by a limit, by limit: caller_calls, callee_calls, trunk_calls (each full trunk skipped), call_rate, destination, daily_minutes.",
		}, []string{"limit"})),
		cut: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_sip_limit_cut_total",
			Help: "Calls ended because their extension reached its daily minutes.",
		})),
		emergency: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_sip_emergency_calls_total",
			Help: "Emergency calls placed (never refused by a limit).",
		})),
		dropped: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_sip_flood_dropped_total",
			Help: "SIP messages (UDP datagrams, or stream reads) dropped unparsed because their source was over sip.limits.source_rate.",
		})),
		blocks: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_sip_flood_blocks_total",
			Help: "Times a source address went over sip.limits.source_rate and was blocked.",
		})),
	}
}

// watch exports the flood limiter's table sizes.
func (m *metricSet) watch(s *Sources) {
	metrics.Register(m.reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ccswitch_sip_flood_blocked_sources",
		Help: "Source addresses blocked now by the flood limit.",
	}, func() float64 { return float64(s.Blocked()) }))
	metrics.Register(m.reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ccswitch_sip_flood_tracked_sources",
		Help: "Source addresses tracked by the flood limit (at most 65536).",
	}, func() float64 { return float64(s.Tracked()) }))
}
