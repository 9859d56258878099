package sip_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// failoverConfig: extensions, and trunks built by the test (no health checks unless set).
func failoverConfig(trunks ...config.Trunk) *config.Config {
	cfg := testConfig()
	off := config.Duration(0)
	for i := range trunks {
		if trunks[i].OptionsInterval == nil {
			trunks[i].OptionsInterval = &off
		}
	}
	cfg.Trunks = trunks
	return cfg
}

func dests(ds ...config.Destination) []config.Destination {
	for i := range ds {
		if ds[i].Weight == nil {
			w := 1
			ds[i].Weight = &w
		}
	}
	return ds
}

func loop(port int) string { return fmt.Sprintf("sip:127.0.0.1:%d", port) }

// TestSIPpFailoverDestinations: the first destination of a trunk fails with 503, 408, 500 or
// says nothing at all; the call goes to the next destination (by priority) and is answered;
// the failover is counted by reason.
func TestSIPpFailoverDestinations(t *testing.T) {
	for _, c := range []struct{ name, scenario, reason string }{
		{"503", "uas_503.xml", "5xx"},
		{"408", "uas_408.xml", "408"},
		{"500", "uas_500.xml", "5xx"},
		{"silent", "", "timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p1, p2 := testenv.FreePort(t), testenv.FreePort(t)
			cfg := failoverConfig(config.Trunk{Name: "carrier", Destinations: dests(
				config.Destination{URI: loop(p2), Priority: 2},
				config.Destination{URI: loop(p1), Priority: 1})})
			reg := prometheus.NewRegistry()
			ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
			var bad *sippRun
			if c.scenario != "" {
				bad = callee(t, c.scenario, p1)
			}
			good := callee(t, "uas.xml", p2)
			uac(t, ts, "uac_auth.xml", "1001", "+15559876")
			good.wait(t)
			if bad != nil {
				bad.wait(t)
			}
			if v := metricValue(t, reg, "ccswitch_sip_trunk_failovers_total", c.reason); v != 1 {
				t.Fatalf("failovers{reason=%s} = %v", c.reason, v)
			}
		})
	}
}

// TestSIPpFailoverNotOnFinalAnswers: a 486 (or 404) from the first destination is the
// callee's answer: it goes back to the caller and the next destination is not tried.
func TestSIPpFailoverNotOnFinalAnswers(t *testing.T) {
	p1, p2 := testenv.FreePort(t), testenv.FreePort(t)
	cfg := failoverConfig(config.Trunk{Name: "carrier", Destinations: dests(
		config.Destination{URI: loop(p1), Priority: 1},
		config.Destination{URI: loop(p2), Priority: 2})})
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	busy := callee(t, "uas_busy.xml", p1)
	uac(t, ts, "uac_auth_486.xml", "1001", "+15559876")
	busy.wait(t)
	if v := metricValue(t, reg, "ccswitch_sip_trunk_failovers_total", ""); v != 0 {
		t.Fatalf("failovers = %v after a 486", v)
	}
}

// TestSIPpFailoverNextTrunk: every destination of the first matching trunk fails (503): the
// call goes out through the next trunk, whose name the call record carries; when every trunk
// fails the caller gets 502.
func TestSIPpFailoverNextTrunk(t *testing.T) {
	pa, pb := testenv.FreePort(t), testenv.FreePort(t)
	cfg := failoverConfig(
		config.Trunk{Name: "a", Outbound: loop(pa), Prefixes: []string{"+1"}},
		config.Trunk{Name: "b", Outbound: loop(pb)})
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	a := callee(t, "uas_503.xml", pa)
	b := callee(t, "uas.xml", pb)
	uac(t, ts, "uac_auth.xml", "1001", "+15559876")
	a.wait(t)
	b.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Trunk != "b" {
		t.Fatalf("record %+v", rec)
	}
	if v := metricValue(t, reg, "ccswitch_sip_trunk_failovers_total", "a"); v != 1 {
		t.Fatalf("failovers of trunk a = %v", v)
	}

	a = callee(t, "uas_503.xml", pa)
	b = callee(t, "uas_503.xml", pb)
	uac(t, ts, "uac_auth_502.xml", "1001", "+15559876")
	a.wait(t)
	b.wait(t)
}

