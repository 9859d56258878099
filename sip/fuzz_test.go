package sip

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/sip/sipgo/siptest"
)

// newOfflineServer builds a Server's request path without sockets.
func newOfflineServer(t testing.TB) *Server {
	t.Helper()
	cfg := &config.Config{SIP: config.SIP{Realm: "ccswitch", RingTimeout: config.Duration(time.Second)},
		Users:   []config.User{{Extension: "1001", Secret: "s1", Outbound: true}, {Extension: "1002", Secret: "s2"}},
		Trunks:  []config.Trunk{{Name: "carrier", Sources: []string{"198.51.100.7"}}},
		Numbers: []config.Number{{DID: "+15550100", Target: "1002"}, {DID: "+15550199", Flow: "main"}},
	}
	s, err := New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.build(cfg, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

func tortureSeeds(t testing.TB) [][]byte {
	dir := filepath.Join("sipgo", "sip", "testdata", "torture") // RFC 4475's messages, in our fork
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
	var seeds [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			seeds = append(seeds, b)
		}
	}
	if len(seeds) == 0 {
		t.Fatalf("no RFC 4475 torture messages under %s", dir)
	}
	return seeds
}

// FuzzRequest drives the whole request path (read path, parse, validate, route, auth,
// registrar, dialog lookups) with arbitrary datagrams. Properties: no handler panics (the recover
// middleware would hide one, so its counter must stay 0), and every request except ACK
// gets a final response.
func FuzzRequest(f *testing.F) {
	for _, s := range tortureSeeds(f) {
		f.Add(s, "192.0.2.1:5060")
		f.Add(s, "198.51.100.7:5060") // the trunk's source: no authentication
	}
	for _, to := range []string{"+15550100", "15550199", "1002", "1001", "+4930123"} {
		f.Add([]byte("INVITE sip:"+to+"@ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7;branch=z9hG4bK"+to+"\r\n"+
			"From: <sip:carrier@198.51.100.7>;tag=a\r\nTo: <sip:"+to+"@ccswitch>\r\nCall-ID: fz"+to+"\r\nCSeq: 1 INVITE\r\n"+
			"Contact: <sip:c@198.51.100.7>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"), "198.51.100.7:5060")
	}
	s := newOfflineServer(f)
	h := s.wrap(s.route)
	local := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 100), Port: 5060}
	f.Fuzz(func(t *testing.T, data []byte, src string) {
		from, err := net.ResolveUDPAddr("udp", src)
		if err != nil {
			from = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5060}
		}
		// The UDP read path first: lexical checks, normalisation, parse (stateless answers).
		msg := readDatagram(s.reads, local, from, data)
		req, ok := msg.(*gsip.Request)
		if !ok {
			return
		}
		if _, err := gsip.ServerTxKeyMake(req); err != nil {
			return // sipgo answers a stateless 400 before any handler
		}
		if !strings.Contains(src, ":") {
			src = "192.0.2.1:5060"
		}
		s.invites.Clear() // each input is a new transaction, not a retransmission
		req.SetSource(src)
		req.SetTransport("UDP")
		tx := siptest.NewServerTxRecorder(req)
		done := make(chan struct{})
		go func() {
			defer close(done)
			h(req, tx)
		}()
		// A non-2xx final makes the handler wait for the ACK: terminate the transaction
		// once the final response is out (as its timers would).
		final := false
		deadline := time.Now().Add(5 * time.Second)
		for !final && time.Now().Before(deadline) {
			for _, r := range tx.Result() {
				if r.StatusCode >= 200 {
					final = true
				}
			}
			select {
			case <-done:
				deadline = time.Time{}
			default:
				time.Sleep(time.Millisecond)
			}
		}
		for _, r := range tx.Result() {
			if r.StatusCode >= 200 {
				final = true
			}
		}
		tx.Terminate()
		<-done
		if n := s.panics.Load(); n != 0 {
			t.Fatalf("handler panicked on:\n%s", data)
		}
		if !req.IsAck() && !final {
			t.Fatalf("no final response to:\n%s", data)
		}
	})
}
