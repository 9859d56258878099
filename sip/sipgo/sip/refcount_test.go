package sip

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestReleaseAfterHardClose: a connection hard-closed (Close zeroes its count) while two
// transactions still hold it gets their two releases afterwards. Upstream logged each at Warn
// on the default logger ("TCP ref went negative"), outside the application's logger and its
// rate limit; the fork takes them as what they are: the count stays at zero, nothing is
// closed twice, nothing is logged above Debug.
func TestReleaseAfterHardClose(t *testing.T) {
	var logged bytes.Buffer
	SetDefaultLogger(slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo})))
	defer SetDefaultLogger(nil)

	pipe := func() (net.Conn, net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}
	a, _ := pipe()
	tcp := &TCPConnection{Conn: a}
	w, _ := pipe()
	ws := &WSConnection{Conn: w}
	for _, c := range []Connection{tcp, ws} {
		c.Ref(2) // two transactions hold it
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if ref, err := c.TryClose(); ref != 0 || err != nil {
				t.Fatalf("%T: release %d after the hard close: ref %d, error %v", c, i+1, ref, err)
			}
		}
		// The count did not go below zero: one new holder and its release close it.
		if ref := c.Ref(1); ref != 1 {
			t.Fatalf("%T: count after a new reference = %d, want 1", c, ref)
		}
	}
	if s := logged.String(); strings.Contains(s, "negative") || strings.Contains(s, "level=WARN") {
		t.Fatalf("logged above Debug:\n%s", s)
	}
}
