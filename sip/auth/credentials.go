package auth

import (
	"errors"
	"strconv"
	"strings"

	"github.com/icholy/digest"
)

var errCredentials = errors.New("digest: invalid credentials")

// parseCredentials is digest.ParseCredentials without its per-call 4 KiB bufio.Reader (a
// REGISTER's largest allocation, bench/sip): the same grammar (`Digest` prefix, any case;
// comma-separated key=value pairs; a key and an unquoted value are letters, digits and
// '-'; quoted values with backslash escapes; spaces around tokens), the same fields, nc in
// hex. It differs only where the library would replace invalid UTF-8 in a quoted value by
// U+FFFD: this keeps the bytes (a credential with such bytes fails the check either way).
func parseCredentials(s string) (*digest.Credentials, error) {
	s, ok := digest.CutPrefix(s)
	if !ok {
		return nil, errCredentials
	}
	var c digest.Credentials
	p := credParser{s: s}
	for first := true; ; first = false {
		p.skipSpace()
		if p.i == len(p.s) {
			break
		}
		if !first {
			if !p.byte(',') {
				return nil, errCredentials
			}
			p.skipSpace()
		}
		key := p.ident()
		p.skipSpace()
		if !p.byte('=') {
			return nil, errCredentials
		}
		p.skipSpace()
		var val string
		if p.i < len(p.s) && p.s[p.i] == '"' {
			if val, ok = p.quoted(); !ok {
				return nil, errCredentials
			}
		} else {
			val = p.ident()
		}
		switch key {
		case "username":
			c.Username = val
		case "realm":
			c.Realm = val
		case "nonce":
			c.Nonce = val
		case "uri":
			c.URI = val
		case "response":
			c.Response = val
		case "algorithm":
			c.Algorithm = val
		case "cnonce":
			c.Cnonce = val
		case "opaque":
			c.Opaque = val
		case "qop":
			c.QOP = val
		case "nc":
			nc, err := strconv.ParseInt(val, 16, 32)
			if err != nil {
				return nil, errCredentials
			}
			c.Nc = int(nc)
		case "userhash":
			c.Userhash = strings.ToLower(val) == "true"
		}
	}
	return &c, nil
}

type credParser struct {
	s string
	i int
}

func (p *credParser) skipSpace() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *credParser) byte(b byte) bool {
	if p.i < len(p.s) && p.s[p.i] == b {
		p.i++
		return true
	}
	return false
}

// ident reads letters, digits and '-' (maybe none), as a substring of the input.
func (p *credParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		b := p.s[p.i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-') {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

// quoted reads a quoted string at p.i; the value is a substring unless it has escapes.
func (p *credParser) quoted() (string, bool) {
	p.i++ // the opening quote
	start := p.i
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '"':
			v := p.s[start:p.i]
			p.i++
			return v, true
		case '\\':
			return p.quotedEscaped(start)
		}
		p.i++
	}
	return "", false // no closing quote
}

func (p *credParser) quotedEscaped(start int) (string, bool) {
	var b strings.Builder
	b.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", false
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		case c == '"':
			p.i++
			return b.String(), true
		}
		b.WriteByte(c)
		p.i++
	}
	return "", false
}
