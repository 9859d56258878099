package registrar

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/store"
)

type fixture struct {
	t   *testing.T
	r   *Registrar
	st  *store.Store
	dir string
	now time.Time
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{t: t, dir: t.TempDir(), now: time.Unix(1_800_000_000, 0)}
	f.open()
	t.Cleanup(func() { f.st.Close() })
	return f
}

func (f *fixture) open() {
	st, err := store.Open(filepath.Join(f.dir, "db"))
	if err != nil {
		f.t.Fatal(err)
	}
	f.st = st
	f.r = New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Limits{Min: time.Minute, Max: time.Hour, Default: 30 * time.Minute})
	f.r.SetNow(func() time.Time { return f.now })
}

// register sends a REGISTER for 1001 with the given Call-ID, CSeq and extra header lines,
// from 192.0.2.1:5060 with that address in its Via.
func (f *fixture) register(callID string, cseq int, lines ...string) *sip.Response {
	f.t.Helper()
	return f.registerFrom("192.0.2.1:5060", "192.0.2.1:5060", callID, cseq, lines...)
}

// registerFrom is register from source with via as the top Via's sent-by (and params).
func (f *fixture) registerFrom(source, via, callID string, cseq int, lines ...string) *sip.Response {
	f.t.Helper()
	msg := "REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP " + via + ";branch=z9hG4bK" + callID + fmt.Sprint(cseq) + "\r\n" +
		"From: <sip:1001@ccswitch>;tag=a\r\nTo: <sip:1001@ccswitch>\r\nCall-ID: " + callID + "\r\n" +
		fmt.Sprintf("CSeq: %d REGISTER\r\n", cseq) + strings.Join(lines, "") + "Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(msg))
	if err != nil {
		f.t.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetSource(source)
	req.SetTransport("UDP")
	return f.r.Register(req, "1001")
}

func contacts(res *sip.Response) []string {
	var out []string
	for _, h := range res.GetHeaders("Contact") {
		out = append(out, h.Value())
	}
	return out
}

func TestRegisterExpiresAndMinExpires(t *testing.T) {
	f := newFixture(t)
	if res := f.register("c1", 1, "Contact: <sip:1001@192.0.2.1:5060>\r\n", "Expires: 30\r\n"); res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
		t.Fatalf("too brief: %d %v", res.StatusCode, res.GetHeader("Min-Expires"))
	}
	res := f.register("c1", 2, "Contact: <sip:1001@192.0.2.1:5060>;expires=7200\r\n")
	if res.StatusCode != 200 || len(contacts(res)) != 1 || !strings.Contains(contacts(res)[0], "expires=3600") {
		t.Fatalf("clamped to max: %d %v", res.StatusCode, contacts(res))
	}
	res = f.register("c1", 3, "Contact: <sip:1001@192.0.2.1:5060>\r\n")
	if !strings.Contains(contacts(res)[0], "expires=1800") {
		t.Fatalf("default expires: %v", contacts(res))
	}
}

func TestSeveralContactsFetchAndWildcard(t *testing.T) {
	f := newFixture(t)
	f.register("c1", 1, "Contact: <sip:1001@192.0.2.1:5060>\r\n")
	f.register("c2", 1, "Contact: <sip:1001@192.0.2.2:5060>;q=0.9\r\n")
	if res := f.register("c3", 1); res.StatusCode != 200 || len(contacts(res)) != 2 {
		t.Fatalf("fetch: %d %v", res.StatusCode, contacts(res))
	}
	if got := f.r.Lookup("1001"); len(got) != 2 || got[0].Q != 0.9 {
		t.Fatalf("lookup: %+v", got)
	}
	if res := f.register("c4", 1, "Contact: *\r\n"); res.StatusCode != 400 {
		t.Fatalf("* without Expires: 0: %d", res.StatusCode)
	}
	if res := f.register("c4", 2, "Contact: *\r\n", "Expires: 0\r\n"); res.StatusCode != 200 || len(contacts(res)) != 0 {
		t.Fatalf("* unregister: %d %v", res.StatusCode, contacts(res))
	}
	if got := f.r.Lookup("1001"); len(got) != 0 {
		t.Fatalf("after *: %+v", got)
	}
	if bs, _ := f.st.Bindings(); len(bs) != 0 {
		t.Fatalf("store after *: %+v", bs)
	}
}

