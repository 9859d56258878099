package sip_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/sip/registrar"
	"github.com/prometheus/client_golang/prometheus"
)

// TestSIPpNATPhoneStopsAnswering: a phone behind NAT (a private Contact) registers; ccswitch
// pings it with OPTIONS through its flow every sip.nat_ping_interval (200 ms here); the phone
// (a SIPp UAS on the port it registered from) answers two, then is gone. After three
// unanswered pings its binding is dropped and subscribers get an Unbound event with reason
// unreachable, as agent presence does.
func TestSIPpNATPhoneStopsAnswering(t *testing.T) {
	cfg := testConfig()
	iv := config.Duration(200 * time.Millisecond)
	cfg.SIP.NATPingInterval = &iv
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	gone := make(chan registrar.Event, 4)
	defer ts.Registrar().Subscribe(func(ev registrar.Event) {
		if ev.Kind == registrar.Unbound {
			gone <- ev
		}
	})()

	phone := testenv.FreePort(t)
	startSIPp(t, "register behind NAT", append(sippArgs("register_any.xml", phone, "-key", "user", "1001",
		"-key", "ruri", "sip:"+ts.addr, "-key", "contact", "<sip:1001@10.9.9.9:5060>",
		"-au", "1001", "-ap", "secret1001", "-m", "1"), ts.addr)...).wait(t)
	if got := ts.Registrar().Lookup("1001"); len(got) != 1 || !got[0].NAT || got[0].Dest != fmt.Sprintf("127.0.0.1:%d", phone) {
		t.Fatalf("binding %+v, want one behind NAT reached at the phone's port", got)
	}
	// The phone answers two keepalives, at the address it registered from, then is gone.
	startSIPp(t, "phone answering OPTIONS", sippArgs("uas_options.xml", phone, "-m", "2")...).wait(t)

	select {
	case ev := <-gone:
		if ev.AOR != "1001" || ev.Reason != registrar.ReasonUnreachable || ev.Bindings != 0 {
			t.Fatalf("event %+v, want 1001 unbound as unreachable", ev)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("binding not dropped 15 s after the phone stopped answering")
	}
	if got := ts.Registrar().Lookup("1001"); len(got) != 0 {
		t.Fatalf("still bound: %+v", got)
	}
	if n := metricValue(t, reg, "ccswitch_sip_nat_pings_total", ""); n < 5 {
		t.Errorf("nat pings counted %v, want at least 5 (2 answered, 3 missed)", n)
	}
	if n := metricValue(t, reg, "ccswitch_sip_nat_ping_failures_total", ""); n < 3 {
		t.Errorf("nat ping failures counted %v, want at least 3", n)
	}
	if n := metricValue(t, reg, "ccswitch_sip_unbindings_total", registrar.ReasonUnreachable); n != 1 {
		t.Errorf("unreachable unbindings counted %v, want 1", n)
	}
	if n := metricValue(t, reg, "ccswitch_sip_bindings", ""); n != 0 {
		t.Errorf("bindings gauge %v, want 0", n)
	}
}
