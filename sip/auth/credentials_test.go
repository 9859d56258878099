package auth

import (
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/icholy/digest"
)

// parseCredentials accepts, refuses and reads exactly what digest.ParseCredentials does.
func TestParseCredentialsMatchesLibrary(t *testing.T) {
	for _, s := range credentialCases {
		checkCredentials(t, s)
	}
}

func FuzzParseCredentials(f *testing.F) {
	for _, s := range credentialCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return // the library turns invalid UTF-8 in quoted values into U+FFFD
		}
		checkCredentials(t, s)
	})
}

var credentialCases = []string{
	`Digest username="1001", realm="ccswitch", nonce="abc", uri="sip:ccswitch", response="0123456789abcdef0123456789abcdef", algorithm=MD5, cnonce="xyz", qop=auth, nc=00000001`,
	`digest username="1001",realm="r",nonce="n",uri="sip:a@b;transport=udp",response="r",nc=0000000a,qop=auth,opaque=""`,
	`DIGEST   username = "a\"b\\c" ,  realm = "x y" , nc=ff, userhash=TRUE`,
	`Digest username=1001, realm="r"`,
	`Digest username="unterminated`,
	`Digest username="a" realm="r"`,
	`Digest username="a",, realm="r"`,
	`Digest =x`,
	`Digest nc=zz`,
	`Digest nc=100000000`,
	`Digest username="a\`,
	`Basic dXNlcjpwYXNz`,
	`Digest`,
	`Digest `,
	`Digest username=""`,
	`Digest x-y-z=1, username="é"`,
	`Digest username="a",`,
	`Digest username:"a"`,
}

func checkCredentials(t *testing.T, s string) {
	t.Helper()
	want, werr := digest.ParseCredentials(s)
	got, gerr := parseCredentials(s)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: error %v, library %v", s, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %+v\nwant %+v", s, got, want)
	}
}

func BenchmarkParseCredentials(b *testing.B) {
	s := credentialCases[0]
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parseCredentials(s)
		}
	})
	b.Run("library", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			digest.ParseCredentials(s)
		}
	})
}
