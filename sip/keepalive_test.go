package sip

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccswitch/ccswitch/sip/registrar"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// registerNAT binds contact for aor in r as a REGISTER from source with the given Via would.
func registerNAT(t *testing.T, r *registrar.Registrar, aor, contact, source, via, transport string, cseq int) {
	t.Helper()
	msg := "REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/" + transport + " " + via + ";branch=z9hG4bKka" + fmt.Sprint(cseq) + "\r\n" +
		"From: <sip:" + aor + "@ccswitch>;tag=a\r\nTo: <sip:" + aor + "@ccswitch>\r\nCall-ID: ka-" + aor + "\r\n" +
		fmt.Sprintf("CSeq: %d REGISTER\r\n", cseq) + "Contact: <" + contact + ">\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
	m, err := gsip.ParseMessage([]byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	req := m.(*gsip.Request)
	req.SetSource(source)
	req.SetTransport(transport)
	if res := r.Register(req, aor); res.StatusCode != 200 {
		t.Fatalf("REGISTER %s: %d", contact, res.StatusCode)
	}
}

// pingScript answers the pings of each contact (by destination) while its budget lasts.
type pingScript struct {
	mu      sync.Mutex
	answers map[string]int // Dest → pings still answered
	pings   map[string]int // Dest → pings received
}

func (p *pingScript) ping(_ context.Context, c registrar.Contact, _ time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pings[c.Dest]++
	if p.answers[c.Dest] > 0 {
		p.answers[c.Dest]--
		return true
	}
	return false
}

func (p *pingScript) count(dest string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pings[dest]
}

// TestNATPinger (synctest, virtual time): a UDP contact behind NAT is pinged every interval
// through its flow; after it stops answering, the third miss removes the binding with an
// Unbound event (reason unreachable). Contacts not behind NAT and TCP contacts are not
// pinged; a REGISTER since a ping counts as an answer; interval 0 pings nobody.
func TestNATPinger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const iv = 30 * time.Second
		r := registrar.New(nil, slog.New(slog.NewTextHandler(io.Discard, nil)), registrar.Limits{Min: time.Minute, Max: time.Hour, Default: time.Hour})
		script := &pingScript{answers: map[string]int{"192.0.2.1:40000": 2, "192.0.2.3:40000": 0}, pings: map[string]int{}}
		var mu sync.Mutex
		var gone []string
		var sent, failed int
		var interval atomic.Int64
		interval.Store(int64(iv))
		p := newNATPinger(func() time.Duration { return time.Duration(interval.Load()) }, r, script.ping, func(answered bool) {
			mu.Lock()
			defer mu.Unlock()
			sent++
			if !answered {
				failed++
			}
		})
		defer r.Subscribe(p.event)()
		defer r.Subscribe(func(ev registrar.Event) {
			if ev.Kind == registrar.Unbound {
				mu.Lock()
				gone = append(gone, ev.AOR+" "+ev.Reason)
				mu.Unlock()
			}
		})()
		// 1001 behind NAT (rport), answers twice then goes silent.
		registerNAT(t, r, "1001", "sip:1001@10.0.0.5:5060", "192.0.2.1:40000", "10.0.0.5:5060;rport", "UDP", 1)
		// 1002 on a public address, no NAT: never pinged.
		registerNAT(t, r, "1002", "sip:1002@192.0.2.2:5060", "192.0.2.2:5060", "192.0.2.2:5060", "UDP", 1)
		// 1003 behind NAT over TCP: its connection is its keepalive (not ours to ping).
		registerNAT(t, r, "1003", "sip:1003@10.0.0.7:5060;transport=tcp", "192.0.2.4:40000", "10.0.0.7:5060", "TCP", 1)
		// 1004 behind NAT, never answers, but registers again before its third miss.
		registerNAT(t, r, "1004", "sip:1004@10.0.0.9:5060", "192.0.2.3:40000", "10.0.0.9:5060", "UDP", 1)
		if n := p.tracked(); n != 2 {
			t.Fatalf("tracked %d contacts, want 2 (the UDP ones behind NAT)", n)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			p.Run(ctx)
			close(done)
		}()
		defer func() {
			cancel()
			<-done
		}()

		time.Sleep(iv/2 + 2*iv) // pings at 30s and 60s: both answered by 1001
		synctest.Wait()
		if got := script.count("192.0.2.1:40000"); got != 2 {
			t.Fatalf("1001 pinged %d times after 75s, want 2", got)
		}
		// 1004 missed at 30s and 60s; it registers again at 75s, so its miss at 90s is
		// its first since, and it stays.
		registerNAT(t, r, "1004", "sip:1004@10.0.0.9:5060", "192.0.2.3:40000", "10.0.0.9:5060", "UDP", 2)
		time.Sleep(iv)
		synctest.Wait()
		if len(r.Lookup("1004")) != 1 {
			t.Fatal("1004 dropped at its third miss although it registered since the second")
		}
		time.Sleep(2 * iv) // 1001 misses at 90s, 120s, 150s: gone; so is 1004 (120s, 150s)
		synctest.Wait()
		if len(r.Lookup("1001")) != 0 || len(r.Lookup("1004")) != 0 {
			t.Fatal("a contact still bound after three unanswered pings")
		}
		mu.Lock()
		sort.Strings(gone)
		if fmt.Sprint(gone) != "[1001 unreachable 1004 unreachable]" {
			t.Fatalf("unbound events %v, want 1001 and 1004 unreachable", gone)
		}
		mu.Unlock()
		if got := script.count("192.0.2.1:40000"); got != 5 {
			t.Fatalf("1001 pinged %d times, want 5", got)
		}
		if script.count("192.0.2.2:5060") != 0 || script.count("192.0.2.4:40000") != 0 {
			t.Fatal("a contact not behind NAT, or over TCP, was pinged")
		}
		if p.tracked() != 0 {
			t.Fatalf("tracked %d after the drops, want 0", p.tracked())
		}

		interval.Store(0) // sip.nat_ping_interval: 0 (a reload)
		registerNAT(t, r, "1005", "sip:1005@10.0.0.11:5060", "192.0.2.5:40000", "10.0.0.11:5060", "UDP", 1)
		time.Sleep(10 * iv)
		synctest.Wait()
		if script.count("192.0.2.5:40000") != 0 || len(r.Lookup("1005")) != 1 {
			t.Fatal("pinged (or dropped) with nat_ping_interval 0")
		}
		mu.Lock()
		if sent != 10 || failed != 8 {
			t.Fatalf("pings counted %d sent, %d failed", sent, failed)
		}
		mu.Unlock()
	})
}
