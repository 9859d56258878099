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
	code := run([]string{"-targets", "direct", "-rates", "50", "-step", "1s", "-gap", "0s", "-total", "30s", "-quiet", "0",
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
