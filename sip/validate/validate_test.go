package validate

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

var policy = &Policy{Allowed: []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER"}, Self: []string{"10.0.0.1:5060", "[2001:db8::1]:5070"}}

const base = "OPTIONS sip:ccswitch@10.0.0.1 SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n" +
	"From: <sip:a@example.com>;tag=1\r\n" +
	"To: <sip:ccswitch@10.0.0.1>\r\n" +
	"Call-ID: abc\r\n" +
	"CSeq: 1 OPTIONS\r\n" +
	"Max-Forwards: 70\r\n" +
	"Content-Length: 0\r\n\r\n"

func parse(t *testing.T, s string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(s))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, s)
	}
	return m.(*sip.Request)
}

func TestRequest(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		code   int
		header string // a header the answer must carry
	}{
		{"valid", base, 0, ""},
		{"version", strings.Replace(base, "SIP/2.0\r\n", "SIP/3.0\r\n", 1), 505, ""},
		{"unknown method", strings.NewReplacer("OPTIONS sip", "FOO sip", "1 OPTIONS", "1 FOO").Replace(base), 501, "Allow"},
		{"known, not allowed", strings.NewReplacer("OPTIONS sip", "SUBSCRIBE sip", "1 OPTIONS", "1 SUBSCRIBE").Replace(base), 405, "Allow"},
		{"cseq mismatch", strings.Replace(base, "1 OPTIONS", "1 INVITE", 1), 400, ""},
		{"no call-id", strings.Replace(base, "Call-ID: abc\r\n", "", 1), 400, ""},
		{"no from", strings.Replace(base, "From: <sip:a@example.com>;tag=1\r\n", "", 1), 400, ""},
		{"two call-ids", strings.Replace(base, "Call-ID: abc\r\n", "Call-ID: abc\r\nCall-ID: def\r\n", 1), 400, ""},
		{"call-id and its compact form", strings.Replace(base, "Call-ID: abc\r\n", "Call-ID: abc\r\ni: def\r\n", 1), 400, ""},
		{"two to", strings.Replace(base, "To: <sip:ccswitch@10.0.0.1>\r\n", "To: <sip:ccswitch@10.0.0.1>\r\nTo: <sip:x@10.0.0.1>\r\n", 1), 400, ""},
		{"two content-length", strings.Replace(base, "Content-Length: 0\r\n", "Content-Length: 0\r\nContent-Length: 0\r\n", 1), 400, ""},
		{"unsupported scheme", strings.Replace(base, "OPTIONS sip:ccswitch@10.0.0.1", "OPTIONS http://x", 1), 416, ""},
		{"unknown require", strings.Replace(base, "Max-Forwards", "Require: foo, 100rel\r\nMax-Forwards", 1), 420, "Unsupported"},
		{"max-forwards 0 on INVITE", strings.NewReplacer("OPTIONS sip", "INVITE sip", "1 OPTIONS", "1 INVITE", "Max-Forwards: 70", "Max-Forwards: 0").Replace(base), 483, ""},
		{"max-forwards 0 on OPTIONS is ours", strings.Replace(base, "Max-Forwards: 70", "Max-Forwards: 0", 1), 0, ""},
		{"loop", strings.Replace(base, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK0\r\n", 1), 482, ""},
		{"headers in request-uri", strings.Replace(base, "OPTIONS sip:ccswitch@10.0.0.1", "OPTIONS sip:ccswitch@10.0.0.1?Route=%3Csip:x%3E", 1), 400, ""},
		{"invite with unknown body", strings.NewReplacer("OPTIONS sip", "INVITE sip", "1 OPTIONS", "1 INVITE", "Content-Length: 0", "Content-Type: text/x-foo\r\nContent-Length: 3", "\r\n\r\n", "\r\n\r\nabc").Replace(base), 415, "Accept"},
		{"NUL in a header name", strings.Replace(base, "Max-Forwards", "X-Na\x00me: y\r\nMax-Forwards", 1), 400, ""},
		{"space in a header name", strings.Replace(base, "Max-Forwards", "X Name: y\r\nMax-Forwards", 1), 400, ""},
		{"control byte in a value", strings.Replace(base, "Max-Forwards", "Subject: a\x01b\r\nMax-Forwards", 1), 400, ""},
		{"DEL in a value", strings.Replace(base, "Max-Forwards", "Subject: a\x7fb\r\nMax-Forwards", 1), 400, ""},
		{"tab in a value is text", strings.Replace(base, "Max-Forwards", "Subject: a\tb\r\nMax-Forwards", 1), 0, ""},
		{"UTF-8 in a value is text", strings.Replace(base, "Max-Forwards", "Subject: caf\xc3\xa9\r\nMax-Forwards", 1), 0, ""},
		{"unknown scheme in From", strings.Replace(base, "From: <sip:a@example.com>", "From: <http://example.com>", 1), 400, ""},
		{"tel in To of a REGISTER", strings.NewReplacer("OPTIONS sip", "REGISTER sip", "1 OPTIONS", "1 REGISTER", "To: <sip:ccswitch@10.0.0.1>", "To: <tel:+15550100>").Replace(base), 400, ""},
		{"tel in To of an OPTIONS", strings.Replace(base, "To: <sip:ccswitch@10.0.0.1>", "To: <tel:+15550100>", 1), 0, ""},
		{"loop over IPv6", strings.Replace(base, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP [2001:DB8::1]:5070;branch=z9hG4bK0\r\n", 1), 482, ""},
		{"loop on the default port", strings.Replace(base, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK0\r\n", 1), 482, ""},
		{"another port is no loop", strings.Replace(base, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK0\r\n", 1), 0, ""},
		{"invite accepting nothing we send", strings.NewReplacer("OPTIONS sip", "INVITE sip", "1 OPTIONS", "1 INVITE", "Max-Forwards", "Accept: text/x-foo\r\nMax-Forwards").Replace(base), 406, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Request(parse(t, tt.msg), policy)
			if tt.code == 0 {
				if p != nil {
					t.Fatalf("refused with %d %s", p.Code, p.Reason)
				}
				return
			}
			if p == nil || p.Code != tt.code {
				t.Fatalf("got %+v, want %d", p, tt.code)
			}
			if tt.header != "" {
				found := false
				for _, h := range p.Headers {
					if h.Name() == tt.header {
						found = true
					}
				}
				if !found {
					t.Fatalf("%d without %s header", p.Code, tt.header)
				}
			}
		})
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"Alice":                     "Alice",
		"Alice\r\nVia: evil":        "Alice  Via: evil",
		"a\x00b":                    "a b",
		"\"Bob\"\nContact: <sip:x>": "\"Bob\" Contact: <sip:x>",
	} {
		if got := Sanitize(in); got != want || !Clean(got) {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}
