package registrar

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/store"
	"github.com/emiago/sipgo/sip"
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

// register sends a REGISTER for 1001 with the given Call-ID, CSeq and extra header lines.
func (f *fixture) register(callID string, cseq int, lines ...string) *sip.Response {
	f.t.Helper()
	msg := "REGISTER sip:ccswitch SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK" + callID + fmt.Sprint(cseq) + "\r\n" +
		"From: <sip:1001@ccswitch>;tag=a\r\nTo: <sip:1001@ccswitch>\r\nCall-ID: " + callID + "\r\n" +
		fmt.Sprintf("CSeq: %d REGISTER\r\n", cseq) + strings.Join(lines, "") + "Content-Length: 0\r\n\r\n"
	m, err := sip.ParseMessage([]byte(msg))
	if err != nil {
		f.t.Fatal(err)
	}
	req := m.(*sip.Request)
	req.SetSource("192.0.2.1:5060")
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
