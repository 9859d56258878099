package channels

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
)

// meters count the messages by adapter.
type meters struct {
	in, duplicates *prometheus.CounterVec
	out            *prometheus.CounterVec
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
	}
}
