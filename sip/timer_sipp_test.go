package sip_test

import (
	"testing"
)

// TestSIPpSessionTimers (RFC 4028) with SIPp as carrier and callee:
//   - the carrier asks 120 s with itself as refresher: the 200 grants it with Require: timer;
//     its refresh, an UPDATE without SDP, is answered by ccswitch with the interval and not
//     relayed; the callee's INVITE offered timers (Supported, Session-Expires) and its 200 made
//     itself refresher of leg B;
//   - an interval below sip.min_se gets 422 with Min-SE: 90.
func TestSIPpSessionTimers(t *testing.T) {
	t.Run("negotiated and refreshed", func(t *testing.T) {
		cfg, carrier, uasPort := trunkConfig(t)
		ts, _ := anchoredServer(t, cfg)
		uas := startSIPp(t, "callee 2000", sippArgs("uas_timer.xml", uasPort, "-m", "1")...)
		uac := startSIPp(t, "carrier", append(sippArgs("carrier_timer.xml", carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
		uac.wait(t)
		uas.wait(t)
		if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
			t.Fatalf("record %+v", rec)
		}
	})
	t.Run("too small", func(t *testing.T) {
		cfg, carrier, _ := trunkConfig(t)
		ts, _ := anchoredServer(t, cfg)
		uac := startSIPp(t, "carrier", append(sippArgs("carrier_timer_422.xml", carrier, "-s", "+15550100", "-m", "1"), ts.addr)...)
		uac.wait(t)
		if rec := records(t, ts, 1)[0]; rec.Code != 422 {
			t.Fatalf("record %+v", rec)
		}
	})
}
