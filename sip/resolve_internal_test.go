package sip

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeDNS serves rrs from loopback and counts the questions it got.
func fakeDNS(t *testing.T, rrs ...string) (addr string, questions *atomic.Int64, stop func()) {
	t.Helper()
	zone := map[string][]dns.RR{}
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		k := strings.ToLower(rr.Header().Name) + "|" + dns.TypeToString[rr.Header().Rrtype]
		zone[k] = append(zone[k], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	questions = &atomic.Int64{}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		questions.Add(1)
		m := new(dns.Msg)
		m.SetReply(q)
		k := strings.ToLower(q.Question[0].Name) + "|" + dns.TypeToString[q.Question[0].Qtype]
		m.Answer = zone[k]
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			srv.Shutdown()
		}
	}
	t.Cleanup(stop)
	return pc.LocalAddr().String(), questions, stop
}

func hopAddrs(hs []hop) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.addr)
	}
	return strings.Join(out, " ")
}

// TestResolveRFC3263: NAPTR for the trunk's transport, then SRV by priority, then A; a name
// with a port is an A lookup; an IP is no lookup; answers are cached for their TTL and used
// stale when the server fails, for at most staleFor.
func TestResolveRFC3263(t *testing.T) {
	addr, questions, stop := fakeDNS(t,
		`carrier.test. 60 IN NAPTR 10 50 "s" "SIP+D2T" "" _sip._tcp.carrier.test.`,
		`carrier.test. 60 IN NAPTR 20 50 "s" "SIP+D2U" "" _sip._udp.alt.test.`,
		"_sip._udp.alt.test. 30 IN SRV 20 1 5082 b.carrier.test.",
		"_sip._udp.alt.test. 30 IN SRV 10 1 5081 a.carrier.test.",
		"_sip._tcp.carrier.test. 30 IN SRV 10 1 5090 a.carrier.test.",
		"_sip._udp.srvonly.test. 30 IN SRV 10 1 5070 a.carrier.test.",
		"a.carrier.test. 60 IN A 127.0.0.2",
		"b.carrier.test. 60 IN A 127.0.0.3",
		"b.carrier.test. 60 IN AAAA ::1",
		"plain.test. 60 IN A 127.0.0.4",
	)
	rv := newResolver(addr)
	now := time.Unix(1_000_000, 0)
	rv.now = func() time.Time { return now }
	ctx := context.Background()
	cases := []struct {
		host      string
		port      int
		transport string
		want      string
	}{
		{"carrier.test", 0, "udp", "127.0.0.2:5081 127.0.0.3:5082 [::1]:5082"},
		{"carrier.test", 0, "tcp", "127.0.0.2:5090"},
		{"srvonly.test", 0, "udp", "127.0.0.2:5070"},
		{"plain.test", 0, "udp", "127.0.0.4:5060"},
		{"plain.test", 5099, "udp", "127.0.0.4:5099"},
		{"127.0.0.9", 0, "udp", "127.0.0.9:5060"},
		{"[::1]", 5062, "tcp", "[::1]:5062"},
	}
	for _, c := range cases {
		hs, err := rv.resolve(ctx, c.host, c.port, c.transport)
		if err != nil || hopAddrs(hs) != c.want {
			t.Errorf("resolve(%s, %d, %s) = %q, %v; want %q", c.host, c.port, c.transport, hopAddrs(hs), err, c.want)
		}
	}
	if _, err := rv.resolve(ctx, "nowhere.test", 0, "udp"); err == nil {
		t.Error("a name without records resolved")
	}

	// Cached for the smallest TTL (30 s here).
	n := questions.Load()
	rv.resolve(ctx, "carrier.test", 0, "udp")
	if questions.Load() != n {
		t.Errorf("cached answer asked again")
	}
	now = now.Add(31 * time.Second)
	rv.resolve(ctx, "carrier.test", 0, "udp")
	if questions.Load() == n {
		t.Errorf("expired answer not asked again")
	}
	// The server goes away: the expired answer is used, until staleFor.
	stop()
	rv.client.Timeout = 200 * time.Millisecond
	now = now.Add(time.Minute)
	if hs, err := rv.resolve(ctx, "carrier.test", 0, "udp"); err != nil || !strings.HasPrefix(hopAddrs(hs), "127.0.0.2:5081") {
		t.Errorf("stale answer: %q, %v", hopAddrs(hs), err)
	}
	now = now.Add(staleFor + time.Minute)
	if _, err := rv.resolve(ctx, "carrier.test", 0, "udp"); err == nil {
		t.Error("an answer older than staleFor was used")
	}
}
