package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/icholy/digest"
)

// respond plays a client: it answers challenge value chal for user/password.
func respond(t *testing.T, chal, method, user, password string, nc int) string {
	t.Helper()
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: method, URI: "sip:ccswitch", Username: user, Password: password, Count: nc, Cnonce: "0a4f113b"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func newAuth() (*Authenticator, *time.Time) {
	now := time.Unix(1_800_000_000, 0)
	a := New("ccswitch", []byte("k"), time.Minute)
	a.SetNow(func() time.Time { return now })
	a.SetAccounts(map[string]string{"1001": "secret1001"})
	return a, &now
}

func TestChallengesOfferSHA256ThenMD5(t *testing.T) {
	a, _ := newAuth()
	ch := a.Challenges(false)
	if len(ch) != 2 {
		t.Fatalf("got %d challenges", len(ch))
	}
	for i, want := range []string{SHA256, MD5} {
		c, err := digest.ParseChallenge(ch[i])
		if err != nil {
			t.Fatal(err)
		}
		if c.Algorithm != want || !c.SupportsQOP("auth") || c.Stale || c.Realm != "ccswitch" {
			t.Errorf("challenge %d = %+v, want %s qop=auth", i, c, want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, alg := range []int{0, 1} {
		a, _ := newAuth()
		ch := a.Challenges(false)[alg]
		if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "secret1001", 1)}); r.Status != OK || r.Username != "1001" {
			t.Errorf("alg %d: good password: %+v", alg, r)
		}
		if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "wrong", 2)}); r.Status != Invalid {
			t.Errorf("alg %d: wrong password: %+v", alg, r)
		}
		if r := a.Check("INVITE", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "secret1001", 3)}); r.Status != Invalid {
			t.Errorf("alg %d: response for another method accepted: %+v", alg, r)
		}
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	a, _ := newAuth()
	ch := a.Challenges(false)[0]
	unknown := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "9999", "secret1001", 1)})
	wrong := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "nope", 1)})
	if unknown.Status != Invalid || wrong.Status != Invalid {
		t.Fatalf("unknown=%v wrong=%v, both must be Invalid", unknown.Status, wrong.Status)
	}
}

func TestNonceExpiryIsStale(t *testing.T) {
	a, now := newAuth()
	ch := a.Challenges(false)[0]
	h := respond(t, ch, "REGISTER", "1001", "secret1001", 1)
	*now = now.Add(2 * time.Minute)
	if r := a.Check("REGISTER", "sip:ccswitch", []string{h}); r.Status != Stale {
		t.Fatalf("expired nonce: %v, want stale", r.Status)
	}
	c, _ := digest.ParseChallenge(a.Challenges(true)[0])
	if !c.Stale {
		t.Fatal("Challenges(true) has no stale=true")
	}
	// A stale nonce with a wrong password is not stale: it is invalid.
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "x", 1)}); r.Status != Invalid {
		t.Fatalf("expired nonce, wrong password: %v", r.Status)
	}
}

func TestNCReplayRejected(t *testing.T) {
	a, _ := newAuth()
	ch := a.Challenges(false)[1]
	h1 := respond(t, ch, "REGISTER", "1001", "secret1001", 1)
	if r := a.Check("REGISTER", "sip:ccswitch", []string{h1}); r.Status != OK {
		t.Fatalf("first use: %v", r.Status)
	}
	if r := a.Check("REGISTER", "sip:ccswitch", []string{h1}); r.Status != Invalid {
		t.Fatalf("replay of nc=1: %v, want invalid", r.Status)
	}
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "secret1001", 2)}); r.Status != OK {
		t.Fatalf("nc=2: %v", r.Status)
	}
}

func TestForgedNonceIsNotAccepted(t *testing.T) {
	a, _ := newAuth()
	forged := `Digest realm="ccswitch", nonce="18000.0011223344556677.00", algorithm=MD5, qop="auth"`
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, forged, "REGISTER", "1001", "secret1001", 1)}); r.Status == OK || r.Status == Stale {
		t.Fatalf("forged nonce: %v", r.Status)
	}
	other := New("ccswitch", []byte("other key"), time.Minute)
	other.SetAccounts(map[string]string{"1001": "secret1001"})
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, other.Challenges(false)[0], "REGISTER", "1001", "secret1001", 1)}); r.Status == OK {
		t.Fatal("nonce of another key accepted")
	}
}

