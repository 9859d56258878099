package ivr

import (
	"strings"
	"unicode"
)

// words splits s into lower-case words of letters and digits: "Talk to an AGENT!" is
// [talk to an agent].
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// hasWords reports whether kw appears in msg as whole, consecutive words.
func hasWords(msg, kw []string) bool {
	if len(kw) == 0 {
		return false
	}
	for i := 0; i+len(kw) <= len(msg); i++ {
		match := true
		for j, w := range kw {
			if msg[i+j] != w {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// answer is a contact's input, as typed (voice digits) or written (text).
type answer struct {
	raw   string
	words []string // text only
}

// matchChoice returns the menu choice the answer selects, or nil. Voice: the digits equal a
// choice's digits. Text: the trimmed message equals a choice's digits, else the first choice
// (in order) one of whose keywords appears as whole words.
func matchChoice(choices []choice, a answer, text bool) *choice {
	for i := range choices {
		if c := &choices[i]; c.digits != "" && a.raw == c.digits {
			return c
		}
	}
	if !text {
		return nil
	}
	for i := range choices {
		for _, kw := range choices[i].keywords {
			if hasWords(a.words, kw) {
				return &choices[i]
			}
		}
	}
	return nil
}

// matchEscape reports whether the answer asks for an agent: the escape digit alone, or (text)
// the escape keyword as whole words.
func (e *escape) match(a answer, text bool) bool {
	if e == nil {
		return false
	}
	if e.digit != "" && a.raw == e.digit {
		return true
	}
	return text && hasWords(a.words, e.keyword)
}
