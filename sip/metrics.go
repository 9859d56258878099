package sip

import (
	"strconv"
	"sync/atomic"

	gsip "github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
)

// WithRegisterer registers the server's metrics on reg (ccswitch_sip_*): requests by method
// and final status, registrations, calls in progress by trunk. Other parts of sip register
// theirs on the same reg (connections and TLS, conn.go; the abuse limits, sip/limit).
// Default: none.
func WithRegisterer(reg prometheus.Registerer) Option { return func(s *Server) { s.opt.reg = reg } }

// sipMetrics are the server's collectors.
type sipMetrics struct {
	requests *prometheus.CounterVec
}

var descActiveCalls = prometheus.NewDesc("ccswitch_sip_active_calls",
	"Calls in progress (ringing or up), by trunk (\"\" for calls between extensions).", []string{"trunk"}, nil)

func newSIPMetrics(s *Server, reg prometheus.Registerer) *sipMetrics {
	m := &sipMetrics{requests: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_sip_requests_total",
		Help: "SIP requests received, by method and the final status ccswitch answered (\"none\" for ACK and requests left unanswered).",
	}, []string{"method", "status"}))}
	metrics.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ccswitch_sip_registrations", Help: "Live registered contacts (bindings) of the registrar.",
	}, func() float64 { return float64(s.reg.Count()) }))
	metrics.Register(reg, prometheus.Collector(activeCalls{s}))
	return m
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
