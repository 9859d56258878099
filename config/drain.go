package config

import "time"

// drain validates sip.drain_timeout: 0 (stop at once) or positive.
func (v *validator) drain() {
	if d := v.c.SIP.DrainTimeout; d != nil && d.D() < 0 {
		v.failAt("sip.drain_timeout", "want 0 (stop at once) or a positive duration, got %s", d.D())
	}
}

// Drain is the configured drain timeout (sip.drain_timeout), the default when unset.
func (s SIP) Drain() time.Duration {
	if s.DrainTimeout == nil {
		return DefaultDrainTimeout
	}
	return s.DrainTimeout.D()
}
