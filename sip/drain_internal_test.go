package sip

import (
	"testing"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/sipgo/siptest"
)

// While draining, what would start something new gets 503 with Retry-After (INVITE and
// OPTIONS outside a dialog, other methods outside a dialog), what belongs to calls in
// progress passes (in-dialog requests, ACK, BYE, CANCEL), and so does REGISTER. Before
// Drain nothing is refused.
func TestDrainRefusals(t *testing.T) {
	s := newOfflineServer(t)
	handled := 0
	h := s.wrap(func(req *gsip.Request, tx gsip.ServerTransaction) {
		handled++
		tx.Respond(gsip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	msg := func(method, toTag string) *gsip.Request {
		to := "<sip:1001@ccswitch>"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		m, err := gsip.ParseMessage([]byte(method + " sip:1001@ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKdrain" + method + toTag + "\r\n" +
			"From: <sip:a@x>;tag=1\r\nTo: " + to + "\r\nCall-ID: drain\r\nCSeq: 1 " + method + "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		req := m.(*gsip.Request)
		req.SetSource("192.0.2.1:5060")
		req.SetTransport("UDP")
		return req
	}
	for _, draining := range []bool{false, true} {
		if draining {
			s.Drain()
			if !s.Draining() {
				t.Fatal("Draining() false after Drain")
			}
		}
		for _, tc := range []struct {
			method, toTag string
			refused       bool
		}{
			{"INVITE", "", true},
			{"OPTIONS", "", true},
			{"INFO", "", true},
			{"INVITE", "x", false}, // re-INVITE in a call
			{"BYE", "x", false},
			{"INFO", "x", false},
			{"UPDATE", "x", false},
			{"OPTIONS", "x", false},
			{"REGISTER", "", false},
			{"CANCEL", "", false},
		} {
			req := msg(tc.method, tc.toTag)
			tx := siptest.NewServerTxRecorder(req)
			before := handled
			h(req, tx)
			tx.Terminate()
			res := tx.Result()
			refused := len(res) == 1 && res[0].StatusCode == 503
			if refused != (draining && tc.refused) {
				t.Errorf("draining=%v %s to-tag=%q: responses %v, handled %v", draining, tc.method, tc.toTag, res, handled > before)
			}
			if refused && res[0].GetHeader("Retry-After") == nil {
				t.Errorf("%s: 503 without Retry-After", tc.method)
			}
			if refused == (handled > before) {
				t.Errorf("%s: refused %v but handled %v", tc.method, refused, handled > before)
			}
		}
	}
}
