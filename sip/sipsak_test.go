package sip_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
)

// sipsak runs sipsak (bounded by its own T1×64 timeout) and returns its output and error.
func sipsak(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testenv.Tool(t, "sipsak")
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

// TestSipsakOptions: a second real client pings the server with OPTIONS and gets 200.
func TestSipsakOptions(t *testing.T) {
	ts := startServer(t, testConfig(), "")
	out, err := sipsak(t, "-vv", "-s", "sip:ccswitch@"+ts.addr)
	if err != nil {
		t.Fatalf("sipsak OPTIONS: %v\n%s", err, out)
	}
}

// TestSipsakRegister: sipsak registers extension 1003 with its password (digest, MD5
// challenge offered first) and the binding is there; a wrong password is refused.
func TestSipsakRegister(t *testing.T) {
	// sipsak 0.9.8 (like SIPp 3.6) answers only the first challenge and knows only MD5: with
	// the default SHA-256-first order it gives up ("unsupported authentication algorithm").
	{
		ts := startServer(t, testConfig(), "")
		out, err := sipsak(t, "-vv", "-U", "-C", "sip:1003@127.0.0.1:9", "-x", "600", "-u", "1003", "-a", "secret1003", "-s", "sip:1003@"+ts.addr)
		if err == nil || !strings.Contains(out, "algorithm=SHA-256") {
			t.Fatalf("expected sipsak to refuse the SHA-256 challenge: %v\n%s", err, out)
		}
	}
	for _, algs := range [][]string{{"MD5"}, {"MD5", "SHA-256"}} {
		t.Run(fmt.Sprint(algs), func(t *testing.T) {
			ts := startServer(t, testConfig(), "", sip.WithDigestAlgorithms(algs...))
			contact := fmt.Sprintf("sip:1003@127.0.0.1:%d", testenv.FreePort(t))
			out, err := sipsak(t, "-vv", "-U", "-C", contact, "-x", "600", "-u", "1003", "-a", "secret1003", "-s", "sip:1003@"+ts.addr)
			if err != nil {
				t.Fatalf("sipsak register: %v\n%s", err, out)
			}
			got := ts.Registrar().Lookup("1003")
			if len(got) != 1 || got[0].Contact != contact {
				t.Fatalf("bindings %+v, want %s\n%s", got, contact, out)
			}
			out, err = sipsak(t, "-vv", "-U", "-C", contact, "-x", "600", "-u", "1003", "-a", "wrong", "-s", "sip:1003@"+ts.addr)
			if err == nil {
				t.Fatalf("wrong password accepted\n%s", out)
			}
		})
	}
}
