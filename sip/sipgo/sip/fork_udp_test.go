package sip

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUDPParsedFilterAndReaders (ccswitch fork): with several readers on one socket, every
// datagram is parsed once and reaches either the handler (parsed) or the parsed filter with the
// parser's error (unparsable); the filter may change a message or drop it.
func TestUDPParsedFilterAndReaders(t *testing.T) {
	var parseErrors, dropped atomic.Int64
	var mu sync.Mutex
	seen := map[string]string{} // Call-ID → the X-Filter header the filter added
	filter := func(p TransportReadProps, data []byte, msg Message, err error) Message {
		if p.Transport != "UDP" || p.RemoteAddr == nil || p.LocalAddr == nil {
			t.Errorf("props %+v", p)
		}
		if err != nil {
			if msg != nil {
				t.Errorf("parse error %v with a message", err)
			}
			parseErrors.Add(1)
			return nil
		}
		if msg.CallID().Value() == "drop" {
			dropped.Add(1)
			return nil
		}
		msg.AppendHeader(NewHeader("X-Filter", "seen"))
		return msg
	}
	handled := make(chan struct{}, 1000)
	tl := NewTransportLayer(net.DefaultResolver, NewParser(), nil,
		WithTransportLayerUDPParsedFilter(filter), WithTransportLayerUDPReaders(4))
	tl.OnMessage(func(msg Message) {
		mu.Lock()
		v := ""
		if h := msg.GetHeaders("X-Filter"); len(h) == 1 {
			v = h[0].Value()
		}
		seen[msg.CallID().Value()] = v
		mu.Unlock()
		handled <- struct{}{}
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- tl.ServeUDP(pc) }()

	out, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	const n = 200
	req := func(callID string) []byte {
		return []byte(fmt.Sprintf("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK%s\r\n"+
			"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", callID, callID))
	}
	for i := range n {
		if _, err := out.Write(req(fmt.Sprintf("c%d", i))); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			out.Write([]byte("NOT SIP AT ALL\r\n\r\n"))
			out.Write(req("drop"))
		}
	}
	deadline := time.After(10 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case <-handled:
		case <-deadline:
			t.Fatalf("%d of %d handled", i, n)
		}
	}
	for parseErrors.Load() < 4 || dropped.Load() < 4 {
		select {
		case <-deadline:
			t.Fatalf("parse errors %d, dropped %d, want 4 each", parseErrors.Load(), dropped.Load())
		case <-time.After(10 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Errorf("%d distinct messages handled, want %d", len(seen), n)
	}
	for id, v := range seen {
		if v != "seen" {
			t.Errorf("%s handled without the filter's header (%q)", id, v)
		}
	}
	if _, ok := seen["drop"]; ok {
		t.Error("a dropped message reached the handler")
	}
	pc.Close()
	select {
	case err := <-served:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("ServeUDP did not return after the socket closed (a reader left behind)")
	}
}
