package sip_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// fakeCarrier is a SIPp UAS on a trunk's address that logs every message it gets: the
// carrier, which trusts ccswitch's IP and bills what comes from it.
type fakeCarrier struct {
	run *sippRun
	log string
}

func startFakeCarrier(t *testing.T, port int) *fakeCarrier {
	t.Helper()
	log := filepath.Join(t.TempDir(), "carrier.log")
	c := &fakeCarrier{log: log, run: startSIPp(t, "fake carrier", sippArgs("uas.xml", port, "-m", "1",
		"-trace_msg", "-message_file", log)...)}
	time.Sleep(100 * time.Millisecond) // SIPp binds its socket
	return c
}

// received returns what the carrier got (SIPp writes each message as it arrives).
func (c *fakeCarrier) received(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(c.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "message received") {
		return ""
	}
	return string(b)
}

// TestTollFraudThroughTheRegistrar is issue 10's toll-fraud case and its variants. An
// extension registers a Contact that names the carrier (its address, the same with another
// port or transport, maddr, received, sips:), a public address, ccswitch itself, or an odd
// user; then 1004, which may not call out, calls it, and for some the ACD rings it and a
// carrier's DID reaches it. Whatever the Contact, the fake carrier (a SIPp UAS on the trunk's
// port) receives nothing: a REGISTER naming a trunk or ccswitch is refused (403, the call
// gets 480), and any other contact is reached only through its flow, where the phone (a
// SIPp UAS on the port it registered from) answers, gets the ACK and the BYE.
func TestTollFraudThroughTheRegistrar(t *testing.T) {
	cfg, carrier, _ := trunkConfig(t)
	did2 := testenv.FreePort(t) // a second, inbound-only carrier for a DID
	cfg.Trunks = append(cfg.Trunks, config.Trunk{Name: "did", Sources: []string{fmt.Sprintf("127.0.0.1:%d", did2)}, OptionsInterval: cfg.Trunks[0].OptionsInterval})
	for i := 3001; i <= 3015; i++ {
		cfg.Users = append(cfg.Users, config.User{Extension: fmt.Sprint(i), Secret: fmt.Sprintf("secret%d", i)})
	}
	cfg.Numbers = append(cfg.Numbers, config.Number{DID: "+15550199", Target: "3009"})
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	trunkAddr := fmt.Sprintf("127.0.0.1:%d", carrier)

	// A REGISTER from the trunk's own source: refused before the fake carrier takes the port.
	r := startSIPp(t, "register from the trunk", append(sippArgs("register_any_403.xml", carrier,
		"-key", "user", "3012", "-key", "ruri", "sip:"+ts.addr, "-key", "contact", fmt.Sprintf("<sip:3012@%s>", trunkAddr),
		"-au", "3012", "-ap", "secret3012", "-m", "1"), ts.addr)...)
	r.wait(t)

	fc := startFakeCarrier(t, carrier)
	// Ports a case's phone or contact may use: free (so neither ccswitch's nor the carrier's,
	// which are bound) and not the second carrier's (configured, bound only for its call).
	// carrier+1 was the "another port" once, which may be any of these.
	otherPort := testenv.FreePortExcept(t, did2)

	cases := []struct {
		name, ext  string
		contact    string // {own}: the phone's own host:port, {trunk}: the trunk's, {self}: ccswitch's, {trunkport}: the trunk's port
		ruri       string // the REGISTER's Request-URI ("" = ccswitch's address)
		refused    bool
		early      bool   // refused before the challenge: a sips: contact over UDP needs TLS (conn.go)
		uas        string // the phone's scenario (default uas.xml)
		dialAndDID bool   // also an ACD offer (Server.Dial) and a DID call from the other carrier
	}{
		{name: "the trunk's address (issue 10)", ext: "3001", contact: "<sip:+4790000000@{trunk}>", refused: true},
		{name: "the trunk's address over tcp", ext: "3002", contact: "<sip:+4790000000@{trunk};transport=tcp>", refused: true},
		{name: "the trunk's address as sips", ext: "3003", contact: "<sips:+4790000000@{trunk}>", refused: true, early: true},
		{name: "maddr naming the trunk", ext: "3004", contact: "<sip:+4790000000@198.51.100.7:{trunkport};maddr=127.0.0.1>", refused: true},
		{name: "received naming the trunk", ext: "3005", contact: "<sip:+4790000000@198.51.100.7:5060>;received=\"sip:{trunk}\"", refused: true},
		{name: "ccswitch itself (a loop)", ext: "3006", contact: "<sip:3006@{self}>", refused: true},
		{name: "REGISTER addressed to the trunk", ext: "3007", contact: "<sip:3007@{own}>", ruri: "sip:{trunk}", refused: true},
		{name: "the trunk's IP on another port", ext: "3008", contact: fmt.Sprintf("<sip:+4790000000@127.0.0.1:%d>", otherPort)},
		{name: "a public address", ext: "3009", contact: "<sip:+4790000000@198.51.100.7:5060>", dialAndDID: true},
		{name: "an IPv6 address", ext: "3010", contact: "<sip:+4790000000@[2001:db8::1]:5060>"},
		{name: "an unusual user", ext: "3011", contact: "<sip:+4790000000;npdi;rn=+4790000001@{own};user=phone>"},
		{name: "a Record-Route naming the trunk in the phone's answer", ext: "3013", contact: "<sip:3013@{own}>", uas: "uas_rr.xml"},
	}
	refused := 1.0 // the REGISTER from the trunk above
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			phone := testenv.FreePortExcept(t, did2)
			own := fmt.Sprintf("127.0.0.1:%d", phone)
			fill := strings.NewReplacer("{own}", own, "{trunk}", trunkAddr, "{self}", ts.addr, "{trunkport}", fmt.Sprint(carrier)).Replace
			contact := fill(tc.contact)
			ruri := "sip:" + ts.addr
			if tc.ruri != "" {
				ruri = fill(tc.ruri)
			}
			scenario := "register_any.xml"
			if tc.refused {
				scenario = "register_any_403.xml"
				refused++
			}
			if tc.early {
				scenario = "register_any_403_now.xml"
			}
			startSIPp(t, "register "+tc.ext, append(sippArgs(scenario, phone, "-key", "user", tc.ext, "-key", "ruri", ruri,
				"-key", "contact", contact, "-au", tc.ext, "-ap", "secret"+tc.ext, "-auth_uri", strings.TrimPrefix(ruri, "sip:"), "-m", "1"), ts.addr)...).wait(t)
			if tc.refused {
				if got := ts.Registrar().Lookup(tc.ext); len(got) != 0 {
					t.Fatalf("refused REGISTER left bindings %+v", got)
				}
				uac(t, ts, "uac_auth_480.xml", "1004", tc.ext)
				return
			}
			got := ts.Registrar().Lookup(tc.ext)
			if len(got) != 1 || got[0].Dest != own {
				t.Fatalf("bindings %+v, want one reached at %s", got, own)
			}
			uasScenario := tc.uas
			if uasScenario == "" {
				uasScenario = "uas.xml"
			}
			answer := func() *sippRun {
				u := startSIPp(t, "phone "+tc.ext, sippArgs(uasScenario, phone, "-m", "1", "-key", "rr", trunkAddr)...)
				time.Sleep(100 * time.Millisecond)
				return u
			}
			u := answer()
			uac(t, ts, "uac_auth.xml", "1004", tc.ext)
			u.wait(t)
			if !tc.dialAndDID {
				return
			}
			u = answer()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			leg, err := ts.Dial(ctx, sip.DialRequest{Extension: tc.ext, CallerID: "+15550100", Timeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("ACD offer: %v", err)
			}
			leg.Hangup(ctx)
			u.wait(t)
			u = answer()
			startSIPp(t, "DID carrier", append(sippArgs("", did2, "-sn", "uac", "-s", "+15550199", "-m", "1", "-d", "200"), ts.addr)[2:]...).wait(t)
			u.wait(t)
		})
	}
	if got := fc.received(t); got != "" {
		t.Fatalf("the carrier received:\n%s", got)
	}
	if got := metricValue(t, reg, "ccswitch_sip_registrations_total", "forbidden"); got != refused {
		t.Errorf("registrations refused counted %v, want %v", got, refused)
	}
}

// TestSIPpDigestURIMustMatch: SIPp answers the 407 of an INVITE to 1002 with a digest uri of
// sip:ccswitch's-address (its default): credentials made for another Request-URI are
// refused (403), counted as uri-mismatch.
func TestSIPpDigestURIMustMatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := startServer(t, testConfig(), "", md5Only, sip.WithRegisterer(reg))
	startSIPp(t, "uac with SIPp's digest uri", append(sippArgs("uac_auth_403.xml", testenv.FreePort(t), "-key", "user", "1001",
		"-au", "1001", "-ap", "secret1001", "-s", "1002", "-m", "1"), ts.addr)...).wait(t)
	if got := metricValue(t, reg, "ccswitch_sip_auth_failures_total", "uri-mismatch"); got != 1 {
		t.Fatalf("uri-mismatch failures counted %v, want 1", got)
	}
}
