package sip

import (
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/prometheus/client_golang/prometheus"
)

// sipMetrics are the SIP edge's counters (registrations, bindings, NAT keepalives, digest
// failures, malformed messages). Every refusal the edge makes is counted here and logged
// through s.refusals (once per key per minute).
type sipMetrics struct {
	registrations *prometheus.CounterVec // REGISTER outcomes, by result
	bindings      prometheus.Gauge       // live bindings
	unbound       *prometheus.CounterVec // bindings gone, by registrar reason
	natPings      prometheus.Counter     // OPTIONS keepalives sent to contacts behind NAT
	natPingFails  prometheus.Counter     // keepalives not answered
	authFailures  *prometheus.CounterVec // digest failures and lockout refusals, by reason
	malformed     *prometheus.CounterVec // malformed requests refused, by reason
}

// Results of a REGISTER, the label of ccswitch_sip_registrations_total.
const (
	regOK          = "ok"           // 200: bindings applied (or fetched)
	regChallenged  = "challenged"   // 401 sent
	regAuthFailed  = "auth-failed"  // 403: bad credentials or locked out
	regForbidden   = "forbidden"    // 403: not the AOR's owner, from a trunk, or contacts towards a trunk or ccswitch
	regTooMany     = "too-many"     // 403: sip.max_contacts reached
	regInvalid     = "invalid"      // 4xx from the registrar (bad Expires, Contact, 423...)
	regServerError = "server-error" // 5xx (store failure, out of order)
)

func newSIPMetrics(reg prometheus.Registerer) *sipMetrics {
	return &sipMetrics{
		registrations: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_registrations_total",
			Help: "REGISTER requests by result: ok, challenged, auth-failed, forbidden, too-many, invalid, server-error.",
		}, []string{"result"})),
		bindings: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccswitch_sip_bindings",
			Help: "Live registrar bindings (registered contacts).",
		})),
		unbound: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_unbindings_total",
			Help: "Bindings that went, by reason: unregistered, expired, unreachable (NAT keepalive unanswered), flow-closed.",
		}, []string{"reason"})),
		natPings: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_sip_nat_pings_total",
			Help: "OPTIONS keepalives sent to registered UDP contacts behind NAT.",
		})),
		natPingFails: metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ccswitch_sip_nat_ping_failures_total",
			Help: "NAT keepalives that got no answer.",
		})),
		authFailures: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_auth_failures_total",
			Help: "Digest authentication failures by reason: credentials, uri-mismatch, algorithm, replay, malformed, locked-out.",
		}, []string{"reason"})),
		malformed: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_malformed_total",
			Help: "Malformed SIP messages refused (400, 416, 505) or dropped, by reason.",
		}, []string{"reason"})),
	}
}

// binding follows the registrar's events (Subscribe): the bindings gauge and the reasons
// bindings went.
func (m *sipMetrics) binding(ev registrar.Event) {
	switch ev.Kind {
	case registrar.Bound:
		m.bindings.Inc()
	case registrar.Unbound:
		m.bindings.Dec()
		m.unbound.WithLabelValues(ev.Reason).Inc()
	}
}

// WithRegisterer registers the SIP server's Prometheus collectors (ccswitch_sip_*) on reg
// (nil: counted, not exported).
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(s *Server) { s.metricsReg = reg }
}
