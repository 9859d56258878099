package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/config"
)

// TestDummyHashCost: the hash an unknown agent id is compared against has the cost most of
// the agents' hashes have (on main it had bcrypt's minimum: a timing oracle for agent ids).
func TestDummyHashCost(t *testing.T) {
	hash := func(cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range []struct {
		name  string
		costs []int
		want  int
	}{
		{"no agents", nil, bcrypt.DefaultCost},
		{"all at the default", []int{10, 10}, 10},
		{"all at the minimum", []int{4, 4, 4}, 4},
		{"most at 6", []int{6, 6, 8}, 6},
		{"a tie takes the higher", []int{5, 7}, 7},
	} {
		var hs [][]byte
		for _, c := range tc.costs {
			hs = append(hs, hash(c))
		}
		hs = append(hs, nil, []byte("not a hash")) // agents without a password
		got, err := bcrypt.Cost(dummyHash(hs, nil))
		if err != nil || got != tc.want {
			t.Errorf("%s: dummy cost %d (%v), want %d", tc.name, got, err, tc.want)
		}
	}
	old := hash(5)
	if got := dummyHash([][]byte{hash(5)}, old); string(got) != string(old) {
		t.Error("a reload with the same cost made a new dummy hash")
	}
}

// TestInternalErrorsNotEchoed: a 5xx answer carries its status text only; 4xx answers keep
// their message (it is about the client's own request).
func TestInternalErrorsNotEchoed(t *testing.T) {
	s := &Server{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		err  error
		code int
		body string
	}{
		{errors.New("store: read \"cust/x\": pebble: /var/lib/ccswitch/000123.sst: input/output error"), 500, "Internal Server Error"},
		{fmt.Errorf("channels: send: %w: dial tcp 10.0.0.7:443: connection refused", channels.ErrNoAdapter), 502, "Bad Gateway"},
		{fmt.Errorf("channels: conversation c1: %w", channels.ErrNotFound), 404, "channels: conversation c1: not found"},
	} {
		w := httptest.NewRecorder()
		s.fail(w, tc.err)
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) || (tc.code >= 500 && strings.Contains(w.Body.String(), "10.0.0.7")) ||
			strings.Contains(w.Body.String(), "/var/lib") {
			t.Errorf("%v: %d %q", tc.err, w.Code, w.Body.String())
		}
	}
}

// TestEdgeSourceAndHost: who the client is (X-Forwarded-For believed only from trusted
// proxies, walked from the right past them; IPv6 counted per /64), whether it came over TLS,
// and which Host headers name this server.
func TestEdgeSourceAndHost(t *testing.T) {
	e := newEdge(config.HTTP{Listen: "192.0.2.10:8080", HTTPSecurity: config.HTTPSecurity{TrustedProxies: []string{"10.0.0.0/8", "::1"}}})
	for _, tc := range []struct {
		remote, xff, xfp string
		key              string
		secure           bool
	}{
		{"203.0.113.5:4000", "", "", "203.0.113.5", false},
		{"203.0.113.5:4000", "198.51.100.7", "https", "203.0.113.5", false},              // untrusted peer: headers ignored
		{"10.1.2.3:4000", "198.51.100.7", "https", "198.51.100.7", true},                 // the proxy's client
		{"10.1.2.3:4000", "198.51.100.7, 10.9.9.9", "http, https", "198.51.100.7", true}, // two proxies
		{"10.1.2.3:4000", "1.1.1.1, 198.51.100.7", "", "198.51.100.7", false},            // a client's own claim is left of its address
		{"10.1.2.3:4000", "garbage", "", "10.1.2.3", false},                              // unparsable: the proxy itself
		{"[::1]:4000", "2001:db8:1:2:aaaa::1", "", "2001:db8:1:2::/64", false},           // IPv6 per /64
		{"[2001:db8:1:2:bbbb::2]:4000", "", "", "2001:db8:1:2::/64", false},              // same /64, same key
		{"[::ffff:203.0.113.5]:4000", "", "", "203.0.113.5", false},                      // v4-mapped is v4
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.xfp != "" {
			r.Header.Set("X-Forwarded-Proto", tc.xfp)
		}
		if got := e.sourceKey(r); got != tc.key {
			t.Errorf("%s XFF %q: source %s, want %s", tc.remote, tc.xff, got, tc.key)
		}
		if got := e.secure(r); got != tc.secure {
			t.Errorf("%s XFP %q: secure %v, want %v", tc.remote, tc.xfp, got, tc.secure)
		}
	}
	for host, want := range map[string]bool{"192.0.2.10:8080": true, "192.0.2.10": true, "localhost:1": true, "[::1]:8080": true,
		"LOCALHOST.": true, "": false, "192.0.2.11:8080": false, "localhost.evil.example": false, "[::2]": false} {
		if got := e.hostAllowed(host); got != want {
			t.Errorf("Host %q allowed %v, want %v", host, got, want)
		}
	}
}
