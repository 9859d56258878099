package sip

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func quietServer() *Server {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.trunkm = newTrunkMetrics(s, prometheus.NewRegistry())
	return s
}

// TestProbeThresholds: a destination goes down after options_down misses in a row and up
// after options_up answers in a row; an answer resets the misses and a miss the answers.
func TestProbeThresholds(t *testing.T) {
	s := quietServer()
	const (
		A = true
		M = false
	)
	cases := []struct {
		name       string
		down, up   int
		probes     []bool
		wantUp     []bool
		wantMissed float64
	}{
		{"3 misses down", 3, 2, []bool{M, M, M}, []bool{true, true, false}, 3},
		{"misses interrupted", 3, 2, []bool{M, M, A, M, M, M}, []bool{true, true, true, true, true, false}, 5},
		{"one answer is not up", 3, 2, []bool{M, M, M, A, M, A, A}, []bool{true, true, false, false, false, false, true}, 4},
		{"thresholds of 1", 1, 1, []bool{M, A, M}, []bool{false, true, false}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.trunkm = newTrunkMetrics(s, prometheus.NewRegistry())
			h := &trunkHealth{}
			h.up.Store(true)
			d := &dest{uri: &gsip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: 5080}, health: h}
			tr := &trunk{cfg: config.Trunk{Name: "c", OptionsDown: c.down, OptionsUp: c.up}, dests: []*dest{d}}
			for i, p := range c.probes {
				s.probed(tr, d, p)
				if got := tr.up(); got != c.wantUp[i] {
					t.Fatalf("after probe %d (%v): up=%v, want %v", i, p, got, c.wantUp[i])
				}
			}
			if got := testutil.ToFloat64(s.trunkm.probes.WithLabelValues("c", "missed")); got != c.wantMissed {
				t.Errorf("missed = %v, want %v", got, c.wantMissed)
			}
		})
	}
}

func TestNumberNormalisation(t *testing.T) {
	de := &trunk{cfg: config.Trunk{Strip: "+49", Prepend: "0"}}
	us := &trunk{cfg: config.Trunk{Strip: "+1"}}
	plain := &trunk{}
	cases := []struct {
		t          *trunk
		in, out    string // outboundNumber(in) = out
		from, e164 string // inboundNumber(from) = e164
	}{
		{de, "+4930123456", "030123456", "030123456", "+4930123456"},
		{de, "030123456", "030123456", "+4930123456", "+4930123456"},
		{de, "+4420123", "+4420123", "4420123", "4420123"},
		{us, "+15551234", "5551234", "5551234", "+15551234"},
		{us, "*45", "*45", "ccsw", "ccsw"},
		{plain, "+15551234", "+15551234", "5551234", "5551234"},
		{de, "", "", "", ""},
	}
	for _, c := range cases {
		if got := c.t.outboundNumber(c.in); got != c.out {
			t.Errorf("%+v outboundNumber(%q) = %q, want %q", c.t.cfg, c.in, got, c.out)
		}
		if got := c.t.inboundNumber(c.from); got != c.e164 {
			t.Errorf("%+v inboundNumber(%q) = %q, want %q", c.t.cfg, c.from, got, c.e164)
		}
	}
}