func TestOtherRealmIsMissing(t *testing.T) {
	a, _ := newAuth()
	h := respond(t, `Digest realm="elsewhere", nonce="x", qop="auth"`, "REGISTER", "1001", "secret1001", 1)
	if r := a.Check("REGISTER", "sip:ccswitch", []string{h}); r.Status != Missing {
		t.Fatalf("other realm: %v", r.Status)
	}
}

// respondURI is respond for a digest uri other than sip:ccswitch.
func respondURI(t *testing.T, chal, method, uri, user, password string, nc int) string {
	t.Helper()
	c, err := digest.ParseChallenge(chal)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(c, digest.Options{Method: method, URI: uri, Username: user, Password: password, Count: nc, Cnonce: "0a4f113b"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

// TestURIMustBeTheRequestURI: credentials computed for one Request-URI are refused on a
// request to another (a captured INVITE to 1002 replayed towards a premium number), whatever
// the spelling of an equal URI.
func TestURIMustBeTheRequestURI(t *testing.T) {
	for _, tc := range []struct {
		digestURI, requestURI string
		ok                    bool
	}{
		{"sip:1002@127.0.0.1:5060", "sip:1002@127.0.0.1:5060", true},
		{"sip:1002@EXAMPLE.com", "sip:1002@example.com", true},
		{"sip:1002@example.com", "sip:1002@example.com:5060", true},
		{"sip:%31002@example.com", "sip:1002@example.com", true},
		{"sip:1002@example.com;lr;foo=bar", "sip:1002@example.com", true},
		{"sip:1002@example.com", "sip:+4790000000@example.com", false},
		{"sip:1002@example.com", "sip:1002@127.0.0.1", false},
		{"sip:1002@example.com:5080", "sip:1002@example.com", false},
		{"sip:1002@example.com", "sips:1002@example.com", false},
		{"sip:1002@example.com", "sip:1002@example.com;maddr=127.0.0.1", false},
		{"sip:1002@example.com;transport=udp", "sip:1002@example.com;transport=tcp", false},
		{"sip:1002@example.com;user=phone", "sip:1002@example.com", false},
		{"garbage", "sip:1002@example.com", false},
	} {
		a, _ := newAuth()
		ch := a.Challenges(false)[0]
		r := a.Check("INVITE", tc.requestURI, []string{respondURI(t, ch, "INVITE", tc.digestURI, "1001", "secret1001", 1)})
		if ok := r.Status == OK; ok != tc.ok {
			t.Errorf("digest uri %q, Request-URI %q: %+v, want ok=%v", tc.digestURI, tc.requestURI, r, tc.ok)
		}
		if !tc.ok && r.Reason != ReasonURI {
			t.Errorf("digest uri %q, Request-URI %q: reason %q, want %q", tc.digestURI, tc.requestURI, r.Reason, ReasonURI)
		}
	}
}

// TestAlgorithmMustBeOffered: with only SHA-256 configured, an MD5 response (a downgrade,
// or a client ignoring the challenge) is refused even with the right password; with only
// MD5, SHA-256 is refused likewise.
func TestAlgorithmMustBeOffered(t *testing.T) {
	a, _ := newAuth()
	both := a.Challenges(false) // SHA-256, MD5: the nonce is ours and valid
	a.SetAlgorithms(SHA256)
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, both[1], "REGISTER", "1001", "secret1001", 1)}); r.Status != Invalid || r.Reason != ReasonAlgorithm {
		t.Fatalf("MD5 with only SHA-256 configured: %+v", r)
	}
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, both[0], "REGISTER", "1001", "secret1001", 2)}); r.Status != OK {
		t.Fatalf("SHA-256: %+v", r)
	}
	if len(a.Challenges(false)) != 1 {
		t.Fatal("SHA-256 only must offer one challenge")
	}
	a.SetAlgorithms(MD5)
	if r := a.Check("REGISTER", "sip:ccswitch", []string{respond(t, both[0], "REGISTER", "1001", "secret1001", 3)}); r.Status != Invalid || r.Reason != ReasonAlgorithm {
		t.Fatalf("SHA-256 with only MD5 configured: %+v", r)
	}
	unknown := `Digest username="1001", realm="ccswitch", nonce="x", uri="sip:ccswitch", response="00", algorithm=SHA-512-256, qop=auth, nc=00000001, cnonce="c"`
	if r := a.Check("REGISTER", "sip:ccswitch", []string{unknown}); r.Status != Invalid || r.Reason != ReasonAlgorithm {
		t.Fatalf("unknown algorithm: %+v", r)
	}
}

