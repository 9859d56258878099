package email_test

import (
	"context"
	"net"
	"net/smtp"
	"strings"
	"sync"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/email"
	"github.com/ccswitch/ccswitch/store"
)

// relay records what reaches it: it is the adapter's own SMTP server with a recording
// receiver, so the reply is parsed by a real SMTP exchange.
type relay struct {
	mu  sync.Mutex
	got []channels.Inbound
}

func (r *relay) Receive(_ context.Context, in channels.Inbound) (channels.Receipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, in)
	return channels.Receipt{}, nil
}

func serve(t *testing.T, a *email.Adapter) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Serve(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func TestEmailThreads(t *testing.T) {
	rl := &relay{}
	relayAddr := serve(t, email.New(channels.Email{Domain: "relay.test", Domains: []string{"example.com"}}, rl, nil))
	cfg := channels.Email{Route: channels.Route{Enabled: true}, Domain: "support.example", Address: "support@support.example", Relay: relayAddr}
	env := chantest.New(t, channels.Config{Email: cfg})
	a := email.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	addr := serve(t, a)

	first := "From: Ann Customer <Ann@Example.com>\r\nTo: support@support.example\r\nSubject: =?utf-8?q?Commande_=C3=A9gar=C3=A9e?=\r\n" +
		"Message-ID: <m1@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nMy order is lost =E2=80=94 help\r\n" +
		"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
	for range 2 { // the MX retries after a lost 250: deduplicated by Message-ID
		if err := smtp.SendMail(addr, nil, "ann@example.com", []string{"support@support.example"}, []byte(first)); err != nil {
			t.Fatal(err)
		}
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	conv := convs[0]
	_, ms, _ := env.Service.Conversation(conv.ID, 0)
	if len(ms) != 1 || conv.Subject != "Commande égarée" || !strings.Contains(ms[0].Text, "My order is lost — help") {
		t.Fatalf("conv %+v messages %+v", conv, ms)
	}
	if at := ms[0].Attachments; len(at) != 1 || at[0].Name != "invoice.pdf" || at[0].Size != 9 || at[0].Rejected != "" {
		t.Fatalf("attachments = %+v", at)
	}
	cu, _, _ := env.Store.Customer(conv.Customer)
	if cu.Name != "Ann Customer" {
		t.Errorf("customer = %+v", cu)
	}

	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", conv.ID)
	env.Service.Accept("alice", conv.ID)
	chantest.WaitState(t, env.Store, conv.ID, store.ConvAssigned, "alice")
	m, err := env.Service.Reply(context.Background(), "alice", conv.ID, "We found it.\nIt ships today.")
	if err != nil || m.Status != "sent" {
		t.Fatalf("reply = %+v, %v", m, err)
	}
	rl.mu.Lock()
	if len(rl.got) != 1 || rl.got[0].InReplyTo != "<m1@example.com>" || rl.got[0].Subject != "Re: Commande égarée" ||
		!strings.Contains(rl.got[0].Text, "It ships today.") || rl.got[0].MessageID != m.ProviderID {
		t.Fatalf("relay got %+v (reply id %s)", rl.got, m.ProviderID)
	}
	rl.mu.Unlock()

	// The customer answers our reply: same conversation.
	second := "From: ann@example.com\r\nTo: support@support.example\r\nSubject: Re: Commande\r\nMessage-ID: <m2@example.com>\r\n" +
		"In-Reply-To: " + m.ProviderID + "\r\nReferences: <m1@example.com> " + m.ProviderID + "\r\n\r\nThanks!\r\n"
	if err := smtp.SendMail(addr, nil, "ann@example.com", []string{"support@support.example"}, []byte(second)); err != nil {
		t.Fatal(err)
	}
	_, ms, _ = env.Service.Conversation(conv.ID, 0)
	if last := ms[len(ms)-1]; last.Dir != store.In || last.Text != "Thanks!" {
		t.Fatalf("threaded answer: last message %+v", last)
	}
	// A new mail without threading headers starts a new conversation for the same customer.
	third := "From: ann@example.com\r\nSubject: another question\r\nMessage-ID: <m3@example.com>\r\n\r\nHi again\r\n"
	if err := smtp.SendMail(addr, nil, "ann@example.com", []string{"support@support.example"}, []byte(third)); err != nil {
		t.Fatal(err)
	}
	convs, _ = env.Store.Conversations("")
	if len(convs) != 2 || convs[0].Customer != convs[1].Customer {
		t.Fatalf("conversations = %+v", convs)
	}
}
