package validate

import (
	"strconv"
	"strings"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// Problem is a reason to refuse a request: the status to answer with and any headers the
// answer must carry (Allow, Unsupported, Accept).
type Problem struct {
	Code    int
	Reason  string
	Headers []sip.Header
}

// Policy is what the server supports.
type Policy struct {
	// Allowed methods (answered normally). Known methods not in it get 405 + Allow;
	// unknown methods get 501 + Allow.
	Allowed []string
	// Supported option tags; a Require naming anything else gets 420 + Unsupported.
	Supported []string
	// Self lists our own sent-by values ("127.0.0.1:5060"); a request whose Via carries
	// one of them has looped back to us (482).
	Self []string
}

// known holds every method of RFC 3261 and its extensions that we recognise as SIP.
var known = map[string]bool{
	"INVITE": true, "ACK": true, "BYE": true, "CANCEL": true, "OPTIONS": true, "REGISTER": true,
	"PRACK": true, "SUBSCRIBE": true, "NOTIFY": true, "PUBLISH": true, "INFO": true,
	"REFER": true, "MESSAGE": true, "UPDATE": true,
}

// single lists the headers that may appear once only (RFC 3261 §7.3.1, §20).
var single = [...]string{"Call-ID", "From", "To", "CSeq", "Content-Length", "Max-Forwards", "Content-Type", "Expires"}

// singleLower is single as sipgo.HeaderToLower spells them (compact forms included by
// sipgo's parser, which stores i/f/t/l/c under their full names).
var singleLower = func() (out [len(single)]string) {
	for i, h := range single {
		out[i] = sip.HeaderToLower(h)
	}
	return out
}()

// Request returns the Problem of req, or nil when it may be handled.
func Request(req *sip.Request, p *Policy) *Problem {
	if req.SipVersion != "SIP/2.0" {
		return &Problem{Code: 505, Reason: "Version Not Supported"}
	}
	m := string(req.Method)
	if !known[m] {
		return &Problem{Code: 501, Reason: "Not Implemented", Headers: []sip.Header{allow(p)}}
	}
	// Mandatory headers (RFC 3261 §8.1.1); Max-Forwards is tolerated when missing.
	if req.Via() == nil || req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil {
		return &Problem{Code: 400, Reason: "Missing Mandatory Header"}
	}
	// One pass over the headers: names are tokens, unparsed values carry no control
	// characters, single-value headers appear once (no allocation).
	var seen [len(single)]uint8
	for _, h := range req.Headers() {
		if !token(h.Name()) {
			return &Problem{Code: 400, Reason: "Bad Header Name"}
		}
		if raw(h) && !text(h.Value(), new(bool)) {
			return &Problem{Code: 400, Reason: "Bad Header Value"}
		}
		name := sip.HeaderToLower(h.Name())
		for i, s := range singleLower {
			if name == s {
				if seen[i]++; seen[i] > 1 {
					return &Problem{Code: 400, Reason: "Duplicate " + single[i]}
				}
				break
			}
		}
	}
	if string(req.CSeq().MethodName) != m {
		return &Problem{Code: 400, Reason: "CSeq Method Mismatch"}
	}
	if cid := strings.TrimSpace(req.CallID().Value()); cid == "" {
		return &Problem{Code: 400, Reason: "Empty Call-ID"}
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return &Problem{Code: 400, Reason: "Content-Length Mismatch"}
	}
	if !Clean(req.CallID().Value()) {
		return &Problem{Code: 400, Reason: "Bad Call-ID"}
	}
	if s := req.Recipient.Scheme; s != "sip" && s != "sips" && s != "tel" {
		return &Problem{Code: 416, Reason: "Unsupported URI Scheme"}
	}
	if req.Recipient.Headers != nil && req.Recipient.Headers.Length() > 0 {
		// RFC 4475 §3.1.2.? (escruri): headers are not allowed in a Request-URI.
		return &Problem{Code: 400, Reason: "Headers In Request-URI"}
	}
	for _, u := range []*sip.Uri{&req.From().Address, &req.To().Address} {
		// 416 names the Request-URI (§8.2.2.1); an unknown scheme in From or To is a
		// malformed request here (RFC 4475 unksm2: the AOR of a REGISTER is a SIP URI).
		if u.Scheme != "sip" && u.Scheme != "sips" && (u.Scheme != "tel" || m == "REGISTER") {
			return &Problem{Code: 400, Reason: "Bad From Or To URI"}
		}
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 && m != "OPTIONS" && m != "REGISTER" && m != "ACK" {
		return &Problem{Code: 483, Reason: "Too Many Hops"}
	}
	if len(p.Self) > 0 {
		for _, h := range req.GetHeaders("Via") {
			v, ok := h.(*sip.ViaHeader)
			if !ok {
				continue
			}
			for _, s := range p.Self {
				if sentBy(v, s) {
					return &Problem{Code: 482, Reason: "Loop Detected"}
				}
			}
		}
	}
	if m != "ACK" && m != "CANCEL" {
		var unsup []string
		for _, h := range req.GetHeaders("Require") {
			for _, tag := range strings.Split(h.Value(), ",") {
				tag = strings.TrimSpace(tag)
				if tag == "" || contains(p.Supported, tag) {
					continue
				}
				unsup = append(unsup, Sanitize(tag))
			}
		}
		if len(unsup) > 0 {
			return &Problem{Code: 420, Reason: "Bad Extension", Headers: []sip.Header{sip.NewHeader("Unsupported", strings.Join(unsup, ", "))}}
		}
	}
	if !contains(p.Allowed, m) {
		return &Problem{Code: 405, Reason: "Method Not Allowed", Headers: []sip.Header{allow(p)}}
	}
	if m == "INVITE" || m == "UPDATE" {
		// A body we cannot read is 415 + Accept (RFC 3261 §21.4.13); an Accept we cannot
		// satisfy is 406 (§21.4.7).
		if ct := req.ContentType(); ct != nil && len(req.Body()) > 0 && !acceptable(ct.Value()) {
			return &Problem{Code: 415, Reason: "Unsupported Media Type", Headers: []sip.Header{sip.NewHeader("Accept", "application/sdp")}}
		}
		if acc := req.GetHeaders("Accept"); len(acc) > 0 {
			ok := false
			for _, h := range acc {
				for _, v := range strings.Split(h.Value(), ",") {
					if acceptable(v) {
						ok = true
					}
				}
			}
			if !ok {
				return &Problem{Code: 406, Reason: "Not Acceptable"}
			}
		}
	}
	return nil
}

// sentBy reports whether a Via's sent-by is self ("host:port", an IPv6 host bracketed):
// hosts compare without brackets and case, a missing port is 5060.
func sentBy(v *sip.ViaHeader, self string) bool {
	host, port, ok := strings.Cut(self, "]:")
	if ok {
		host = strings.TrimPrefix(host, "[")
	} else if i := strings.LastIndexByte(self, ':'); i >= 0 {
		host, port = self[:i], self[i+1:]
	} else {
		host, port = self, "5060"
	}
	vp := v.Port
	if vp == 0 {
		vp = 5060
	}
	vh := strings.TrimSuffix(strings.TrimPrefix(v.Host, "["), "]")
	return strings.EqualFold(vh, host) && port == strconv.Itoa(vp)
}

// token reports whether s is a non-empty SIP token (a header name).
func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isToken(s[i]) {
			return false
		}
	}
	return true
}

