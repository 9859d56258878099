package email

import (
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
)

// FuzzParse: whatever a sender puts in a mail, parse returns (an error or an Inbound with a
// sender and a dedupe id) and never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\nSubject: hi\r\nMessage-ID: <1@b>\r\n\r\nbody\r\n"), "a@b.example")
	f.Add([]byte("From: =?utf-8?q?=C3=A9?= <x@y>\r\nContent-Type: multipart/mixed; boundary=Z\r\n\r\n--Z\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\naGk=\r\n--Z--\r\n"), "")
	f.Add([]byte("Content-Type: multipart/alternative; boundary=\"\"\r\n\r\n"), "e@f")
	a := New(channels.Email{}, nil, nil)
	f.Fuzz(func(t *testing.T, raw []byte, env string) {
		in, err := a.parse(raw, env, env == "")
		if err != nil {
			return
		}
		if !ValidAddress(in.From) || !ValidMessageID(in.MessageID) || in.ProviderID != in.From+" "+in.MessageID {
			t.Fatalf("parsed without a plain sender or a valid id: %+v", in)
		}
		if strings.ContainsAny(in.Subject+in.Name+in.InReplyTo+strings.Join(in.References, ""), "\r\n") {
			t.Fatalf("a control character survived into a header field: %+v", in)
		}
	})
}
