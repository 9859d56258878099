package sip

import (
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// trunkMetrics are the collectors of routing and trunks: refusals by routing, failovers,
// redirects, OPTIONS probes, registrations with carriers, identity headers removed.
type trunkMetrics struct {
	refusals      *prometheus.CounterVec // INVITEs refused by the routing decision, by cause
	failovers     *prometheus.CounterVec // a destination or trunk failed and the next was tried
	redirects     *prometheus.CounterVec // 3xx from trunks: followed or refused (480)
	probes        *prometheus.CounterVec // OPTIONS probes by trunk and result
	dnsFailures   *prometheus.CounterVec // trunk destinations that did not resolve
	registrations *prometheus.CounterVec // REGISTERs to carriers by trunk and result
	untrusted     *prometheus.CounterVec // identity headers removed from non-trunk requests
}

var (
	descTrunkUp = prometheus.NewDesc("ccswitch_sip_trunk_up",
		"1 while a trunk with outbound destinations has one up (OPTIONS thresholds), else 0.", []string{"trunk"}, nil)
	descTrunkRegistered = prometheus.NewDesc("ccswitch_sip_trunk_registered",
		"1 while a registration trunk holds a live registration with its carrier, else 0.", []string{"trunk"}, nil)
)

func newTrunkMetrics(s *Server, reg prometheus.Registerer) *trunkMetrics {
	m := &trunkMetrics{
		refusals: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_route_refusals_total",
			Help: "INVITEs refused by the routing decision, by cause: unauthenticated, forbidden (no outbound right), not-found, bad-number, no-route, no-trunk, trunk-down.",
		}, []string{"cause"})),
		failovers: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_trunk_failovers_total",
			Help: "Calls out that left a destination or a trunk for the next one, by trunk and what failed: 408, 5xx, timeout.",
		}, []string{"trunk", "reason"})),
		redirects: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_trunk_redirects_total",
			Help: "3xx answers from trunks, by trunk and result: followed, refused (answered 480).",
		}, []string{"trunk", "result"})),
		probes: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_trunk_probes_total",
			Help: "OPTIONS probes of trunk destinations, by trunk and result: answered, missed.",
		}, []string{"trunk", "result"})),
		dnsFailures: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_trunk_dns_failures_total",
			Help: "Trunk destinations whose host name did not resolve (RFC 3263), by trunk.",
		}, []string{"trunk"})),
		registrations: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_trunk_registrations_total",
			Help: "REGISTERs sent to carriers by trunk and result: ok, rejected (final non-2xx), auth-failed, timeout, error.",
		}, []string{"trunk", "result"})),
		untrusted: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_untrusted_identity_total",
			Help: "Identity headers (P-Asserted-Identity, Remote-Party-ID, Diversion, History-Info, Privacy) removed from requests that did not come from a trunk (RFC 3325).",
		}, []string{"header"})),
	}
	metrics.Register(reg, prometheus.Collector(trunkState{s}))
	return m
}

// trunkState reports each trunk's health and registration at scrape time.
type trunkState struct{ s *Server }

func (t trunkState) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTrunkUp
	ch <- descTrunkRegistered
}

func (t trunkState) Collect(ch chan<- prometheus.Metric) {
	r := t.s.routes.Load()
	if r == nil {
		return
	}
	for _, tr := range r.trunks {
		if len(tr.dests) > 0 {
			ch <- prometheus.MustNewConstMetric(descTrunkUp, prometheus.GaugeValue, b2f(tr.up()), tr.cfg.Name)
		}
		if tr.cfg.Register {
			ch <- prometheus.MustNewConstMetric(descTrunkRegistered, prometheus.GaugeValue, b2f(t.s.tregs.registered(tr.cfg.Name)), tr.cfg.Name)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
