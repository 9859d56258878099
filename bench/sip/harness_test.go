package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// TestHarnessDirect runs the whole harness for about two seconds with real SIPp: the UAC calls
// the UAS directly (target "direct"), so neither ccswitch nor Kamailio is needed.
func TestHarnessDirect(t *testing.T) {
	testenv.Tool(t, "sipp")
	if testing.Short() {
		t.Skip("starts SIPp; skipped with -short")
	}
	// Ports the kernel just handed out, not 5080/5090, which ccswitch's own tests may use.
	uac, uas := testenv.FreePort(t), testenv.FreePort(t)
	var out strings.Builder
	// -max-p99 1s: the latency bound is the table tests' business; a starved shared machine
	// must not fail this plumbing test.
	code := run([]string{"-targets", "direct", "-rates", "50", "-step", "1s", "-gap", "0s", "-total", "30s", "-quiet", "0", "-max-p99", "1s",
		"-uac-port", strconv.Itoa(uac), "-uas-port", strconv.Itoa(uas)}, &out)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"direct      50/s calls     50 ok     50 fail     0 uas-fail 0",
		"| direct | 50 | 50 | 50 | 0 | 0 |",
		"- **direct**: ≥ 50 calls/s",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestHarnessKamailioRegistrar runs the registration ladder for a few seconds against the real
// Kamailio registrar of kamailio-registrar.cfg (digest qop=auth, credentials loaded from the
// db_text file the harness writes, usrloc in memory) with the harness's SIPp scenario and
// injection file: every registration of 20 users is answered 200, and the step is clean.
func TestHarnessKamailioRegistrar(t *testing.T) {
	testenv.Tool(t, "sipp")
	testenv.Tool(t, "kamailio")
	if testing.Short() {
		t.Skip("starts SIPp and Kamailio; skipped with -short")
	}
	old := kamRegPort
	kamRegPort = testenv.FreePort(t)
	defer func() { kamRegPort = old }()
	var out strings.Builder
	code := run([]string{"-targets", "kamailio", "-runs", "registrations", "-reg-rates", "20", "-reg-users", "20", "-step", "2s", "-max-p99", "1s",
		"-gap", "0s", "-total", "60s", "-quiet", "0", "-memory=false", "-reg-port", strconv.Itoa(testenv.FreePort(t))}, &out)
	t.Log(out.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"kamailio    20/s regs      40 ok     40 fail     0",
		"- **kamailio**: ≥ 20 registrations/s",
		"ratio ccswitch/kamailio registrations/s=n/a\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
