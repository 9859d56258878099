package sip_test

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// optionsTo is an OPTIONS to ccswitch; tests break it one way each.
const optionsTo = "OPTIONS sip:ccswitch@127.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-mal\r\n" +
	"From: \"Tester\" <sip:t@127.0.0.1>;tag=1\r\n" +
	"To: <sip:ccswitch@127.0.0.1>\r\n" +
	"Call-ID: mal\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Length: 0\r\n\r\n"

// TestMalformedDatagrams: a header name with a NUL byte (issue 10: answered 200 before) and
// the rest of its class — control bytes in names and values, bare CR, bare LF, names that
// are not tokens — get a stateless 400 from the read path before sipgo parses them; a
// Request-URI of an unknown scheme gets 416; responses, ACKs and messages without the
// headers an answer needs (or whose copies would carry the control bytes) are dropped. Each refusal is counted by reason. The server still
// answers a clean OPTIONS afterwards.
func TestMalformedDatagrams(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts := startServer(t, testConfig(), "", sip.WithRegisterer(reg))
	with := func(old, new string) string { return strings.Replace(optionsTo, old, new, 1) }
	cases := []struct {
		name, msg string
		want      int
		reason    string // ccswitch_sip_malformed_total label
	}{
		{"NUL in a header name (issue 10)", with("Max-Forwards", "X-Na\x00me: v\r\nMax-Forwards"), 400, "control-byte"},
		{"NUL in a header value", with("Max-Forwards", "Subject: a\x00b\r\nMax-Forwards"), 400, "control-byte"},
		{"NUL in the Call-ID: nothing safe to answer with, dropped", with("Call-ID: mal", "Call-ID: m\x00al"), 0, "control-byte"},
		{"BEL in a header value", with("Max-Forwards", "Subject: ring\x07\r\nMax-Forwards"), 400, "control-byte"},
		{"DEL in a header name", with("Max-Forwards", "X-De\x7fl: v\r\nMax-Forwards"), 400, "control-byte"},
		{"escape sequence in the request line", with("OPTIONS sip:ccswitch@", "OPTIONS sip:cc\x1b[2Jswitch@"), 400, "control-byte"},
		{"bare CR inside a value", with("Max-Forwards", "Subject: a\rVia: SIP/2.0/UDP 10.0.0.1\r\nMax-Forwards"), 400, "bare-cr"},
		{"bare LF ending a header", with("Max-Forwards: 70\r\n", "Max-Forwards: 70\n"), 400, "bare-lf"},
		{"space in a header name", with("Max-Forwards", "X Name: v\r\nMax-Forwards"), 400, "bad-header-name"},
		{"header line without a colon", with("Max-Forwards", "Garbage\r\nMax-Forwards"), 400, "bad-header-name"},
		{"unknown Request-URI scheme sipgo cannot parse", with("OPTIONS sip:ccswitch@127.0.0.1", "OPTIONS soap.beep://127.0.0.1:3002"), 416, "uri-scheme"},
		{"unparsable From", with(`From: "Tester" <sip:t@127.0.0.1>;tag=1`, `From: "Tester <sip:t@127.0.0.1>;tag=1`), 400, "unparsable"},
		{"a control byte in a response is dropped", "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bK-r\r\nX-Na\x00me: v\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: r\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", 0, "control-byte"},
		{"a control byte in an ACK is dropped", strings.NewReplacer("OPTIONS sip", "ACK sip", "1 OPTIONS", "1 ACK", "Max-Forwards", "X-Na\x00me: v\r\nMax-Forwards").Replace(optionsTo), 0, "control-byte"},
		{"no headers to answer with", "HELLO\x00\r\n\r\n", 0, "control-byte"},
		{"escaped controls in a quoted display name are text", with(`"Tester"`, "\"Te\\\x07ster\""), 200, ""},
		{"spaced parameters are normalised, not refused", with(";tag=1\r\n", " ; tag = 1\r\n"), 200, ""},
	}
	counted := map[string]float64{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := exchange(t, ts.addr, []byte(tc.msg), tc.want == 0); got != tc.want {
				t.Fatalf("answered %d, want %d", got, tc.want)
			}
			if tc.reason != "" {
				counted[tc.reason]++
			}
			if got := metricValue(t, reg, "ccswitch_sip_malformed_total", tc.reason); tc.reason != "" && got != counted[tc.reason] {
				t.Fatalf("malformed{%s} = %v, want %v", tc.reason, got, counted[tc.reason])
			}
		})
	}
	if got := exchange(t, ts.addr, []byte(optionsTo), false); got != 200 {
		t.Fatalf("server no longer answers OPTIONS: %d", got)
	}
}

var toTag = regexp.MustCompile(`(?mi)^(?:To|t)[ \t]*:.*;tag=([^;\r\n]+)`)

// TestRFC2543Retransmission: RFC 4475 inv2543 (no branch, no From tag) gets a transaction
// of its own: it is challenged, and its retransmission gets the same answer again (same To
// tag), not a second transaction.
func TestRFC2543Retransmission(t *testing.T) {
	ts := startServer(t, testConfig(), "")
	c, err := net.Dial("udp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + "\r\n" +
		"From: <sip:+13035551111@127.0.0.1;user=phone>\r\nTo: sip:1002@127.0.0.1\r\n" +
		"Call-ID: inv2543.retrans\r\nCSeq: 56 INVITE\r\nContact: <sip:a@" + c.LocalAddr().String() + ">\r\nContent-Length: 0\r\n\r\n"
	tags := map[string]bool{}
	buf := make([]byte, 65535)
	for range 2 {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("no final answer: %v", err)
			}
			res := string(buf[:n])
			if strings.HasPrefix(res, "SIP/2.0 100") {
				continue
			}
			if !strings.HasPrefix(res, "SIP/2.0 407") {
				t.Fatalf("answer %q, want 407", strings.SplitN(res, "\r\n", 2)[0])
			}
			m := toTag.FindStringSubmatch(res)
			if m == nil {
				t.Fatalf("407 without a To tag:\n%s", res)
			}
			tags[m[1]] = true
			break
		}
	}
	if len(tags) != 1 {
		t.Fatalf("the retransmission got another transaction's answer: To tags %v", tags)
	}
}
