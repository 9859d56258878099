package validate

import (
	"bytes"
	"strings"
)

// Fault says what is wrong with the bytes of a message before any parsing: the reason a
// datagram is answered 400 (or dropped) in the read path. "" means nothing is.
type Fault string

// Faults Datagram finds.
const (
	FaultControl    Fault = "control-byte"    // a control character (NUL included) in the start line or a header
	FaultHeaderName Fault = "bad-header-name" // a header line whose name is not a token followed by ':'
	FaultBareCR     Fault = "bare-cr"         // a CR not followed by LF
	FaultBareLF     Fault = "bare-lf"         // an LF not preceded by CR
)

// Datagram checks the start line and header section of one raw message (invariant 4): every
// line ends in CRLF, every header line is a continuation (leading SP or HTAB) or a token name
// followed by optional whitespace and ':', and no control character other than HTAB appears
// before the body. The body is not looked at. It allocates nothing.
func Datagram(data []byte) Fault {
	head := data
	if i := bytes.Index(data, []byte("\r\n\r\n")); i >= 0 {
		head = data[:i+2]
	}
	inQuote := false // a quoted string may continue on a folded line
	for first := true; len(head) > 0; first = false {
		var line []byte
		if n := bytes.IndexByte(head, '\n'); n < 0 {
			line, head = head, nil
		} else {
			if n == 0 || head[n-1] != '\r' {
				return FaultBareLF
			}
			line, head = head[:n-1], head[n+1:]
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return FaultBareCR
		}
		continuation := !first && len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
		if !continuation {
			inQuote = false
		}
		if first {
			if !text(line, nil) {
				return FaultControl
			}
			continue // the rest of the start line is the parser's to judge
		}
		if !text(line, &inQuote) {
			return FaultControl
		}
		if len(line) == 0 || continuation {
			continue
		}
		j := 0
		for j < len(line) && isToken(line[j]) {
			j++
		}
		if j == 0 {
			return FaultHeaderName
		}
		for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
			j++
		}
		if j >= len(line) || line[j] != ':' {
			return FaultHeaderName
		}
	}
	return ""
}

// text reports whether a line (or header value) has no control character other than HTAB,
// except escaped in a quoted string (RFC 3261 quoted-pair: "\" and any byte but CR or LF).
// inQuote, when not nil, carries the quoting state across folded lines; nil means quotes are
// not special (the start line).
func text[T string | []byte](line T, inQuote *bool) bool {
	q := false
	if inQuote != nil {
		q = *inQuote
	}
	for i := 0; i < len(line); i++ {
		b := line[i]
		switch {
		case q && b == '\\' && i+1 < len(line):
			i++ // a quoted pair: any byte (CR and LF were refused before)
			continue
		case inQuote != nil && b == '"':
			q = !q
		case b < 0x20 && b != '\t', b == 0x7f:
			return false
		}
	}
	if inQuote != nil {
		*inQuote = q
	}
	return true
}

// isToken reports whether b may appear in a SIP token (RFC 3261 §25.1).
func isToken(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	switch b {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// paramHeaders are the headers whose parameters sipgo's parser reads (in full and compact
// form, lower case): the ones Normalize rewrites.
var paramHeaders = map[string]bool{
	"via": true, "v": true, "from": true, "f": true, "to": true, "t": true,
	"contact": true, "m": true, "route": true, "record-route": true,
	"content-type": true, "c": true, "refer-to": true, "r": true, "referred-by": true, "b": true,
}

// Normalize removes the linear whitespace around ';' and '=' in the parameters of the headers
// sipgo parses (Via, From, To, Contact, Route, Record-Route, Content-Type, Refer-To,
// Referred-By), outside quoted strings and <URIs>: RFC 3261 allows "; tag = x" (SEMI and
// EQUAL may carry whitespace; RFC 4475 wsinv), and sipgo's parser would read a parameter
// named " tag ". It returns data itself when there is nothing to change (the common case:
// no allocation), else a new slice. The body is untouched.
func Normalize(data []byte) []byte {
	end := bytes.Index(data, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(data)
	} else {
		end += 2
	}
	head := data[:end]
	if !spacedEquals(head) {
		return data
	}
	out := make([]byte, 0, len(data))
	// Header fields, each with its continuation lines.
	i := bytes.Index(head, []byte("\r\n"))
	if i < 0 {
		return data
	}
	out = append(out, head[:i+2]...) // the start line
	i += 2
	for i < len(head) {
		j := i
		for {
			k := bytes.Index(head[j:], []byte("\r\n"))
			if k < 0 {
				j = len(head)
				break
			}
			j += k + 2
			if j >= len(head) || (head[j] != ' ' && head[j] != '\t') {
				break
			}
		}
		field := head[i:j]
		name, _, ok := bytes.Cut(field, []byte(":"))
		if ok && paramHeaders[strings.ToLower(string(bytes.TrimRight(name, " \t")))] {
			out = appendTightEquals(out, field)
		} else {
			out = append(out, field...)
		}
		i = j
	}
	return append(out, data[end:]...)
}

// spacedEquals reports whether some ';' or '=' in head has a space, tab or line break next
// to it.
func spacedEquals(head []byte) bool {
	for i, b := range head {
		if b != '=' && b != ';' {
			continue
		}
		if i > 0 && isLWS(head[i-1]) || i+1 < len(head) && isLWS(head[i+1]) {
			return true
		}
	}
	return false
}

func isLWS(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\n' }

// appendTightEquals appends a header field (ending in CRLF) with the LWS around each ';' and
// '=' outside quotes and angle brackets removed.
func appendTightEquals(out, field []byte) []byte {
	body, crlf := bytes.CutSuffix(field, []byte("\r\n"))
	mark := len(out)
	inQuote, inAngle, escaped := false, false, false
	for i := 0; i < len(body); i++ {
		b := body[i]
		switch {
		case inQuote:
			switch {
			case escaped:
				escaped = false
			case b == '\\':
				escaped = true
			case b == '"':
				inQuote = false
			}
		case b == '"':
			inQuote = true
		case b == '<':
			inAngle = true
		case b == '>':
			inAngle = false
		case (b == '=' || b == ';') && !inAngle:
			for len(out) > mark && isLWS(out[len(out)-1]) {
				out = out[:len(out)-1]
			}
			for i+1 < len(body) && isLWS(body[i+1]) {
				i++
			}
			out = append(out, b)
			continue
		}
		out = append(out, b)
	}
	if crlf {
		out = append(out, '\r', '\n')
	}
	return out
}
