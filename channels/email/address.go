package email

import (
	"regexp"
	"strings"
)

// What reaches an outgoing header or an SMTP command is checked first (package invariant 3):
// an address is a dot-atom local part at a domain of letters, digits and hyphens, so a quoted
// local part ("a@b,c"@d) cannot add a recipient; a Message-ID is <printable@printable> with no
// space, angle bracket or control character, so a bare CR cannot start a header.
var (
	localRE  = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*$`)
	domainRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	msgIDRE  = regexp.MustCompile(`^<[!-;=?-~]+@[!-;=?-~]+>$`)
)

// ValidAddress reports whether s is a plain mail address (local@domain, dot-atom local part,
// at most 254 bytes) that is safe in a To header and a RCPT command.
func ValidAddress(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && len(s) <= 254 && len(local) <= 64 && localRE.MatchString(local) && domainRE.MatchString(domain)
}

// ValidMessageID reports whether s is a Message-ID safe in an In-Reply-To or References
// header: <left@right>, printable ASCII without spaces or angle brackets inside, at most 250
// bytes.
func ValidMessageID(s string) bool { return len(s) <= 250 && msgIDRE.MatchString(s) }

// domainOf is the lower-cased domain of a valid address.
func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return strings.ToLower(d)
}