func TestIdentityUser(t *testing.T) {
	for in, want := range map[string]string{
		`<sip:+15551112222@carrier.test>`:                    "+15551112222",
		`"Alice" <sip:+15551112222@carrier.test;user=phone>`: "+15551112222",
		`<tel:+15551112222>`:                                 "+15551112222",
		`<TEL:+15551112222;npdi>`:                            "+15551112222",
		`"x" <sip:5551112222@c>;party=calling;privacy=off`:   "5551112222",
		`sip:anonymous@anonymous.invalid`:                    "anonymous",
		`<http://example.com>`:                               "",
		``:                                                   "",
		`<sip:` + string(make([]byte, 40)) + `@x>`:           "",
	} {
		if got := identityUser(in); got != want {
			t.Errorf("identityUser(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUntrust: identity headers of a request that did not come from a trunk are removed and
// counted; others stay.
func TestUntrust(t *testing.T) {
	s := quietServer()
	req := gsip.NewRequest(gsip.INVITE, gsip.Uri{Scheme: "sip", User: "1002", Host: "127.0.0.1"})
	for _, h := range []string{"P-Asserted-Identity", "Remote-Party-ID", "Diversion", "History-Info", "Privacy", "P-Preferred-Identity"} {
		req.AppendHeader(gsip.NewHeader(h, "<sip:+15550000@evil>"))
	}
	req.AppendHeader(gsip.NewHeader("Subject", "kept"))
	s.untrust(req)
	for _, h := range trustedOnly {
		if req.GetHeader(h) != nil {
			t.Errorf("%s kept", h)
		}
	}
	if req.GetHeader("Subject") == nil {
		t.Error("Subject removed")
	}
	if got := testutil.ToFloat64(s.trunkm.untrusted.WithLabelValues("p-asserted-identity")); got != 1 {
		t.Errorf("untrusted pai = %v", got)
	}
}

// TestOrderDests: lower priority first, always; within a priority a weight-0 destination
// never precedes a weighted one; every weighted destination comes first sometimes.
func TestOrderDests(t *testing.T) {
	mk := func(name string, prio, w int) *dest {
		return &dest{uri: &gsip.Uri{Host: name}, priority: prio, weight: w}
	}
	ds := []*dest{mk("c", 2, 1), mk("z", 1, 0), mk("a", 1, 3), mk("b", 1, 1)}
	firsts := map[string]int{}
	for range 400 {
		out := orderDests(ds)
		if len(out) != 4 {
			t.Fatalf("len %d", len(out))
		}
		if out[3].uri.Host != "c" || out[2].uri.Host != "z" {
			t.Fatalf("order %s %s %s %s", out[0].uri.Host, out[1].uri.Host, out[2].uri.Host, out[3].uri.Host)
		}
		firsts[out[0].uri.Host]++
	}
	if firsts["a"] == 0 || firsts["b"] == 0 || firsts["a"] < firsts["b"] {
		t.Fatalf("first picks %v: want both, a (weight 3) more often than b (weight 1)", firsts)
	}
}

func TestNextRegister(t *testing.T) {
	cases := []struct {
		ok                  bool
		granted, retry, jit time.Duration
		wantWait, wantRetry time.Duration
	}{
		{true, time.Hour, time.Minute, 0, 45 * time.Minute, regRetryMin},
		{true, 30 * time.Second, time.Minute, 0, 20 * time.Second, regRetryMin},
		{true, 2 * time.Second, regRetryMin, 0, time.Second, regRetryMin},
		{false, 0, regRetryMin, time.Second, 3500 * time.Millisecond, 10 * time.Second},
		{false, 0, 4 * time.Minute, 0, 2 * time.Minute, regRetryMax},
		{false, 0, regRetryMax, 0, regRetryMax / 2, regRetryMax},
	}
	for _, c := range cases {
		w, r := nextRegister(c.ok, c.granted, c.retry, c.jit)
		if w != c.wantWait || r != c.wantRetry {
			t.Errorf("nextRegister(%v, %v, %v, %v) = %v, %v; want %v, %v", c.ok, c.granted, c.retry, c.jit, w, r, c.wantWait, c.wantRetry)
		}
	}
}

func TestGrantedExpires(t *testing.T) {
	res := gsip.NewResponse(200, "OK")
	other := &gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", Host: "x", UriParams: gsip.NewParams()}, Params: gsip.NewParams()}
	other.Params.Add("expires", "30")
	ours := &gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", Host: "y", UriParams: gsip.NewParams()}, Params: gsip.NewParams()}
	ours.Address.UriParams.Add("line", "abc")
	ours.Params.Add("expires", "120")
	res.AppendHeader(other)
	res.AppendHeader(ours)
	if got := grantedExpires(res, "abc", time.Hour); got != 120*time.Second {
		t.Errorf("ours: %v", got)
	}
	if got := grantedExpires(res, "zzz", time.Hour); got != time.Hour {
		t.Errorf("none of ours, no Expires: %v", got)
	}
	res.AppendHeader(gsip.NewHeader("Expires", "300"))
	if got := grantedExpires(res, "zzz", time.Hour); got != 300*time.Second {
		t.Errorf("Expires header: %v", got)
	}
}

// TestTrunkByRegistration: an INVITE is a registration trunk's call when it names the
// trunk's line (or its username) and comes from the registrar's address or the trunk's
// sources; the line token from anywhere else is not enough.
func TestTrunkByRegistration(t *testing.T) {
	s := quietServer()
	s.health = map[string]*trunkHealth{}
	s.tregs = newTrunkRegs(s)
	cfg := &config.Config{Trunks: []config.Trunk{
		{Name: "reg", Outbound: "sip:carrier.test", Register: true, OutboundUsername: "ccsw", OutboundSecret: "x"},
		{Name: "src", Outbound: "sip:127.0.0.9:5060", Sources: []string{"127.0.0.9"}, Register: true, OutboundUsername: "other", OutboundSecret: "x"},
	}}
	r, err := s.compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := s.tregs.get("reg")
	st.addrs = []string{"127.0.0.5:5060"}
	line := r.byName["reg"].line
	if line == "" || line == r.byName["src"].line {
		t.Fatalf("lines %q %q", line, r.byName["src"].line)
	}
	inv := func(ruri, src string) *gsip.Request {
		var u gsip.Uri
		if err := gsip.ParseUri(ruri, &u); err != nil {
			t.Fatal(err)
		}
		req := gsip.NewRequest(gsip.INVITE, u)
		req.SetSource(src)
		return req
	}
	cases := []struct {
		ruri, src, want string
	}{
		{"sip:ccsw@127.0.0.1:5060;line=" + line, "127.0.0.5:5060", "reg"},
		{"sip:ccsw@127.0.0.1:5060;line=" + line, "127.0.0.5:7777", "reg"}, // any port of the registrar
		{"sip:ccsw@127.0.0.1:5060", "127.0.0.5:5060", "reg"},              // carriers that drop params
		{"sip:ccsw@127.0.0.1:5060;line=" + line, "127.0.0.1:5060", ""},    // the token from a stranger
		{"sip:ccsw@127.0.0.1:5060;line=bad", "127.0.0.5:5060", ""},        // a wrong token
		{"sip:someone@127.0.0.1:5060", "127.0.0.5:5060", ""},
		{"sip:other@127.0.0.1:5060", "127.0.0.9:5060", "src"}, // by the trunk's sources
	}
	for _, c := range cases {
		got := ""
		if tr := s.trunkByRegistration(r, inv(c.ruri, c.src)); tr != nil {
			got = tr.cfg.Name
		}
		if got != c.want {
			t.Errorf("%s from %s: %q, want %q", c.ruri, c.src, got, c.want)
		}
	}
}
