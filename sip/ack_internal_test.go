package sip

import (
	"testing"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// TestKeptAckExpires: a leg keeps the ACK it sent until 64·T1 (the longest a UAS retransmits
// its 2xx) has passed, then drops it; the expiry of an earlier ACK does not drop a
// later one (a re-INVITE's ACK sent meanwhile keeps its own time). The expiries are run by
// the test, in order, instead of waited for.
func TestKeptAckExpires(t *testing.T) {
	var expiries []func()
	old := afterAckKept
	afterAckKept = func(f func()) { expiries = append(expiries, f) }
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
	expiries[0]()
	if a := l.acked.Load(); a == nil || a.seq != 2 {
		t.Fatalf("after the first ACK's expiry: kept %+v, want the re-INVITE's (CSeq 2)", a)
	}
	expiries[1]()
	if a := l.acked.Load(); a != nil {
		t.Fatalf("after the re-INVITE's ACK's expiry: still kept %+v", a)
	}
}