func TestCallIDCSeqOrdering(t *testing.T) {
	f := newFixture(t)
	f.register("c1", 5, "Contact: <sip:1001@192.0.2.1:5060>\r\n")
	if res := f.register("c1", 5, "Contact: <sip:1001@192.0.2.1:5060>\r\n"); res.StatusCode != 500 {
		t.Fatalf("same Call-ID, same CSeq: %d, want 500", res.StatusCode)
	}
	if res := f.register("c1", 4, "Contact: <sip:1001@192.0.2.1:5060>\r\n", "Expires: 0\r\n"); res.StatusCode != 500 {
		t.Fatalf("same Call-ID, lower CSeq: %d, want 500", res.StatusCode)
	}
	if res := f.register("other", 1, "Contact: <sip:1001@192.0.2.1:5060>\r\n", "Expires: 0\r\n"); res.StatusCode != 200 || len(f.r.Lookup("1001")) != 0 {
		t.Fatalf("another Call-ID removes: %d", res.StatusCode)
	}
}

func TestExpirySweepAndReload(t *testing.T) {
	f := newFixture(t)
	f.register("c1", 1, "Contact: <sip:1001@192.0.2.1:5060>;expires=60\r\n")
	f.register("c2", 1, "Contact: <sip:1001@192.0.2.2:5060>;expires=600\r\n")
	f.st.Close()
	f.open() // a restart: bindings come back from the store
	if err := f.r.Load(); err != nil {
		t.Fatal(err)
	}
	if got := f.r.Lookup("1001"); len(got) != 2 {
		t.Fatalf("after reload: %d bindings", len(got))
	}
	f.now = f.now.Add(2 * time.Minute)
	if got := f.r.Lookup("1001"); len(got) != 1 {
		t.Fatalf("expired binding still returned: %+v", got)
	}
	f.r.Sweep()
	if f.r.Count() != 1 {
		t.Fatalf("sweep left %d bindings", f.r.Count())
	}
	if bs, _ := f.st.Bindings(); len(bs) != 1 {
		t.Fatalf("sweep left %d stored bindings", len(bs))
	}
}

func TestNATContactUsesSource(t *testing.T) {
	f := newFixture(t)
	msg := "Contact: <sip:1001@10.1.2.3:5060>\r\n"
	f.register("c1", 1, msg)
	got := f.r.Lookup("1001")
	if len(got) != 1 || got[0].Dest != "192.0.2.1:5060" {
		t.Fatalf("private contact behind NAT: %+v", got)
	}
}

// TestContactReachedThroughItsFlow: whatever the Contact says (a public address, the
// source's IP on another port, a DNS name, IPv6), requests go to the REGISTER's source.
func TestContactReachedThroughItsFlow(t *testing.T) {
	for _, contact := range []string{
		"sip:1001@192.0.2.1:5060",           // the source itself
		"sip:+4790000000@198.51.100.7:5080", // someone else's public address
		"sip:1001@192.0.2.1:5070",           // the source's IP, another port
		"sip:1001@pbx.example.com",
		"sip:1001@[2001:db8::1]:5060",
		"sip:1001@192.0.2.9;maddr=198.51.100.7",
	} {
		f := newFixture(t)
		if res := f.register("c1", 1, "Contact: <"+contact+">\r\n"); res.StatusCode != 200 {
			t.Fatalf("%s: %d", contact, res.StatusCode)
		}
		got := f.r.Lookup("1001")
		if len(got) != 1 || got[0].Dest != "192.0.2.1:5060" || got[0].Transport != "udp" {
			t.Fatalf("%s: %+v, want Dest 192.0.2.1:5060 over udp", contact, got)
		}
	}
}

