package sip

import (
	"testing"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// TestKeptAckExpires: a leg keeps the ACK it sent until 64·T1 (the longest a UAS retransmits
// its 2xx) has passed, then drops it; a newer ACK (a re-INVITE's) replaces it and stops its
// expiry, which then cannot drop the newer one; an ended leg drops its ACK and stops the
// expiry at once, so the timer does not keep the leg reachable. The expiries are run by the
// test instead of waited for.
func TestKeptAckExpires(t *testing.T) {
	type expiry struct {
		run     func()
		stopped bool
	}
	var expiries []*expiry
	old := afterAckKept
	afterAckKept = func(f func()) func() bool {
		e := &expiry{run: f}
		expiries = append(expiries, e)
		return func() bool { e.stopped = true; return true }
	}
	defer func() { afterAckKept = old }()

	ack := func(seq uint32) *gsip.Request {
		r := gsip.NewRequest(gsip.ACK, gsip.Uri{Scheme: "sip", User: "1002", Host: "127.0.0.1", Port: 5090})
		r.AppendHeader(ackCSeq(seq))
		r.SetTransport("UDP")
		r.SetDestination("127.0.0.1:5090")
		return r
	}
	l := newLeg(nil, nil, SideB)
	l.rememberAck(1, ack(1))
	a := l.acked.Load()
	if a == nil || a.seq != 1 || len(expiries) != 1 {
		t.Fatalf("kept ACK %+v (%d expiries), want CSeq 1 and its expiry", a, len(expiries))
	}
	if req, err := a.request(); err != nil || req.CSeq().SeqNo != 1 || req.Destination() != "127.0.0.1:5090" {
		t.Fatalf("the kept ACK as a request: %v, %v", req, err)
	}
	l.rememberAck(2, ack(2)) // a re-INVITE's ACK, before the first one's time is up
	if !expiries[0].stopped {
		t.Fatal("the replaced ACK's expiry was not stopped")
	}
	expiries[0].run() // had it fired anyway, it must not drop the newer ACK
	if a := l.acked.Load(); a == nil || a.seq != 2 {
		t.Fatalf("after the first ACK's expiry: kept %+v, want the re-INVITE's (CSeq 2)", a)
	}
	expiries[1].run()
	if a := l.acked.Load(); a != nil {
		t.Fatalf("after the re-INVITE's ACK's expiry: still kept %+v", a)
	}

	l.rememberAck(3, ack(3))
	l.forgetAck() // the leg ended
	if a := l.acked.Load(); a != nil || !expiries[2].stopped {
		t.Fatalf("after the leg ended: kept %+v, expiry stopped %v", a, expiries[2].stopped)
	}
}
