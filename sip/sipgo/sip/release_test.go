package sip

import (
	"net"
	"sync"
	"testing"
	"time"
)

// recordConn is a Connection that keeps what is written to it.
type recordConn struct {
	mu  sync.Mutex
	out []Message
}

func (c *recordConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
}
func (c *recordConn) WriteMsg(m Message) error {
	c.mu.Lock()
	c.out = append(c.out, m)
	c.mu.Unlock()
	return nil
}
func (c *recordConn) Ref(int) int            { return 1 }
func (c *recordConn) TryClose() (int, error) { return 0, nil }
func (c *recordConn) Close() error           { return nil }
func (c *recordConn) written() int           { c.mu.Lock(); defer c.mu.Unlock(); return len(c.out) }
func (c *recordConn) last() Message          { c.mu.Lock(); defer c.mu.Unlock(); return c.out[len(c.out)-1] }
func (c *recordConn) wait(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); c.written() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages written, want %d", c.written(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func testRequest(t *testing.T, method, transport string) *Request {
	t.Helper()
	m, err := ParseMessage([]byte(method + " sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/" + transport + " 127.0.0.1:5099;branch=z9hG4bKrel1\r\n" +
		"From: <sip:alice@127.0.0.1>;tag=a\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: rel1\r\nCSeq: 1 " + method + "\r\n" +
		"Contact: <sip:alice@127.0.0.1:5099>\r\nContent-Length: 0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*Request)
	req.SetTransport(transport)
	return req
}

// TestServerTxReleasesWhenEnded (ccswitch fork): a server transaction that has ended no
// longer holds its request or last response (a dialog keeps its INVITE transaction for the
// dialog's life), whether it ended by its state machine or by Terminate; a request reaching
// it afterwards is ignored without a panic.
func TestServerTxReleasesWhenEnded(t *testing.T) {
	t.Run("state machine", func(t *testing.T) {
		conn := &recordConn{}
		req := testRequest(t, "OPTIONS", "TCP") // reliable: Timer J is 0, ends at the final response
		tx := NewServerTx("k1", req, conn, DefaultLogger())
		if err := tx.Init(); err != nil {
			t.Fatal(err)
		}
		if err := tx.Respond(NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-tx.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the transaction did not end")
		}
		conn.wait(t, 1)
		assertReleased(t, &tx.baseTx)
		if err := tx.Receive(req); err != nil { // a late retransmission
			t.Fatal(err)
		}
	})
	t.Run("Terminate", func(t *testing.T) {
		conn := &recordConn{}
		req := testRequest(t, "INVITE", "UDP")
		tx := NewServerTx("k2", req, conn, DefaultLogger())
		if err := tx.Init(); err != nil {
			t.Fatal(err)
		}
		tx.Terminate()
		assertReleased(t, &tx.baseTx)
		time.Sleep(Timer_1xx + 50*time.Millisecond) // the 100 Trying timer finds no request
		if n := conn.written(); n != 0 {
			t.Errorf("%d messages written by an ended transaction", n)
		}
	})
}

// TestClientTxReleasesWhenEnded (ccswitch fork): an ended client transaction drops its last
// response and its retransmission hook, and keeps its request (the dialog's own INVITE).
func TestClientTxReleasesWhenEnded(t *testing.T) {
	conn := &recordConn{}
	req := testRequest(t, "INVITE", "TCP")
	tx := NewClientTx("c1", req, conn, DefaultLogger())
	if err := tx.Init(); err != nil {
		t.Fatal(err)
	}
	conn.wait(t, 1)
	tx.OnRetransmission(func(*Response) {})
	go func() {
		for range tx.Responses() {
		}
	}()
	tx.Receive(NewResponseFromRequest(req, 486, "Busy Here", nil)) // reliable: ACK, then ended
	select {
	case <-tx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the transaction did not end")
	}
	tx.fsmMu.Lock()
	resp := tx.fsmResp
	tx.fsmMu.Unlock()
	tx.mu.Lock()
	hook := tx.onRetransmission
	tx.mu.Unlock()
	if resp != nil || hook != nil {
		t.Errorf("ended client transaction still holds response %v, hook %v", resp != nil, hook != nil)
	}
	if tx.Origin() != req {
		t.Error("the request is gone: it is the dialog's own")
	}
}

func assertReleased(t *testing.T, tx *baseTx) {
	t.Helper()
	tx.fsmMu.Lock()
	resp, ack, cancel := tx.fsmResp, tx.fsmAck, tx.fsmCancel
	tx.fsmMu.Unlock()
	tx.mu.Lock()
	origin := tx.origin
	tx.mu.Unlock()
	if origin != nil || resp != nil || ack != nil || cancel != nil {
		t.Errorf("ended transaction still holds: request %v, response %v, ack %v, cancel %v",
			origin != nil, resp != nil, ack != nil, cancel != nil)
	}
}
