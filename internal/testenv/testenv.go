// Package testenv finds the external programs (SIPp, baresip, Kamailio, Chromium…) that
// ccswitch's tests drive as real peers, and decides what happens when one is missing.
//
// Under CI (CI=true) a missing tool fails the test loudly: CI installs every tool first, so a
// missing one is a broken install, never a reason to pass. Outside CI the test is skipped with
// a message naming the Debian package to install.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"testing"
)

// Packages maps a program to the Debian package that ships it.
var Packages = map[string]string{
	"sipp":      "sip-tester",
	"baresip":   "baresip",
	"sipsak":    "sipsak",
	"kamailio":  "kamailio",
	"rtpengine": "rtpengine-daemon",
	"chromium":  "chromium",
	"espeak-ng": "espeak-ng",
	"sox":       "sox",
	"tshark":    "tshark",
	"openssl":   "openssl",
}

// CI reports whether the tests run under CI, where every tool must be present.
func CI() bool { return os.Getenv("CI") == "true" }

// Tool returns the absolute path of program name. When it is missing the test fails under CI
// and is skipped, loudly, elsewhere.
func Tool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	pkg := Packages[name]
	if pkg == "" {
		pkg = name
	}
	if CI() {
		t.Fatalf("%s not found on PATH: CI must install Debian package %q (bash .ci/test.sh does)", name, pkg)
	}
	t.Skipf("SKIPPED: %s not found on PATH; install Debian package %q (apt-get install -y %s) to run this test", name, pkg, pkg)
	return ""
}

// FreePort returns a port of 127.0.0.1 that was free for both UDP and TCP a moment ago, for a
// test server or peer (SIP listens on both).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("testenv: no port free for both UDP and TCP on 127.0.0.1")
	return 0
}

// FreePortExcept is FreePort, never one of avoid: a port handed out before and not bound yet
// (a second peer's, a configured trunk's) is free again.
func FreePortExcept(t testing.TB, avoid ...int) int {
	t.Helper()
	for {
		p := FreePort(t)
		if !slices.Contains(avoid, p) {
			return p
		}
	}
}
