package channels

import (
	"context"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// Inbound is a customer's message, normalised by an adapter.
type Inbound struct {
	Adapter string // "whatsapp", "sms", "webchat", …
	// ProviderID is the provider's id of the message (wamid, MessageSid, update_id, mid,
	// Message-ID, the widget's client id): a second Receive with the same id is a duplicate.
	ProviderID string
	// DedupeFor, when set, says ProviderID is a digest of the content, not the provider's id
	// (a provider that sends none): within DedupeFor of the first it is a retry, after it the
	// customer writing the same again.
	DedupeFor time.Duration
	// From is the customer's handle on the adapter, where replies go; Route is our side
	// (the phone-number-id or number that received it), kept for replies.
	From  string
	Route string
	Name  string
	// Identities are further identities the message proves (a WhatsApp id is a phone number;
	// an email address): they link customers automatically.
	Identities []store.Identity
	// Claims are what the customer typed about themselves (an email or phone in the widget,
	// "I am customer 42"): kept on their record as "claimed-…" hints agents can search, never
	// used to find or link a customer (invariant 7). Their kinds need not carry the prefix.
	Claims      []store.Identity
	Text        string
	Attachments []store.Attachment
	Time        time.Time
	// Automatic is a machine's message (an email with Auto-Submitted, Precedence: bulk or a
	// null sender): stored and queued, but never answered by a greeting or a flow, so two
	// machines cannot answer each other forever.
	Automatic bool
	// Email threading.
	Subject    string
	MessageID  string
	InReplyTo  string
	References []string
}

// Receipt is what Receive stored.
type Receipt struct {
	Conv      string
	Seq       uint64
	Customer  string
	Duplicate bool
}

// Receiver takes normalised inbound messages; Service implements it. Adapters answer their
// provider only after Receive returned nil (invariant 1).
type Receiver interface {
	Receive(ctx context.Context, in Inbound) (Receipt, error)
}

// Adapter sends replies through one provider.
type Adapter interface {
	// Name is the adapter's name, as in Inbound.Adapter and the webhook path.
	Name() string
	// Send delivers m (already stored) to conv's customer and returns the provider's id of it.
	Send(ctx context.Context, conv store.Conversation, m store.Message) (providerID string, err error)
}

// ACDChannel is the ACD channel an adapter's conversations are routed on.
func ACDChannel(adapter string) string {
	switch adapter {
	case "webchat":
		return "chat"
	case "email":
		return "email"
	default:
		return "social"
	}
}

// Phone normalises a phone number to "+digits" (a WhatsApp id has no "+"); "" when s is not
// a phone number: only digits, a leading "+" (or "tel:") and the separators space - . ( ) /
// are allowed, 3 to 15 digits (E.164). An alphanumeric sender ("Shop123", "Bank123") is
// therefore never a phone: it stays its own identity (invariant 8).
func Phone(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 4 && strings.EqualFold(s[:4], "tel:") {
		s = s[4:]
	}
	var b strings.Builder
	b.WriteByte('+')
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case strings.ContainsRune(" -.()/", r):
		default:
			return ""
		}
	}
	if n := b.Len() - 1; n < 3 || n > 15 {
		return ""
	}
	return b.String()
}

// EmailAddr normalises an email address for matching.
func EmailAddr(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
