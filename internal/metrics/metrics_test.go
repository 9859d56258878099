package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRegisterTwiceKeepsCounting(t *testing.T) {
	reg := prometheus.NewRegistry()
	opts := prometheus.CounterOpts{Name: "ccswitch_test_total", Help: "test"}
	a := Register(reg, prometheus.NewCounter(opts))
	a.Inc()
	b := Register(reg, prometheus.NewCounter(opts))
	b.Inc()
	if got := testutil.ToFloat64(a); got != 2 {
		t.Fatalf("count = %v, want 2 (the second Register returns the first collector)", got)
	}
	if c := Register(nil, prometheus.NewCounter(opts)); c == nil {
		t.Fatal("nil registerer returned nil")
	}
}
