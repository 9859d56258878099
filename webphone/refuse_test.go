package webphone

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ccswitch/ccswitch/config"
)

// TestRefusedRequests: what reaches the gateway's SIP socket without a browser behind it gets
// its answer and is counted: an INVITE for a contact no line holds (404), an in-dialog request
// for no call (481), a method it does not serve (501), and an INVITE from any address but
// ccswitch's (403).
func TestRefusedRequests(t *testing.T) {
	reg := prometheus.NewRegistry()
	ccswitch := func() (netip.AddrPort, bool) { return netip.MustParseAddrPort("127.0.0.1:5060"), true }
	g, err := New(Options{Config: &config.Config{Media: config.Media{IP: "127.0.0.1"}}, Registerer: reg, SIP: ccswitch,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() { cancel(); <-done }()

	ua, err := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	cli, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	offer := []byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n")
	cases := []struct {
		name   string
		method gsip.RequestMethod
		user   string
		toTag  bool
		want   int
	}{
		{"INVITE for no line", gsip.INVITE, ContactPrefix + "nobody", false, 404},
		{"re-INVITE for no call", gsip.INVITE, ContactPrefix + "nobody", true, 481},
		{"BYE for no call", gsip.BYE, ContactPrefix + "nobody", true, 481},
		{"MESSAGE", gsip.MESSAGE, ContactPrefix + "nobody", false, 501},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := gsip.NewRequest(tc.method, gsip.Uri{Scheme: "sip", User: tc.user, Host: g.self.Addr().String(), Port: int(g.self.Port())})
			to := &gsip.ToHeader{Address: req.Recipient, Params: gsip.NewParams()}
			if tc.toTag {
				to.Params.Add("tag", "x")
			}
			req.AppendHeader(to)
			req.AppendHeader(&gsip.ContactHeader{Address: gsip.Uri{Scheme: "sip", User: "t", Host: "127.0.0.1"}})
			if tc.method == gsip.INVITE {
				req.AppendHeader(gsip.NewHeader("Content-Type", "application/sdp"))
				req.SetBody(offer)
			}
			rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer rcancel()
			res, err := cli.Do(rctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.want {
				t.Fatalf("got %d %s, want %d", res.StatusCode, res.Reason, tc.want)
			}
		})
	}
	// A stranger (127.0.0.2) asks to ring a line.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	invite := "INVITE sip:" + ContactPrefix + "x@" + g.self.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() +
		";branch=z9hG4bK-stranger\r\nFrom: <sip:a@127.0.0.2>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\nCall-ID: s1\r\nCSeq: 1 INVITE\r\n" +
		"Contact: <sip:a@" + c.LocalAddr().String() + ">\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := c.WriteToUDPAddrPort([]byte(invite), g.self); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 2000)
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no answer to the stranger's INVITE: %v", err)
		}
		if line := string(buf[:n]); strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		} else if !strings.HasPrefix(line, "SIP/2.0 403") {
			t.Fatalf("stranger's INVITE answered %q, want 403", strings.SplitN(line, "\r\n", 2)[0])
		}
		break
	}
	if n := testutil.ToFloat64(g.m.failures.WithLabelValues("stranger")); n != 1 {
		t.Errorf("ccswitch_webphone_failures_total{reason=stranger} = %v, want 1", n)
	}
	if n := testutil.ToFloat64(g.m.failures.WithLabelValues("unknown")); n != 1 {
		t.Errorf("ccswitch_webphone_failures_total{reason=unknown} = %v, want 1", n)
	}
}
