package sip

import (
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// sendLog is a server transaction that logs when each response went out.
type sendLog struct {
	gsip.ServerTransaction
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
}

func (s *sendLog) Respond(*gsip.Response) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Since(s.start))
	return nil
}

func (s *sendLog) sent() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.at)
}

func ackOf(seq uint32) *gsip.Request {
	ack := gsip.NewRequest(gsip.ACK, gsip.Uri{Scheme: "sip", Host: "127.0.0.1"})
	ack.AppendHeader(&gsip.CSeqHeader{SeqNo: seq, MethodName: gsip.ACK})
	return ack
}

// TestRespond2xxRetransmits: the 2xx to a re-INVITE goes out again at T1, 2·T1, 4·T1... capped
// at T2 (RFC 3261 §13.3.1.4) until its ACK (of the INVITE's CSeq; another CSeq is not it),
// and for at most 64·T1 without one (then nil: the caller ends the session).
func TestRespond2xxRetransmits(t *testing.T) {
	s := &Server{}
	res := &gsip.Response{}
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	synctest.Test(t, func(t *testing.T) {
		l := &Leg{done: make(chan struct{}), call: &call{id: "c"}}
		tx := &sendLog{start: time.Now()}
		got := make(chan *gsip.Request, 1)
		go func() { got <- s.respond2xx(l, tx, res, 7) }()
		time.Sleep(4 * time.Second)
		l.deliverAck(ackOf(6)) // not this INVITE's
		time.Sleep(4 * time.Second)
		want := ackOf(7)
		l.deliverAck(want)
		if ack := <-got; ack != want {
			t.Fatalf("returned %v, want the ACK", ack)
		}
		if at := tx.sent(); !slices.Equal(at, ms(0, 500, 1500, 3500, 7500)) {
			t.Fatalf("2xx sent at %v", at)
		}
		time.Sleep(time.Minute)
		if n := len(tx.sent()); n != 5 {
			t.Fatalf("%d sends after the ACK stopped it", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		l := &Leg{done: make(chan struct{}), call: &call{id: "c"}}
		tx := &sendLog{start: time.Now()}
		if ack := s.respond2xx(l, tx, res, 7); ack != nil {
			t.Fatal("an ACK out of nowhere")
		}
		if d := time.Since(tx.start); d != 64*gsip.T1 {
			t.Fatalf("gave up after %v, want 64·T1", d)
		}
		want := ms(0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500)
		if at := tx.sent(); !slices.Equal(at, want) {
			t.Fatalf("2xx sent at %v, want %v", at, want)
		}
	})
}