// TestNATDetection: a contact is behind NAT when its Contact or Via address is not the
// packet's source, or it asked for rport; the flag reaches Lookup, events and the store.
func TestNATDetection(t *testing.T) {
	for _, tc := range []struct {
		name, source, via, contact string
		nat                        bool
	}{
		{"all the same", "192.0.2.1:5060", "192.0.2.1:5060", "sip:1001@192.0.2.1:5060", false},
		{"default port", "192.0.2.1:5060", "192.0.2.1", "sip:1001@192.0.2.1", false},
		{"rport", "192.0.2.1:5060", "192.0.2.1:5060;rport", "sip:1001@192.0.2.1:5060", true},
		{"private contact", "192.0.2.1:5060", "192.0.2.1:5060", "sip:1001@10.0.0.5:5060", true},
		{"mapped port", "192.0.2.1:40001", "192.0.2.1:5060", "sip:1001@192.0.2.1:40001", true},
		{"via differs", "192.0.2.1:5060", "10.0.0.5:5060", "sip:1001@192.0.2.1:5060", true},
		{"contact by name", "192.0.2.1:5060", "192.0.2.1:5060", "sip:1001@phone.example.com", true},
		{"ipv6 same", "[2001:db8::1]:5060", "[2001:db8::1]:5060", "sip:1001@[2001:db8::1]:5060", false},
		{"ipv6 other port", "[2001:db8::1]:5062", "[2001:db8::1]:5060", "sip:1001@[2001:db8::1]:5060", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			var ev Event
			defer f.r.Subscribe(func(e Event) { ev = e })()
			if res := f.registerFrom(tc.source, tc.via, "c1", 1, "Contact: <"+tc.contact+">\r\n"); res.StatusCode != 200 {
				t.Fatalf("%d", res.StatusCode)
			}
			got := f.r.Lookup("1001")
			if len(got) != 1 || got[0].NAT != tc.nat || ev.NAT != tc.nat || got[0].Dest != tc.source {
				t.Fatalf("lookup %+v event %+v, want NAT=%v Dest=%s", got, ev, tc.nat, tc.source)
			}
			bs, _ := f.st.Bindings()
			if len(bs) != 1 || bs[0].NAT != tc.nat {
				t.Fatalf("stored %+v", bs)
			}
		})
	}
}

// TestMaxContacts: an AOR holds at most MaxContacts live bindings; a REGISTER adding more
// is refused whole with 403; refreshing, replacing and removing still work, also after the
// bound is lowered.
func TestMaxContacts(t *testing.T) {
	f := newFixture(t)
	f.r.SetLimits(Limits{Min: time.Minute, Max: time.Hour, Default: 30 * time.Minute, MaxContacts: 2})
	c := func(i int) string { return fmt.Sprintf("Contact: <sip:1001@192.0.2.%d:5060>\r\n", i) }
	if res := f.register("a", 1, c(1), c(2)); res.StatusCode != 200 {
		t.Fatalf("two contacts: %d", res.StatusCode)
	}
	if res := f.register("b", 1, c(3)); res.StatusCode != 403 || res.Reason != "Too Many Contacts" {
		t.Fatalf("third contact: %d %s", res.StatusCode, res.Reason)
	}
	if res := f.register("b", 2, c(3), c(4)+";expires=0"); res.StatusCode != 403 {
		t.Fatalf("third contact with an unrelated removal: %d", res.StatusCode)
	}
	if got := f.r.Lookup("1001"); len(got) != 2 {
		t.Fatalf("a refused REGISTER changed bindings: %+v", got)
	}
	if res := f.register("a", 2, c(1)); res.StatusCode != 200 {
		t.Fatalf("refresh: %d", res.StatusCode)
	}
	if res := f.register("c", 1, "Contact: <sip:1001@192.0.2.2:5060>;expires=0\r\n", c(3)); res.StatusCode != 200 {
		t.Fatalf("replace one: %d", res.StatusCode)
	}
	f.r.SetLimits(Limits{Min: time.Minute, Max: time.Hour, Default: 30 * time.Minute, MaxContacts: 1})
	if res := f.register("a", 3, c(1)); res.StatusCode != 200 {
		t.Fatalf("refresh above a lowered bound: %d", res.StatusCode)
	}
	f.now = f.now.Add(time.Hour) // all expired: room again
	if res := f.register("d", 1, c(5)); res.StatusCode != 200 {
		t.Fatalf("after expiry: %d", res.StatusCode)
	}
}
