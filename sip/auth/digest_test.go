package auth

import (
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
		if r := a.Check("REGISTER", []string{respond(t, ch, "REGISTER", "1001", "secret1001", 1)}); r.Status != OK || r.Username != "1001" {
			t.Errorf("alg %d: good password: %+v", alg, r)
		}
		if r := a.Check("REGISTER", []string{respond(t, ch, "REGISTER", "1001", "wrong", 2)}); r.Status != Invalid {
			t.Errorf("alg %d: wrong password: %+v", alg, r)
		}
		if r := a.Check("INVITE", []string{respond(t, ch, "REGISTER", "1001", "secret1001", 3)}); r.Status != Invalid {
			t.Errorf("alg %d: response for another method accepted: %+v", alg, r)
		}
	}
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	a, _ := newAuth()
	ch := a.Challenges(false)[0]
	unknown := a.Check("REGISTER", []string{respond(t, ch, "REGISTER", "9999", "secret1001", 1)})
	wrong := a.Check("REGISTER", []string{respond(t, ch, "REGISTER", "1001", "nope", 1)})
	if unknown.Status != Invalid || wrong.Status != Invalid {
		t.Fatalf("unknown=%v wrong=%v, both must be Invalid", unknown.Status, wrong.Status)
	}
}

func TestNonceExpiryIsStale(t *testing.T) {
	a, now := newAuth()
	ch := a.Challenges(false)[0]
	h := respond(t, ch, "REGISTER", "1001", "secret1001", 1)
	*now = now.Add(2 * time.Minute)
	if r := a.Check("REGISTER", []string{h}); r.Status != Stale {
		t.Fatalf("expired nonce: %v, want stale", r.Status)
	}
	c, _ := digest.ParseChallenge(a.Challenges(true)[0])
	if !c.Stale {
		t.Fatal("Challenges(true) has no stale=true")
	}
	// A stale nonce with a wrong password is not stale: it is invalid.
	if r := a.Check("REGISTER", []string{respond(t, ch, "REGISTER", "1001", "x", 1)}); r.Status != Invalid {
		t.Fatalf("expired nonce, wrong password: %v", r.Status)
	}
}

func TestNCReplayRejected(t *testing.T) {
	a, _ := newAuth()
	ch := a.Challenges(false)[1]
	h1 := respond(t, ch, "REGISTER", "1001", "secret1001", 1)
	if r := a.Check("REGISTER", []string{h1}); r.Status != OK {
		t.Fatalf("first use: %v", r.Status)
	}
	if r := a.Check("REGISTER", []string{h1}); r.Status != Invalid {
		t.Fatalf("replay of nc=1: %v, want invalid", r.Status)
	}
	if r := a.Check("REGISTER", []string{respond(t, ch, "REGISTER", "1001", "secret1001", 2)}); r.Status != OK {
		t.Fatalf("nc=2: %v", r.Status)
	}
}

func TestForgedNonceIsNotAccepted(t *testing.T) {
	a, _ := newAuth()
	forged := `Digest realm="ccswitch", nonce="18000.0011223344556677.00", algorithm=MD5, qop="auth"`
	if r := a.Check("REGISTER", []string{respond(t, forged, "REGISTER", "1001", "secret1001", 1)}); r.Status == OK || r.Status == Stale {
		t.Fatalf("forged nonce: %v", r.Status)
	}
	other := New("ccswitch", []byte("other key"), time.Minute)
	other.SetAccounts(map[string]string{"1001": "secret1001"})
	if r := a.Check("REGISTER", []string{respond(t, other.Challenges(false)[0], "REGISTER", "1001", "secret1001", 1)}); r.Status == OK {
		t.Fatal("nonce of another key accepted")
	}
}

func TestOtherRealmIsMissing(t *testing.T) {
	a, _ := newAuth()
	h := respond(t, `Digest realm="elsewhere", nonce="x", qop="auth"`, "REGISTER", "1001", "secret1001", 1)
	if r := a.Check("REGISTER", []string{h}); r.Status != Missing {
		t.Fatalf("other realm: %v", r.Status)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(0, 0)
	th := NewThrottle(3, time.Minute)
	th.SetNow(func() time.Time { return now })
	for range 3 {
		if th.Blocked("10.0.0.1") {
			t.Fatal("blocked too early")
		}
		th.Fail("10.0.0.1")
	}
	if !th.Blocked("10.0.0.1") {
		t.Fatal("not blocked after 3 failures")
	}
	if th.Blocked("10.0.0.2") {
		t.Fatal("another source blocked")
	}
	now = now.Add(2 * time.Minute)
	if th.Blocked("10.0.0.1") {
		t.Fatal("still blocked after the window")
	}
}
