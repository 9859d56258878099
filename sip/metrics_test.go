package sip_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/sip"
)

// value reads one sample of the registry: the metric name with exactly these label values.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestMetrics: a carrier's call through the B2BUA (real SIPp peers) counts as one active
// call of its trunk while it lasts; afterwards its INVITE and BYE are counted with the status
// answered, and the bindings gauge follows the registrar.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg, carrier, uasPort := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	uas := startSIPp(t, "uas 2000", sippArgs("uas.xml", uasPort, "-m", "1")...)
	time.Sleep(100 * time.Millisecond)
	uac := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550100", "-m", "1", "-d", "3000"), ts.addr)[2:]...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n, _ := value(t, reg, "ccswitch_sip_active_calls", map[string]string{"trunk": "carrier"}); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the carrier's call never counted as active")
		}
		time.Sleep(20 * time.Millisecond)
	}
	uac.wait(t)
	uas.wait(t)
	records(t, ts, 1) // the call ended
	if n, ok := value(t, reg, "ccswitch_sip_active_calls", map[string]string{"trunk": "carrier"}); ok && n != 0 {
		t.Fatalf("active calls after the end: %v", n)
	}
	for _, c := range []struct {
		method, status string
	}{{"INVITE", "200"}, {"BYE", "200"}, {"ACK", "none"}} {
		if n, _ := value(t, reg, "ccswitch_sip_requests_total", map[string]string{"method": c.method, "status": c.status}); n < 1 {
			t.Errorf("%s answered %s counted %v times", c.method, c.status, n)
		}
	}
	if n, ok := value(t, reg, "ccswitch_sip_bindings", nil); !ok || n != 0 {
		t.Errorf("bindings %v %v", n, ok)
	}
}
