package voice

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
)

// monitorMetrics count supervisors' monitoring.
type monitorMetrics struct {
	sessions *prometheus.CounterVec // ccswitch_monitor_sessions_total{mode,via}
	refused  *prometheus.CounterVec // ccswitch_monitor_refused_total{reason}
	active   prometheus.Gauge       // ccswitch_monitor_active
}

func newMonitorMetrics(reg prometheus.Registerer) *monitorMetrics {
	return &monitorMetrics{
		sessions: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_monitor_sessions_total",
			Help: "Supervisors who joined a live call, by the mode they joined in and how (phone: feature code, desktop: the wallboard rang them)."}, []string{"mode", "via"})),
		refused: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ccswitch_monitor_refused_total",
			Help: "Monitoring requests refused: not-supervisor, no-extension, unknown-agent, self, no-call, busy (another supervisor on the call), no-phone, bad-mode."}, []string{"reason"})),
		active: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{Name: "ccswitch_monitor_active",
			Help: "Supervisors on live calls now."})),
	}
}
