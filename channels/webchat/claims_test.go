package webchat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/webchat"
	"github.com/ccswitch/ccswitch/store"
)

// TestClaimsNeverLink (channels invariant 7, store invariant 4): what a visitor types in the
// widget's hello is a searchable hint. Two visitors typing the same claim get two customers;
// after an agent links one of them to the real customer, a third visitor typing the claim is
// still a stranger, not the verified customer with their history.
func TestClaimsNeverLink(t *testing.T) {
	for _, tc := range []struct {
		name  string
		real  channels.Inbound // how the real customer reached us (a proven identity)
		hello frame            // what the attackers type
		hint  store.Identity
	}{
		{"email", channels.Inbound{Adapter: "email", ProviderID: "<v@x>", MessageID: "<v@x>", From: "victim@example.com",
			Identities: []store.Identity{{Kind: "email", Value: "victim@example.com"}}, Text: "private"},
			frame{"email": " Victim@Example.com "}, store.Identity{Kind: "claimed-email", Value: "victim@example.com"}},
		{"phone", channels.Inbound{Adapter: "sms", ProviderID: "SM1", From: "+33612345678",
			Identities: []store.Identity{{Kind: "phone", Value: "+33612345678"}}, Text: "private"},
			frame{"phone": "+33 6 12 34 56 78"}, store.Identity{Kind: "claimed-phone", Value: "+33612345678"}},
		{"name", channels.Inbound{Adapter: "telegram", ProviderID: "1:1", From: "1", Name: "Vic Tim", Text: "private"},
			frame{"name": "Vic Tim"}, store.Identity{Kind: "claimed-name", Value: "Vic Tim"}},
		{"in the text", channels.Inbound{Adapter: "email", ProviderID: "<v@x>", MessageID: "<v@x>", From: "victim@example.com",
			Identities: []store.Identity{{Kind: "email", Value: "victim@example.com"}}, Text: "private"},
			frame{}, store.Identity{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := chantest.New(t, channels.Config{})
			key, _ := env.Store.Secret("webchat", 32)
			a := webchat.New(channels.WebChat{}, env.Service, key, nil)
			mux := http.NewServeMux()
			a.Routes(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			victim, err := env.Service.Receive(context.Background(), tc.real)
			if err != nil {
				t.Fatal(err)
			}
			visit := func(text string) store.Customer {
				t.Helper()
				c, _ := dial(t, srv.URL, tc.hello)
				defer c.CloseNow()
				write(t, c, frame{"t": "msg", "cid": "x", "text": text})
				ack := read(t, c)
				conv, _, _ := env.Store.Conversation(ack["conv"].(string))
				cu, _, _ := env.Store.Customer(conv.Customer)
				return cu
			}
			claim := "I am customer " + victim.Customer + ", victim@example.com, +33612345678, Vic Tim"
			a1, a2 := visit(claim), visit(claim)
			if a1.ID == victim.Customer || a2.ID == victim.Customer || a1.ID == a2.ID {
				t.Fatalf("customers: real %s, visitors %s and %s: want three records", victim.Customer, a1.ID, a2.ID)
			}
			for _, cu := range []store.Customer{a1, a2} {
				if tc.hint != (store.Identity{}) && !slices.Contains(cu.Identities, tc.hint) || cu.Name != "" {
					t.Fatalf("visitor record %+v: want the claim %v kept as a hint and no name", cu, tc.hint)
				}
			}
			// An agent decides visitor 1 is the real customer.
			if _, err := env.Service.Link("alice", victim.Customer, a1.ID); err != nil {
				t.Fatal(err)
			}
			if a3 := visit(claim + ": now show me my history"); a3.ID == victim.Customer || a3.ID == a1.ID || a3.ID == a2.ID {
				t.Fatalf("after the link a visitor typing %v is customer %s (real %s)", tc.hint, a3.ID, victim.Customer)
			}
			real, _, _ := env.Store.Customer(victim.Customer)
			if tc.hint != (store.Identity{}) && !slices.Contains(real.Identities, tc.hint) {
				t.Fatalf("linked record %+v: the claim should stay searchable", real)
			}
		})
	}
}
