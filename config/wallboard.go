package config

// Wallboard is what the supervisors' wallboard colours (its charts and live figures).
type Wallboard struct {
	// ServiceLevelTarget is the share of contacts to answer within their queue's
	// service_level: a queue at or above it shows green, within 10 points under it amber,
	// further under red. Default 0.8.
	ServiceLevelTarget float64 `yaml:"service_level_target"`
	// WaitingAlert is how many contacts waiting in one queue show red (from half of it amber).
	// Default 5.
	WaitingAlert int `yaml:"waiting_alert"`
}

// Wallboard defaults.
const (
	DefaultServiceLevelTarget = 0.8
	DefaultWaitingAlert       = 5
)

func (w *Wallboard) applyDefaults() {
	if w.ServiceLevelTarget == 0 {
		w.ServiceLevelTarget = DefaultServiceLevelTarget
	}
	if w.WaitingAlert == 0 {
		w.WaitingAlert = DefaultWaitingAlert
	}
}

func (v *validator) wallboard() {
	w := v.c.Wallboard
	if w.ServiceLevelTarget <= 0 || w.ServiceLevelTarget > 1 {
		v.failAt("wallboard.service_level_target", "want a share between 0 and 1 such as 0.8, got %v", w.ServiceLevelTarget)
	}
	if w.WaitingAlert < 1 {
		v.failAt("wallboard.waiting_alert", "want at least 1, got %d", w.WaitingAlert)
	}
}