// TestNCWindow: requests sharing a nonce may arrive out of order over UDP (nc 1, 3, 2):
// each is accepted once; a repeated nc and one older than the window are replays.
func TestNCWindow(t *testing.T) {
	a, _ := newAuth()
	ch := a.Challenges(false)[1]
	check := func(nc int) Result {
		return a.Check("REGISTER", "sip:ccswitch", []string{respond(t, ch, "REGISTER", "1001", "secret1001", nc)})
	}
	for _, step := range []struct {
		nc int
		ok bool
	}{
		{1, true}, {3, true}, {2, true}, // reordered
		{2, false}, {3, false}, {1, false}, // replays
		{40, true}, {9, true}, {9, false}, // 9 is 31 below 40: inside the window, once
		{8, false}, // 32 below: outside the window
		{200, true}, {199, true}, {40, false},
	} {
		r := check(step.nc)
		if ok := r.Status == OK; ok != step.ok {
			t.Fatalf("nc %d: %+v, want ok=%v", step.nc, r, step.ok)
		}
		if !step.ok && r.Reason != ReasonReplay {
			t.Fatalf("nc %d: reason %q, want %q", step.nc, r.Reason, ReasonReplay)
		}
	}
}

func TestMalformedCredentials(t *testing.T) {
	a, _ := newAuth()
	ch, _ := digest.ParseChallenge(a.Challenges(false)[1])
	noQOP := `Digest username="1001", realm="ccswitch", nonce="` + ch.Nonce + `", uri="sip:ccswitch", response="0123", algorithm=MD5`
	if r := a.Check("REGISTER", "sip:ccswitch", []string{noQOP}); r.Status != Invalid || r.Reason != ReasonMalformed {
		t.Fatalf("no qop: %+v", r)
	}
}

// TestThrottlePerSourceAndUser: one username failing from an address (a phone with a wrong
// password behind an office NAT) is refused there, the other usernames from the same
// address are not; a source trying many usernames is refused as a whole; both end with the
// window.
func TestThrottlePerSourceAndUser(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle(3, 4, time.Minute)
	th.SetNow(func() time.Time { return now })
	const office = "198.51.100.7"
	for range 3 {
		if th.Blocked(office, "1001") {
			t.Fatal("1001 blocked too early")
		}
		th.Fail(office, "1001")
	}
	if !th.Blocked(office, "1001") {
		t.Fatal("1001 not blocked after 3 failures")
	}
	if th.Blocked(office, "1002") || th.SourceBlocked(office) {
		t.Fatal("one bad phone locked out the whole office")
	}
	if th.Blocked("203.0.113.9", "1001") {
		t.Fatal("1001 blocked from another source")
	}
	// A scanner: one failure each for many usernames.
	const scanner = "192.0.2.66"
	for i := range 4 {
		if th.SourceBlocked(scanner) {
			t.Fatalf("scanner blocked after %d usernames, want 4", i)
		}
		th.Fail(scanner, fmt.Sprint("user", i))
	}
	if !th.SourceBlocked(scanner) || !th.Blocked(scanner, "never-tried") {
		t.Fatal("a source that failed 4 usernames is not blocked")
	}
	th.Fail(scanner, "more") // refused attempts are not counted; nothing grows
	now = now.Add(2 * time.Minute)
	if th.Blocked(office, "1001") || th.SourceBlocked(scanner) {
		t.Fatal("still blocked after the window")
	}
	th.Sweep()
	for i := range th.shards {
		if n := len(th.shards[i].m); n != 0 {
			t.Fatalf("sweep left %d sources", n)
		}
	}
}

// TestThrottleBounded: failures from more sources than a shard holds evict, never grow
// without bound.
func TestThrottleBounded(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle(3, 4, time.Minute)
	th.SetNow(func() time.Time { return now })
	for i := range maxSourcesPerShard * len(th.shards) * 2 {
		th.Fail(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "u")
	}
	for i := range th.shards {
		if n := len(th.shards[i].m); n > maxSourcesPerShard {
			t.Fatalf("shard %d holds %d sources, bound %d", i, n, maxSourcesPerShard)
		}
	}
}