// TestSIPpRedirect: a trunk's 302 is answered 480 by default; with redirects: 1 the call
// follows it to the new number through the same trunk; a redirect to a number the caller
// may not call (no trunk for it) is answered 480.
func TestSIPpRedirect(t *testing.T) {
	t.Run("not followed", func(t *testing.T) {
		p := testenv.FreePort(t)
		cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p)})
		reg := prometheus.NewRegistry()
		ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
		c := callee(t, "uas_302.xml", p)
		uac(t, ts, "uac_auth_480.xml", "1001", "+15559876")
		c.wait(t)
		if v := metricValue(t, reg, "ccswitch_sip_trunk_redirects_total", "refused"); v != 1 {
			t.Fatalf("redirects refused = %v", v)
		}
	})
	t.Run("followed", func(t *testing.T) {
		p := testenv.FreePort(t)
		cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p), Redirects: 1})
		reg := prometheus.NewRegistry()
		ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
		c := startSIPp(t, "carrier 302", sippArgs("uas_302.xml", p, "-m", "2")...)
		uac(t, ts, "uac_auth.xml", "1001", "+15559876")
		c.wait(t)
		if v := metricValue(t, reg, "ccswitch_sip_trunk_redirects_total", "followed"); v != 1 {
			t.Fatalf("redirects followed = %v", v)
		}
	})
	t.Run("target not allowed", func(t *testing.T) {
		p := testenv.FreePort(t)
		// +15559999 matches no trunk's prefixes: the caller could not dial it.
		cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p), Redirects: 1, Prefixes: []string{"+1555987"}})
		ts := startServer(t, cfg, "", md5Only)
		c := callee(t, "uas_302.xml", p)
		uac(t, ts, "uac_auth_480.xml", "1001", "+15559876")
		c.wait(t)
	})
}

// dnsServer is an authoritative DNS server on loopback (miekg/dns) for the zone in rrs.
func dnsServer(t testing.TB, rrs ...string) string {
	t.Helper()
	zone := map[string][]dns.RR{}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		k := strings.ToLower(rr.Header().Name) + "|" + dns.TypeToString[rr.Header().Rrtype]
		zone[k] = append(zone[k], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		if len(q.Question) == 1 {
			k := strings.ToLower(q.Question[0].Name) + "|" + dns.TypeToString[q.Question[0].Qtype]
			m.Answer = zone[k]
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// TestSIPpFailoverSRV: the trunk's destination is a domain (no port): ccswitch follows
// RFC 3263 against a DNS server on loopback — NAPTR to the SRV name, SRV by priority — and
// fails over from the first SRV target (503) to the second, which answers. Variants: SRV
// without NAPTR, and A only (default port cannot be used on loopback tests, so a name with
// a port: A lookup only).
func TestSIPpFailoverSRV(t *testing.T) {
	p1, p2 := testenv.FreePort(t), testenv.FreePort(t)
	srvRecords := []string{
		fmt.Sprintf("_sip._udp.carrier.test. 60 IN SRV 10 1 %d a.carrier.test.", p1),
		fmt.Sprintf("_sip._udp.carrier.test. 60 IN SRV 20 1 %d b.carrier.test.", p2),
		"a.carrier.test. 60 IN A 127.0.0.1",
		"b.carrier.test. 60 IN A 127.0.0.1",
	}
	naptr := []string{
		`carrier.test. 60 IN NAPTR 10 50 "s" "SIP+D2T" "" _sip._tcp.carrier.test.`,
		`carrier.test. 60 IN NAPTR 20 50 "s" "SIP+D2U" "" _sip._udp.carrier.test.`,
	}
	for _, c := range []struct {
		name    string
		records []string
		uri     string
		first   string // the scenario at p1
	}{
		{"NAPTR then SRV", append(naptr, srvRecords...), "sip:carrier.test", "uas_503.xml"},
		{"SRV", srvRecords, "sip:carrier.test", "uas_503.xml"},
		{"A with port", []string{"carrier.test. 60 IN A 127.0.0.1"}, fmt.Sprintf("sip:carrier.test:%d", p2), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: c.uri})
			cfg.SIP.DNS = dnsServer(t, c.records...)
			reg := prometheus.NewRegistry()
			ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
			var first *sippRun
			if c.first != "" {
				first = callee(t, c.first, p1)
			}
			good := callee(t, "uas.xml", p2)
			uac(t, ts, "uac_auth.xml", "1001", "+15559876")
			good.wait(t)
			if first != nil {
				first.wait(t)
				if v := metricValue(t, reg, "ccswitch_sip_trunk_failovers_total", "5xx"); v != 1 {
					t.Fatalf("failovers = %v", v)
				}
			}
		})
	}
}

