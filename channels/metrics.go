package channels

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
)

// meters count the messages by adapter.
type meters struct {
	in, duplicates *prometheus.CounterVec
	out            *prometheus.CounterVec
	refused        *prometheus.CounterVec
}

func newMeters(reg prometheus.Registerer) *meters {
	return &meters{
		in: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_messages_in_total",
			Help: "Customer messages stored, by adapter."}, []string{"adapter"})),
		duplicates: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_messages_duplicate_total",
			Help: "Provider retries of a message already stored, by adapter."}, []string{"adapter"})),
		out: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_messages_out_total",
			Help: "Delivery attempts of replies and flow messages, by adapter and result (sent, retried: will be tried again, failed: given up)."},
			[]string{"adapter", "result"})),
		refused: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_channels_refused_total",
			Help: "Contacts refused at a text channel's edge, by adapter and reason (a limit hit, a misbehaving peer)."},
			[]string{"adapter", "reason"})),
	}
}

// Refused counts a refusal at an adapter's edge (ccswitch_channels_refused_total): a limit hit
// or a misbehaving peer. Adapters log it themselves through internal/ratelog.
func (s *Service) Refused(adapter, reason string) {
	s.meters.refused.WithLabelValues(adapter, reason).Inc()
}
