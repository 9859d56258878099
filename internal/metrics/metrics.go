// Package metrics holds the one convention ccswitch's packages follow for Prometheus metrics
// (github.com/prometheus/client_golang): each package defines its own collectors and registers
// them on the prometheus.Registerer it is given in its options (nil: a private registry, so
// tests that build several servers in one process never collide). cmd/ccswitch makes one
// registry, passes it to every part, and web serves it at /metrics.
package metrics

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it; when an equal collector is already registered
// (a second server in the same process, a rebuilt part after a reload) it returns that one,
// so counts continue. A nil reg registers nothing and returns c.
func Register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if prev, ok := are.ExistingCollector.(T); ok {
				return prev
			}
		}
		panic("metrics: " + err.Error())
	}
	return c
}
