package sip

import (
	"sync/atomic"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/internal/metrics"
)

// drainState is the graceful stop: once on, requests that would start something new are
// refused with 503 while the calls in progress go on (Drain).
type drainState struct {
	on      atomic.Bool
	gauge   prometheus.Gauge
	refused *prometheus.CounterVec // by method
}

func newDrainState(reg prometheus.Registerer) *drainState {
	return &drainState{
		gauge: metrics.Register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ccswitch_sip_draining",
			Help: "1 while the server drains (new calls refused with 503, calls in progress go on), else 0.",
		})),
		refused: metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ccswitch_sip_drain_refused_total",
			Help: "Requests refused with 503 because the server is draining, by method.",
		}, []string{"method"})),
	}
}

// Drain stops taking new calls: from now on an INVITE outside a dialog, an OPTIONS (so that
// a dispatcher probing this node takes it out of its set) and any other request outside a
// dialog except REGISTER is answered 503 Service Unavailable. Requests inside calls in
// progress (ACK, BYE, re-INVITE, UPDATE, INFO), CANCELs and registrations are served as
// before (bindings are stored, so phones stay reachable after a restart). Drain returns at
// once; Calls tells how many calls are left. It cannot be undone: a drained server is
// stopped by ending Run's context, which ends the calls still up with BYE.
func (s *Server) Drain() {
	if s.drain.on.CompareAndSwap(false, true) {
		s.drain.gauge.Set(1)
		s.log.Info("draining: new calls refused with 503; calls in progress go on", "calls", s.Calls())
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.drain != nil && s.drain.on.Load() }

// Calls counts the calls in progress (ringing or up), on every transport.
func (s *Server) Calls() int {
	n := 0
	s.calls.Range(func(_, _ any) bool {
		n++
		return true
	})
	return n
}

// refuseDraining answers 503 to a request that would start something new while the server
// drains, and reports whether it did.
func (s *Server) refuseDraining(req *gsip.Request, tx gsip.ServerTransaction) bool {
	if s.drain == nil || !s.drain.on.Load() {
		return false
	}
	switch {
	case req.IsAck(), req.Method == gsip.BYE, req.Method == gsip.CANCEL, req.Method == gsip.REGISTER:
		return false
	}
	if to := req.To(); to != nil && to.Params.Has("tag") {
		return false // inside a dialog
	}
	method := methodLabel(req.Method)
	s.drain.refused.WithLabelValues(method).Inc()
	s.refusals.Info("draining|"+method, "request refused: draining", "method", method, "source", sourceIP(req))
	res := gsip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(gsip.NewHeader("Retry-After", "60"))
	tx.Respond(res)
	return true
}
