package webphone

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
)

type gauges struct {
	lines    prometheus.Gauge
	calls    prometheus.Gauge
	failures *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *gauges {
	return &gauges{
		lines: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "ccswitch_webphone_registered",
			Help: "Browser phones registered (desktops with their browser phone connected)."})),
		calls: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "ccswitch_webphone_calls",
			Help: "Browser phone calls in progress (ringing, dialling or answered)."})),
		failures: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_webphone_failures_total",
			Help: "Browser phone refusals and failures by reason (register, busy, media, sdp, dial)."}, []string{"reason"})),
	}
}