// TestSIPpTrunkComesBackAfterAnswers: a destination that misses options_down (3) probes is
// down; one answered probe is not enough to bring it back (options_up: 2), two are.
func TestSIPpTrunkComesBackAfterAnswers(t *testing.T) {
	p := testenv.FreePort(t)
	iv := config.Duration(time.Second)
	cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p), OptionsInterval: &iv, OptionsDown: 3, OptionsUp: 2})
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	waitWithin(t, "trunk down after 3 missed probes", 20*time.Second, func() bool { return !ts.TrunkUp("carrier") })
	if v := metricValue(t, reg, "ccswitch_sip_trunk_probes_total", "missed"); v < 3 {
		t.Fatalf("down after %v missed probes", v)
	}
	one := startSIPp(t, "one OPTIONS", sippArgs("uas_options.xml", p, "-m", "1")...)
	one.wait(t)
	if ts.TrunkUp("carrier") {
		t.Fatal("up after one answered probe")
	}
	two := startSIPp(t, "two OPTIONS", sippArgs("uas_options.xml", p, "-m", "2")...)
	two.wait(t)
	waitWithin(t, "trunk up after 2 answered probes", 5*time.Second, func() bool { return ts.TrunkUp("carrier") })
	if v := metricValue(t, reg, "ccswitch_sip_trunk_up", "carrier"); v != 1 {
		t.Fatalf("ccswitch_sip_trunk_up = %v", v)
	}
}

// TestSIPpCallerID: calls out present users[].caller_id over the trunk's caller_id in From
// and P-Asserted-Identity; an extension that hides its number sends an anonymous From and
// Privacy: id with the number only in P-Asserted-Identity; an emergency call shows the
// number anyway.
func TestSIPpCallerID(t *testing.T) {
	for _, c := range []struct {
		name, scenario, dial string
		hide                 bool
	}{
		{"user caller_id", "uas_cid_user.xml", "+15559876", false},
		{"hidden", "uas_cid_hidden.xml", "+15559876", true},
		{"emergency shows the number", "uas_cid_emergency.xml", "911", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := testenv.FreePort(t)
			cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p), CallerID: "+15550100"})
			cfg.SIP.Emergency = []string{"911"}
			cfg.Users[0].CallerID, cfg.Users[0].HideCallerID = "+15550101", c.hide
			ts := startServer(t, cfg, "", md5Only)
			uas := callee(t, c.scenario, p)
			uac(t, ts, "uac_auth.xml", "1001", c.dial)
			uas.wait(t)
		})
	}
}

