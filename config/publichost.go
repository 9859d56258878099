package config

import (
	"net/netip"
	"strings"
)

// sipEdge validates the SIP edge settings: public_host, max_contacts, nat_ping_interval
// and auth_lockout.
func (v *validator) sipEdge() {
	s := v.c.SIP
	if s.PublicHost != "" {
		if msg := checkPublicHost(s.PublicHost); msg != "" {
			v.failAt("sip.public_host", "%s, got %q", msg, s.PublicHost)
		}
	}
	if s.MaxContacts < 1 {
		v.failAt("sip.max_contacts", "want at least 1, got %d", s.MaxContacts)
	}
	if s.NATPingInterval != nil {
		if d := s.NATPingInterval.D(); d < 0 || (d > 0 && d < 5e9) {
			v.failAt("sip.nat_ping_interval", "want 0 (off) or at least 5s, got %s", d)
		}
	}
	l := s.AuthLockout
	if l.Failures < 1 {
		v.failAt("sip.auth_lockout.failures", "want at least 1, got %d", l.Failures)
	}
	if l.Usernames < 1 {
		v.failAt("sip.auth_lockout.usernames", "want at least 1, got %d", l.Usernames)
	}
	if l.Window.D() <= 0 {
		v.failAt("sip.auth_lockout.window", "want a positive duration, got %s", l.Window.D())
	}
}

// checkPublicHost returns what is wrong with a public_host value, "" when it is a usable
// host: an IPv4 or IPv6 address (brackets optional) that is not unspecified, or a DNS name.
func checkPublicHost(h string) string {
	ip := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(ip); err == nil {
		if a.IsUnspecified() {
			return "want the address phones and carriers reach, not an unspecified one"
		}
		if a.Zone() != "" {
			return "want an address without a zone"
		}
		return ""
	}
	if strings.ContainsAny(h, "[]:") {
		return "want a host without port, such as sip.example.com or 203.0.113.5"
	}
	if !isDNSName(h) {
		return "want a DNS name or IP address"
	}
	return ""
}

// isDNSName reports whether s is a host name of RFC 1123 labels (letters, digits, '-', not
// at a label's ends), at most 253 characters, and not all digits and dots.
func isDNSName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	digits := true
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= '0' && c <= '9':
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-':
				digits = false
			default:
				return false
			}
		}
	}
	return !digits
}
