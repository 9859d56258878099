package sip

import (
	"testing"
	"time"

	gsip "github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
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
