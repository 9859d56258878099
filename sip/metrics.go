package sip

import (
	"strconv"
	"sync/atomic"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/sip/registrar"
)

// WithRegisterer registers the server's metrics on reg (ccswitch_sip_*): requests by method
// and final status, calls in progress by trunk, registrations, bindings, NAT keepalives,
// digest failures, malformed messages. Other parts of sip register theirs on the same reg
// (connections and TLS, conn.go; the abuse limits, sip/limit). Default: none (counted, not
// exported).
func WithRegisterer(reg prometheus.Registerer) Option { return func(s *Server) { s.opt.reg = reg } }

// sipMetrics are the server's collectors. Every refusal the edge makes is counted here and
// logged through s.refusals (once per key per minute).
type sipMetrics struct {
	requests      *prometheus.CounterVec // requests by method and final status
	registrations *prometheus.CounterVec // REGISTER outcomes, by result
	bindings      prometheus.Gauge       // live bindings
	unbound       *prometheus.CounterVec // bindings gone, by registrar reason
	natPings      prometheus.Counter     // OPTIONS keepalives sent to contacts behind NAT
	natPingFails  prometheus.Counter     // keepalives not answered
	authFailures  *prometheus.CounterVec // digest failures and lockout refusals, by reason
	malformed     *prometheus.CounterVec // malformed requests refused, by reason
	transfers     *prometheus.CounterVec // REFERs: accepted (blind, attended) or refused, by reason
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

var descActiveCalls = prometheus.NewDesc("ccswitch_sip_active_calls",
	"Calls in progress (ringing or up), by trunk (\"\" for calls between extensions).", []string{"trunk"}, nil)

func newSIPMetrics(s *Server, reg prometheus.Registerer) *sipMetrics {
	m := &sipMetrics{
		requests: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_requests_total",
			Help: "SIP requests received, by method and the final status ccswitch answered (\"none\" for ACK and requests left unanswered).",
		}, []string{"method", "status"})),
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
		transfers: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_transfers_total",
			Help: "REFERs by result: blind, attended (accepted) or the refusal's reason (not-the-leg-owner, foreign-host, route-403, replaces-not-owner...).",
		}, []string{"result"})),
	}
	metrics.Register(reg, prometheus.Collector(activeCalls{s}))
	return m
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

// activeCalls counts the calls in progress by trunk at each scrape.
type activeCalls struct{ s *Server }

func (a activeCalls) Describe(ch chan<- *prometheus.Desc) { ch <- descActiveCalls }

func (a activeCalls) Collect(ch chan<- prometheus.Metric) {
	n := map[string]int{}
	a.s.calls.Range(func(_, v any) bool {
		c := v.(*call)
		c.mu.Lock()
		n[c.rec.Trunk]++
		c.mu.Unlock()
		return true
	})
	for trunk, k := range n {
		ch <- prometheus.MustNewConstMetric(descActiveCalls, prometheus.GaugeValue, float64(k), trunk)
	}
}

// methodLabel bounds the method label to the methods we know.
func methodLabel(m gsip.RequestMethod) string {
	for _, a := range allowed {
		if string(m) == a {
			return a
		}
	}
	return "other"
}

// countedTx counts its request once, with the first final status answered.
type countedTx struct {
	gsip.ServerTransaction
	m       *sipMetrics
	method  string
	counted atomic.Bool
}

func (t *countedTx) Respond(res *gsip.Response) error {
	if res.StatusCode >= 200 && t.counted.CompareAndSwap(false, true) {
		t.m.requests.WithLabelValues(t.method, strconv.Itoa(res.StatusCode)).Inc()
	}
	return t.ServerTransaction.Respond(res)
}

// done counts a request that got no final answer from its handler.
func (t *countedTx) done() {
	if t.counted.CompareAndSwap(false, true) {
		t.m.requests.WithLabelValues(t.method, "none").Inc()
	}
}
