package validate

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

func TestDatagram(t *testing.T) {
	with := func(old, new string) string { return strings.Replace(base, old, new, 1) }
	for _, tc := range []struct {
		name string
		msg  string
		want Fault
	}{
		{"valid", base, ""},
		{"folded header", with("Call-ID: abc\r\n", "Call-ID:\r\n abc\r\n"), ""},
		{"space before colon", with("Call-ID: abc", "Call-ID  : abc"), ""},
		{"UTF-8 and tab in a value", with("Max-Forwards", "Subject: caf\xc3\xa9\tx\r\nMax-Forwards"), ""},
		{"control bytes in the body are the body's business", base[:len(base)-2] + "\r\n\x00\x01\r\x7f", ""},
		{"NUL in a header name", with("Max-Forwards", "X-Na\x00me: y\r\nMax-Forwards"), FaultControl},
		{"NUL in a value", with("Call-ID: abc", "Call-ID: a\x00bc"), FaultControl},
		{"NUL in the request line", with("OPTIONS sip:ccswitch@10.0.0.1", "OPTIONS sip:ccswitch@10.0\x00.0.1"), FaultControl},
		{"escape in a value", with("Call-ID: abc", "Call-ID: a\x1bbc"), FaultControl},
		{"DEL in a value", with("Call-ID: abc", "Call-ID: a\x7fbc"), FaultControl},
		{"vertical tab in a name", with("Call-ID: abc", "Call\x0bID: abc"), FaultControl},
		{"bare CR inside a value", with("Call-ID: abc", "Call-ID: a\rVia: x"), FaultBareCR},
		{"bare CR ending a line", with("Call-ID: abc\r\n", "Call-ID: abc\r"), FaultBareCR},
		{"bare LF ending a line", with("Call-ID: abc\r\n", "Call-ID: abc\n"), FaultBareLF},
		{"bare LF inside a value", with("Call-ID: abc", "Call-ID: a\nVia: x"), FaultBareLF},
		{"LF-only request line", strings.Replace(base, "SIP/2.0\r\n", "SIP/2.0\n", 1), FaultBareLF},
		{"escaped controls in a quoted string (RFC 4475 intmeth)", with("To: <sip:ccswitch@10.0.0.1>", "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:ccswitch@10.0.0.1>"), ""},
		{"escaped control in a quote folded over lines", with("To: <sip:ccswitch@10.0.0.1>", "To: \"a\r\n b \\\x00\" <sip:ccswitch@10.0.0.1>"), ""},
		{"raw control in a quoted string", with("To: <sip:ccswitch@10.0.0.1>", "To: \"a\x00\" <sip:ccswitch@10.0.0.1>"), FaultControl},
		{"escaped control outside quotes", with("Call-ID: abc", "Call-ID: a\\\x00bc"), FaultControl},
		{"a quote does not leak into the next header", with("To: <sip:ccswitch@10.0.0.1>", "To: \"a <sip:ccswitch@10.0.0.1>\r\nX: \\\x00"), FaultControl},
		{"escaped CR in a quoted string", with("To: <sip:ccswitch@10.0.0.1>", "To: \"a\\\rb\" <sip:ccswitch@10.0.0.1>"), FaultBareCR},
		{"space in a name", with("Call-ID: abc", "Call ID: abc"), FaultHeaderName},
		{"no colon", with("Call-ID: abc", "Call-ID abc"), FaultHeaderName},
		{"empty name", with("Call-ID: abc", ": abc"), FaultHeaderName},
		{"non-token name", with("Call-ID: abc", "Call(ID): abc"), FaultHeaderName},
		{"UTF-8 name", with("Call-ID: abc", "Cäll-ID: abc"), FaultHeaderName},
	} {
		if got := Datagram([]byte(tc.msg)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestNormalize: LWS around '=' goes from the parameters of the headers sipgo parses, and
// nothing else changes: not quoted strings, not URIs in <>, not other headers, not the body.
func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"nothing to do", base, base},
		{"tag with spaces", "A\r\nFrom: <sip:a@b> ; tag = 98\r\n\r\n", "A\r\nFrom: <sip:a@b>;tag=98\r\n\r\n"},
		{"folded around =", "A\r\nm: <sip:a@b> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33\r\n\r\n", "A\r\nm: <sip:a@b>;newparam=newvalue;secondparam;q=0.33\r\n\r\n"},
		{"compact via", "A\r\nv: SIP/2.0/TCP h ;\r\n  branch  =   z9hG4bK9 ,\r\n SIP/2.0/UDP x; branch=\r\n z9hG4bK3\r\n\r\n", "A\r\nv: SIP/2.0/TCP h;branch=z9hG4bK9 ,\r\n SIP/2.0/UDP x;branch=z9hG4bK3\r\n\r\n"},
		{"contact expires after a space", "A\r\nContact: <sip:a@b;lr>; expires=60\r\n\r\n", "A\r\nContact: <sip:a@b;lr>;expires=60\r\n\r\n"},
		{"quoted string kept", "A\r\nFrom: \"a = b\" <sip:a@b>;tag = 1\r\n\r\n", "A\r\nFrom: \"a = b\" <sip:a@b>;tag=1\r\n\r\n"},
		{"escaped quote", "A\r\nTo: \"a \\\" = b\" <sip:a@b>\r\n\r\n", "A\r\nTo: \"a \\\" = b\" <sip:a@b>\r\n\r\n"},
		{"other headers kept", "A\r\nSubject: 1 = 1\r\nTo: <sip:a@b>;tag = x\r\n\r\n", "A\r\nSubject: 1 = 1\r\nTo: <sip:a@b>;tag=x\r\n\r\n"},
		{"body kept", "A\r\nTo: <sip:a@b>;tag = x\r\n\r\nv = 0\r\n", "A\r\nTo: <sip:a@b>;tag=x\r\n\r\nv = 0\r\n"},
		{"= at the end of a field", "A\r\nTo: <sip:a@b>;tag= \r\nCall-ID: x\r\n\r\n", "A\r\nTo: <sip:a@b>;tag=\r\nCall-ID: x\r\n\r\n"},
	} {
		if got := string(Normalize([]byte(tc.in))); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// TestNormalizeLetsSipgoReadTheTag: the point of Normalize, on RFC 4475's wsinv From.
func TestNormalizeLetsSipgoReadTheTag(t *testing.T) {
	msg := strings.Replace(base, "From: <sip:a@example.com>;tag=1\r\n", "from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n", 1)
	req := parse(t, string(Normalize([]byte(msg))))
	if tag, _ := req.From().Params.Get("tag"); tag != "98asjd8" {
		t.Fatalf("From tag %q after Normalize, want 98asjd8", tag)
	}
	req = parse(t, msg)
	if tag, _ := req.From().Params.Get("tag"); tag == "98asjd8" {
		t.Log("sipgo now reads spaced parameters itself: Normalize may be unnecessary")
	}
}

func BenchmarkDatagram(b *testing.B) {
	data := []byte(base)
	b.ReportAllocs()
	for range b.N {
		Datagram(data)
		Normalize(data)
	}
}

var _ = sip.NewParser
