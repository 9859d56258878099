package sip

import (
	"fmt"
	"github.com/icholy/digest"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"strings"
	"testing"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/sipgo/siptest"
)

// TestRetransmittedInviteIsNotASecondCall: when sipgo lets an INVITE transaction go early
// (its 100 timer can fire after the final answer), the caller's retransmission arrives as a
// new transaction; it must not start the call again.
func TestRetransmittedInviteIsNotASecondCall(t *testing.T) {
	s := newOfflineServer(t)
	h := s.wrap(s.route)
	msg := func(branch string) *gsip.Request {
		m, err := gsip.ParseMessage([]byte("INVITE sip:+15550199@ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK" + branch + "\r\n" +
			"From: <sip:carrier@198.51.100.7>;tag=a\r\nTo: <sip:+15550199@ccswitch>\r\nCall-ID: dup\r\nCSeq: 7 INVITE\r\n" +
			"Contact: <sip:c@198.51.100.7>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*gsip.Request)
		req.SetSource("198.51.100.7:5060")
		req.SetTransport("UDP")
		return req
	}
	run := func(req *gsip.Request) []*gsip.Response {
		tx := siptest.NewServerTxRecorder(req)
		done := make(chan struct{})
		go func() { defer close(done); h(req, tx) }()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			select {
			case <-done:
				return tx.Result()
			default:
			}
			final := false
			for _, r := range tx.Result() {
				final = final || r.StatusCode >= 200
			}
			if final {
				break
			}
			time.Sleep(time.Millisecond)
		}
		tx.Terminate()
		<-done
		return tx.Result()
	}
	first := run(msg("one"))
	if len(first) == 0 || first[len(first)-1].StatusCode != 480 {
		t.Fatalf("first INVITE (flow number, no App): %v", first)
	}
	if again := run(msg("two")); len(again) != 0 {
		t.Fatalf("the retransmission was handled again: %v", again)
	}
}

// TestLockoutPerSourceAndUser: a phone answering with a wrong password is locked out after
// sip.auth_lockout.failures (5) failures, even with the right one then, and other users
// behind the same address (an office NAT) still register; a source that fails 4 usernames
// gets 403 even without credentials (no more challenges to guess against); another address
// is unaffected.
func TestLockoutPerSourceAndUser(t *testing.T) {
	s := newOfflineServer(t)
	h := s.wrap(s.route)
	n := 0
	register := func(user, src, auth string) int {
		n++
		msg := "REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP " + src + ";branch=z9hG4bKthr" + itoa(n) + "\r\n" +
			"From: <sip:" + user + "@ccswitch>;tag=t\r\nTo: <sip:" + user + "@ccswitch>\r\nCall-ID: thr" + itoa(n) + "\r\nCSeq: 1 REGISTER\r\n" +
			"Contact: <sip:" + user + "@" + src + ">\r\n" + auth + "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
		m, err := gsip.ParseMessage([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*gsip.Request)
		req.SetSource(src + ":5060")
		req.SetTransport("UDP")
		tx := siptest.NewServerTxRecorder(req)
		h(req, tx)
		tx.Terminate()
		res := tx.Result()
		if len(res) == 0 {
			t.Fatal("no response")
		}
		return res[len(res)-1].StatusCode
	}
	chal, err := digest.ParseChallenge(s.auth.Challenges(false)[1])
	if err != nil {
		t.Fatal(err)
	}
	nc := 0
	creds := func(user, password string) string {
		nc++
		c, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:ccswitch", Username: user, Password: password, Count: nc, Cnonce: "c"})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + c.String() + "\r\n"
	}
	const office = "192.0.2.9"
	for i := range 5 {
		if code := register("1001", office, creds("1001", "wrong")); code != 403 {
			t.Fatalf("wrong password %d: %d, want 403", i, code)
		}
	}
	if code := register("1001", office, creds("1001", "s1")); code != 403 {
		t.Fatalf("locked-out user with the right password: %d, want 403", code)
	}
	if code := register("1002", office, creds("1002", "s2")); code != 200 {
		t.Fatalf("another phone behind the same address: %d, want 200", code)
	}
	if code := register("1002", office, ""); code != 401 {
		t.Fatalf("the office without credentials: %d, want 401", code)
	}
	for _, u := range []string{"2001", "2002", "2003"} { // with 1001: four usernames failed
		register(u, office, creds(u, "guess"))
	}
	if code := register("1002", office, ""); code != 403 {
		t.Fatalf("source that failed 4 usernames, without credentials: %d, want 403", code)
	}
	if code := register("1001", "192.0.2.10", ""); code != 401 {
		t.Fatalf("another source: %d, want 401", code)
	}
	if got := testutil.ToFloat64(s.metrics.authFailures.WithLabelValues("credentials")); got != 8 {
		t.Fatalf("auth failures counted: %v, want 8", got)
	}
	if got := testutil.ToFloat64(s.metrics.authFailures.WithLabelValues("locked-out")); got != 2 {
		t.Fatalf("lockout refusals counted: %v, want 2", got)
	}
	for result, want := range map[string]float64{regOK: 1, regChallenged: 2, regAuthFailed: 10} {
		if got := testutil.ToFloat64(s.metrics.registrations.WithLabelValues(result)); got != want {
			t.Errorf("registrations{%s} = %v, want %v", result, got, want)
		}
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

// TestMaxContactsRefused: the sixth contact of one extension (sip.max_contacts, default 5)
// is refused with 403, counted and logged; a refresh of a bound one still works.
func TestMaxContactsRefused(t *testing.T) {
	s := newOfflineServer(t)
	h := s.wrap(s.route)
	chal, err := digest.ParseChallenge(s.auth.Challenges(false)[1])
	if err != nil {
		t.Fatal(err)
	}
	register := func(n int, contact string) int {
		c, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: "sip:ccswitch", Username: "1001", Password: "s1", Count: n, Cnonce: "c"})
		if err != nil {
			t.Fatal(err)
		}
		msg := "REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKmc" + itoa(n) + "\r\n" +
			"From: <sip:1001@ccswitch>;tag=t\r\nTo: <sip:1001@ccswitch>\r\nCall-ID: mc" + itoa(n) + "\r\nCSeq: 1 REGISTER\r\n" +
			"Contact: <" + contact + ">\r\nAuthorization: " + c.String() + "\r\nContent-Length: 0\r\n\r\n"
		m, err := gsip.ParseMessage([]byte(msg))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*gsip.Request)
		req.SetSource("192.0.2.9:5060")
		req.SetTransport("UDP")
		tx := siptest.NewServerTxRecorder(req)
		h(req, tx)
		tx.Terminate()
		res := tx.Result()
		return res[len(res)-1].StatusCode
	}
	for i := 1; i <= 5; i++ {
		if code := register(i, fmt.Sprintf("sip:1001@192.0.2.9:%d", 5060+i)); code != 200 {
			t.Fatalf("contact %d: %d", i, code)
		}
	}
	if code := register(6, "sip:1001@192.0.2.9:5099"); code != 403 {
		t.Fatalf("sixth contact: %d, want 403", code)
	}
	if code := register(7, "sip:1001@192.0.2.9:5061"); code != 200 {
		t.Fatalf("refresh of a bound contact: %d, want 200", code)
	}
	if got := testutil.ToFloat64(s.metrics.registrations.WithLabelValues(regTooMany)); got != 1 {
		t.Fatalf("too-many counted %v, want 1", got)
	}
	if n := len(s.reg.Lookup("1001")); n != 5 {
		t.Fatalf("%d bindings, want 5", n)
	}
}

// TestPanicBecomes500: a handler that panics answers 500, is counted, and the server goes on.
func TestPanicBecomes500(t *testing.T) {
	s := newOfflineServer(t)
	h := s.wrap(func(*gsip.Request, gsip.ServerTransaction) { panic("boom") })
	m, err := gsip.ParseMessage([]byte("OPTIONS sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKpanic\r\n" +
		"From: <sip:a@x>;tag=1\r\nTo: <sip:ccswitch>\r\nCall-ID: panic\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*gsip.Request)
	req.SetSource("192.0.2.1:5060")
	req.SetTransport("UDP")
	tx := siptest.NewServerTxRecorder(req)
	h(req, tx)
	tx.Terminate()
	res := tx.Result()
	if len(res) != 1 || res[0].StatusCode != 500 {
		t.Fatalf("responses %v, want one 500", res)
	}
	if s.panics.Load() != 1 {
		t.Fatalf("panics counted: %d", s.panics.Load())
	}
	s.panics.Store(0)
}

// TestDigestAlgorithmsFollowConfig: sip.digest_algorithms orders the challenges, and a
// reload changes them.
func TestDigestAlgorithmsFollowConfig(t *testing.T) {
	s := newOfflineServer(t)
	if ch := s.auth.Challenges(false); len(ch) != 2 || !strings.Contains(ch[0], "SHA-256") {
		t.Fatalf("default challenges %v", ch)
	}
	cfg := *s.cfg.Load()
	cfg.SIP.DigestAlgorithms = []string{"MD5"}
	s.Reload(&cfg)
	if ch := s.auth.Challenges(false); len(ch) != 1 || !strings.Contains(ch[0], "MD5") {
		t.Fatalf("after reload: %v", ch)
	}
}
