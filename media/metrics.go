package media

import (
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// engineMetrics are the engine's Prometheus collectors (registered on Config.Registerer).
type engineMetrics struct {
	strangers   prometheus.Counter
	srtpAuth    prometheus.Counter
	srtpRefused prometheus.Counter
	portsOut    prometheus.Counter
	portsInUse  prometheus.Gauge
	portsFree   prometheus.Gauge
	lastInUse   int
	lastFree    int
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	return &engineMetrics{
		strangers: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_media_stranger_packets_total",
			Help: "RTP packets dropped because they came from an address that is neither the leg's signalling source nor its SDP address, or from another port once the leg latched (RTP bleed).",
		})),
		srtpAuth: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_media_srtp_auth_failures_total",
			Help: "SRTP packets dropped because they failed authentication or replay checks.",
		})),
		srtpRefused: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_media_srtp_refused_total",
			Help: "Offers and answers refused (488) because a leg requires SRTP and none was offered, or no offered crypto suite is supported.",
		})),
		portsOut: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_media_ports_exhausted_total",
			Help: "Legs refused (the call gets 503) because the RTP port range was exhausted.",
		})),
		portsInUse: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccswitch_media_ports_in_use",
			Help: "RTP and RTCP ports bound by calls.",
		})),
		portsFree: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccswitch_media_ports_free",
			Help: "Ports of media.rtp_ports not bound by a call (including ports resting after a call).",
		})),
	}
}

// ports records the pool's counts (called under the pool's mutex). Gauges move by the
// difference, so two engines in one process (tests) add up instead of overwriting.
func (m *engineMetrics) ports(inUse, free int) {
	m.portsInUse.Add(float64(inUse - m.lastInUse))
	m.portsFree.Add(float64(free - m.lastFree))
	m.lastInUse, m.lastFree = inUse, free
}