// TestSIPpDialOut: DialOut reaches a number on an extension's behalf through the same
// decision, trunk and caller ID as a dialled call; an extension without the outbound right,
// an unknown extension and a number no trunk takes are refused with the decision's status.
func TestSIPpDialOut(t *testing.T) {
	p := testenv.FreePort(t)
	cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p), CallerID: "+15550100", Prefixes: []string{"+1"}})
	cfg.Users[0].CallerID = "+15550101"
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	uas := callee(t, "uas_cid_user.xml", p)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg, err := ts.DialOut(ctx, sip.DialOutRequest{As: "1001", Number: "+15559876"})
	if err != nil {
		t.Fatal(err)
	}
	leg.Hangup(ctx)
	uas.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Direction != "outbound" || rec.Trunk != "carrier" || rec.Code != 200 {
		t.Fatalf("record %+v", rec)
	}
	for _, c := range []struct {
		as, number string
		code       int
		cause      string
	}{
		{"1004", "+15559876", 403, "forbidden"},
		{"", "+15559876", 403, "unauthenticated"},
		{"nobody", "+15559876", 403, "unauthenticated"},
		{"1001", "+4930123", 404, "no-route"},
		{"1001", "not a number", 404, "bad-number"},
	} {
		_, err := ts.DialOut(ctx, sip.DialOutRequest{As: c.as, Number: c.number})
		var de *sip.DialError
		if !errors.As(err, &de) || de.Code != c.code || de.Cause != c.cause {
			t.Errorf("DialOut as %q to %q: %v, want %d %s", c.as, c.number, err, c.code, c.cause)
		}
		if v := metricValue(t, reg, "ccswitch_sip_route_refusals_total", c.cause); v < 1 {
			t.Errorf("refusal %s not counted", c.cause)
		}
	}
}

// TestSIPpTrunkRingTimeout: a trunk that only rings is CANCELled after sip.ring_timeout and
// the caller gets 480.
func TestSIPpTrunkRingTimeout(t *testing.T) {
	p := testenv.FreePort(t)
	cfg := failoverConfig(config.Trunk{Name: "carrier", Outbound: loop(p)})
	cfg.SIP.RingTimeout = config.Duration(time.Second)
	ts := startServer(t, cfg, "", md5Only)
	uas := callee(t, "uas_ring.xml", p)
	uac(t, ts, "uac_auth_480.xml", "1001", "+15559876")
	uas.wait(t)
}

// TestSIPpUntrustedIdentity: an extension's INVITE that claims P-Asserted-Identity,
// Remote-Party-ID and Diversion reaches its callee as the extension, without them; the
// removals are counted (RFC 3325: identity is believed from trunks only; the trunk side is
// TestSIPpRegistrationTrunk and TestKamailioRegistrationTrunk).
func TestSIPpUntrustedIdentity(t *testing.T) {
	cfg, _, uasPort := trunkConfig(t)
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	uas := callee(t, "uas_nospoof.xml", uasPort)
	uac(t, ts, "uac_auth_spoof.xml", "1001", "2000")
	uas.wait(t)
	for _, h := range []string{"p-asserted-identity", "remote-party-id", "diversion"} {
		if v := metricValue(t, reg, "ccswitch_sip_untrusted_identity_total", h); v < 1 {
			t.Errorf("%s removals = %v", h, v)
		}
	}
}

// identityApp answers flow calls and reports what the B2BUA says of the caller.
type identityApp struct{ got chan [2]string }

func (a *identityApp) ServeCall(ctx context.Context, in *sip.Incoming) {
	a.got <- [2]string{in.Caller(), in.Diverted()}
	leg, err := in.Answer(in.Offer())
	if err != nil {
		return
	}
	select {
	case <-leg.Done():
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
}

// TestSIPpCallerForTheFlow: the App (screen pop, flows) sees a trunk's asserted caller
// number and diversion, and an extension as itself whatever identity it claims.
func TestSIPpCallerForTheFlow(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	cfg.Numbers = append(cfg.Numbers, config.Number{DID: "+15550199", Flow: "main"})
	app := &identityApp{got: make(chan [2]string, 2)}
	ts := startServer(t, cfg, "", md5Only, sip.WithApp(app))
	c := startSIPp(t, "carrier", append(sippArgs("pstn_uac.xml", carrier, "-s", "+15550199", "-m", "1"), ts.addr)...)
	c.wait(t)
	if got := <-app.got; got != [2]string{"+15551112222", "+15553334444"} {
		t.Errorf("trunk call: caller, diverted = %q", got)
	}
	uac(t, ts, "uac_auth_spoof.xml", "1001", "+15550199")
	if got := <-app.got; got != [2]string{"1001", ""} {
		t.Errorf("extension call: caller, diverted = %q", got)
	}
}
