package sip_test

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/ccswitch/ccswitch/store"
)

// md5Only: SIPp 3.6.1 reads only the first challenge and knows only MD5.
var md5Only = sip.WithDigestAlgorithms("MD5")

// authURI is the -auth_uri of a SIPp INVITE to service (SIPp puts "sip:" before it): its
// Request-URI. SIPp's default (sip:remote_ip:remote_port) is refused, since the digest uri
// must name the Request-URI.
func authURI(service, addr string) string { return service + "@" + addr }

// registerContact registers ext for a contact at 127.0.0.1:cport through SIPp, sending
// from that port as a phone does: calls reach a contact only through the address it
// registered from.
func registerContact(t testing.TB, ts *testServer, ext string, cport int) {
	t.Helper()
	r := startSIPp(t, "register "+ext, append(sippArgs("register_as.xml", cport,
		"-key", "user", ext, "-key", "cport", fmt.Sprint(cport), "-key", "exp", "3600",
		"-au", ext, "-ap", "secret"+ext, "-m", "1"), ts.addr)...)
	r.wait(t)
}

// records waits until n call records are stored and returns them.
func records(t testing.TB, ts *testServer, n int) []store.CallRecord {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		recs, err := ts.st.CallRecords(time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= n || time.Now().After(deadline) {
			if len(recs) < n {
				t.Fatalf("%d call records, want %d: %+v", len(recs), n, recs)
			}
			return recs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIPpExtensionToExtension: 1002 registers a SIPp UAS; 1001 (SIPp UAC) authenticates
// with a 407 and calls 1002; the call is answered and the caller hangs up. The record
// has two legs, code 200, cause caller-bye.
func TestSIPpExtensionToExtension(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	uasPort := testenv.FreePort(t)
	registerContact(t, ts, "1002", uasPort)
	uas := startSIPp(t, "uas", sippArgs("uas.xml", uasPort, "-m", "1")...)
	time.Sleep(100 * time.Millisecond) // SIPp binds its socket
	uac := startSIPp(t, "uac", append(sippArgs("uac_auth.xml", testenv.FreePort(t), "-key", "user", "1001", "-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("1002", ts.addr), "-s", "1002", "-m", "1"), ts.addr)...)
	uac.wait(t)
	uas.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || rec.Cause != "caller-bye" || len(rec.Legs) != 2 || rec.Direction != "internal" || rec.From != "1001" || rec.To != "1002" {
		t.Fatalf("record %+v", rec)
	}
	if rec.Legs[0].CallID == rec.Legs[1].CallID {
		t.Fatal("leg B reused leg A's Call-ID")
	}
}

// TestSIPpTrunkToDID: the carrier (SIPp UAC from the trunk's source port, no auth) calls
// +15550100; the number's target 2000 has a static contact where a SIPp UAS answers.
// The DID is also dialled without its '+'.
func TestSIPpTrunkToDID(t *testing.T) {
	for _, did := range []string{"+15550100", "15550100"} {
		t.Run(did, func(t *testing.T) {
			cfg, carrier, uasPort := trunkConfig(t)
			ts := startServer(t, cfg, "", md5Only)
			uas := startSIPp(t, "uas 2000", sippArgs("uas.xml", uasPort, "-m", "1")...)
			time.Sleep(100 * time.Millisecond)
			uac := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", did, "-m", "1", "-d", "200"), ts.addr)[2:]...)
			uac.wait(t)
			uas.wait(t)
			rec := records(t, ts, 1)[0]
			if rec.Code != 200 || rec.Direction != "inbound" || rec.Trunk != "carrier" || len(rec.Legs) != 2 {
				t.Fatalf("record %+v", rec)
			}
		})
	}
}

// trunkConfig adds the demo's trunk and numbers with fresh ports: the carrier's source
// port, and extension 2000's static contact port.
func trunkConfig(t testing.TB) (cfg *config.Config, carrierPort, uasPort int) {
	cfg = testConfig()
	carrierPort = testenv.FreePort(t)
	uasPort = testenv.FreePortExcept(t, carrierPort)
	cfg.Users = append(cfg.Users, config.User{Extension: "2000", Secret: "secret2000", Contact: fmt.Sprintf("sip:2000@127.0.0.1:%d", uasPort)})
	cfg.Trunks = []config.Trunk{{Name: "carrier", Sources: []string{fmt.Sprintf("127.0.0.1:%d", carrierPort)}, Outbound: fmt.Sprintf("127.0.0.1:%d", carrierPort)}}
	off := config.Duration(0)
	cfg.Trunks[0].OptionsInterval = &off
	cfg.Numbers = []config.Number{{DID: "+15550100", Target: "2000"}, {DID: "+15550101", Target: "1001"}}
	return cfg, carrierPort, uasPort
}

// waitGoroutines waits for the goroutine count to come back to at most base+slack.
func waitGoroutines(t testing.TB, base, slack int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+slack {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			m := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines after the calls, baseline %d\n%s", n, base, stacks(string(buf[:m])))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stacks keeps the first line of each goroutine's top frame, to keep failures readable.
func stacks(s string) string {
	var b strings.Builder
	for _, g := range strings.Split(s, "\n\n") {
		lines := strings.Split(g, "\n")
		if len(lines) > 2 {
			b.WriteString(lines[0] + " " + lines[1] + "\n")
		}
	}
	return b.String()
}

// TestSIPpCallsLeaveNoGoroutines: 30 carrier calls through the B2BUA; afterwards the
// goroutine count returns to what it was before (no per-call goroutine lingers).
func TestSIPpCallsLeaveNoGoroutines(t *testing.T) {
	cfg, carrier, uasPort := trunkConfig(t)
	ts := startServer(t, cfg, "", md5Only)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	uas := startSIPp(t, "uas 2000", sippArgs("uas.xml", uasPort, "-m", "30")...)
	time.Sleep(100 * time.Millisecond)
	uac := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550100", "-m", "30", "-r", "30", "-d", "0"), ts.addr)[2:]...)
	uac.wait(t)
	uas.wait(t)
	records(t, ts, 30)
	// SIPp processes are gone: the reaper goroutines of exec are too.
	waitGoroutines(t, base, 2)
}
