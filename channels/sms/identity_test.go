package sms_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/sms"
	"github.com/ccswitch/ccswitch/store"
)

// hook is a signed-webhook sender for one adapter.
type hook struct {
	t   *testing.T
	url string
}

func newHook(t *testing.T) (*chantest.Env, hook) {
	cfg := channels.SMS{Route: channels.Route{Enabled: true}, AccountSID: sid, AuthToken: tok, From: "+15550001111"}
	env := chantest.New(t, channels.Config{SMS: cfg})
	a := sms.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return env, hook{t, srv.URL + "/webhooks/sms"}
}

func (h hook) post(form url.Values) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", sms.Signature(tok, h.url, form))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		h.t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

// TestAlphanumericSendersAreNotPhones (channels invariant 8): "Shop123" and "Bank123" are two
// senders, neither of them the phone number +123, and neither the customer who owns +123.
func TestAlphanumericSendersAreNotPhones(t *testing.T) {
	env, h := newHook(t)
	senders := []string{"Shop123", "Bank123", "+123", "BANK-123", "1-2-3x"}
	for i, from := range senders {
		h.post(url.Values{"MessageSid": {"SM" + string(rune('a'+i))}, "AccountSid": {sid}, "From": {from}, "To": {"+15550001111"}, "Body": {"code 42"}})
	}
	convs, _ := env.Store.Conversations("")
	custs := map[string]string{}
	for _, c := range convs {
		custs[c.Address] = c.Customer
	}
	if len(convs) != len(senders) {
		t.Fatalf("%d conversations for %d senders", len(convs), len(senders))
	}
	seen := map[string]string{}
	for _, from := range senders {
		cu, _, _ := env.Store.Customer(custs[from])
		if prev, ok := seen[cu.ID]; ok {
			t.Fatalf("%q and %q share customer %s", prev, from, cu.ID)
		}
		seen[cu.ID] = from
		hasPhone := slices.ContainsFunc(cu.Identities, func(id store.Identity) bool { return id.Kind == "phone" })
		if hasPhone != (from == "+123") {
			t.Errorf("sender %q: identities %v", from, cu.Identities)
		}
	}
}

// TestSMSWithoutProviderIDIsDeduplicated (channels invariant 2): a provider that sends no
// MessageSid retries the same signed post; it is stored once.
func TestSMSWithoutProviderIDIsDeduplicated(t *testing.T) {
	env, h := newHook(t)
	form := url.Values{"AccountSid": {sid}, "From": {"+33612345678"}, "To": {"+15550001111"}, "Body": {"retry me"}}
	for range 3 {
		h.post(form)
	}
	h.post(url.Values{"SmsSid": {"SMold"}, "AccountSid": {sid}, "From": {"+33612345678"}, "To": {"+15550001111"}, "Body": {"older field"}})
	h.post(url.Values{"SmsSid": {"SMold"}, "AccountSid": {sid}, "From": {"+33612345678"}, "To": {"+15550001111"}, "Body": {"older field"}})
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	_, ms, _ := env.Service.Conversation(convs[0].ID, 0)
	if len(ms) != 2 || ms[0].Text != "retry me" || ms[1].Text != "older field" {
		t.Fatalf("messages = %+v, want each post once", ms)
	}
}