// raw reports whether h keeps its value as received (a header sipgo does not parse), so
// that checking it costs no allocation; the UDP read path checks every header's bytes
// before parsing (Datagram).
func raw(h sip.Header) bool {
	switch h.(type) {
	case *sip.ViaHeader, *sip.FromHeader, *sip.ToHeader, *sip.ContactHeader, *sip.CSeqHeader,
		*sip.RouteHeader, *sip.RecordRouteHeader, *sip.ContentTypeHeader, *sip.ContentLengthHeader,
		*sip.MaxForwardsHeader, *sip.ExpiresHeader:
		return false
	}
	return true
}

// acceptable reports whether a media type (with parameters) is one we can handle: SDP.
func acceptable(v string) bool {
	v, _, _ = strings.Cut(v, ";")
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "application/sdp" || v == "application/*" || v == "*/*"
}

func allow(p *Policy) sip.Header {
	return sip.NewHeader("Allow", strings.Join(p.Allowed, ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Clean reports whether s can be written into a header as it is.
func Clean(s string) bool {
	return !strings.ContainsAny(s, "\r\n\x00")
}

// Sanitize returns s with CR, LF and NUL replaced by spaces (invariant 3). Use it on every
// value that came from outside (config, callers, CRM) before putting it in a header.
func Sanitize(s string) string {
	if Clean(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}
