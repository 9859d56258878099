package auth

import (
	"net/url"
	"strings"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// SameURI reports whether a digest uri names the same resource as a Request-URI, by the
// comparison rules of RFC 3261 §19.1.4 that matter for where a request goes: scheme, user,
// host (case-insensitive), port (absent = the scheme's default) and the user, transport,
// method, maddr and ttl parameters when either URI has them. Other parameters and the
// text's spelling (escapes, case of the host, parameter order) do not matter. URIs that do
// not parse as SIP URIs must be equal strings.
func SameURI(digestURI, requestURI string) bool {
	if digestURI == requestURI {
		return true
	}
	var a, b sip.Uri
	if sip.ParseUri(digestURI, &a) != nil || sip.ParseUri(requestURI, &b) != nil {
		return false
	}
	if !strings.EqualFold(a.Scheme, b.Scheme) || !strings.EqualFold(a.Host, b.Host) ||
		unescape(a.User) != unescape(b.User) || port(a) != port(b) {
		return false
	}
	for _, k := range [...]string{"user", "transport", "method", "maddr", "ttl"} {
		va, _ := param(a, k)
		vb, _ := param(b, k)
		if !strings.EqualFold(va, vb) {
			return false
		}
	}
	return true
}

func param(u sip.Uri, k string) (string, bool) {
	if u.UriParams == nil {
		return "", false
	}
	return u.UriParams.Get(k)
}

func port(u sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if strings.EqualFold(u.Scheme, "sips") {
		return 5061
	}
	return 5060
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
