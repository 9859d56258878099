package whatsapp_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/chantest/fakegraph"
	"github.com/ccswitch/ccswitch/channels/internal/meta"
	"github.com/ccswitch/ccswitch/channels/whatsapp"
	"github.com/ccswitch/ccswitch/store"
)

const secret, verify, token = "app-secret", "verify-me", "graph-token"

func setup(t *testing.T) (*chantest.Env, *httptest.Server, *fakegraph.Server) {
	graph := fakegraph.New(token)
	t.Cleanup(graph.Close)
	graph.Media["img-small"] = fakegraph.Media{Type: "image/jpeg", Size: 1000}
	graph.Media["img-big"] = fakegraph.Media{Type: "image/jpeg", Size: 5000}
	graph.Media["exe"] = fakegraph.Media{Type: "application/x-msdownload", Size: 10}
	cfg := channels.WhatsApp{Route: channels.Route{Enabled: true}, AppSecret: secret, VerifyToken: verify, Token: token,
		GraphURL: graph.URL, Limits: channels.Limits{MaxAttachmentBytes: 4096}}
	env := chantest.New(t, channels.Config{WhatsApp: cfg})
	a := whatsapp.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	hook := httptest.NewServer(a)
	t.Cleanup(hook.Close)
	return env, hook, graph
}

// notification builds a Cloud API webhook body with one message.
func notification(id, from, msgJSON string) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"PN1"},"contacts":[{"profile":{"name":"Ann"},"wa_id":%q}],"messages":[{"from":%q,"id":%q,"timestamp":"1764000000",%s}]}}]}]}`, from, from, id, msgJSON)
}

func post(t *testing.T, url string, body []byte, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestVerifyChallenge(t *testing.T) {
	_, hook, _ := setup(t)
	for _, tc := range []struct {
		q    string
		code int
		body string
	}{
		{"hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444", 200, "1158201444"},
		{"hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1", 403, ""},
		{"hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1", 403, ""},
	} {
		resp, err := http.Get(hook.URL + "?" + tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		fmt.Fprint(&b, readAll(resp))
		if resp.StatusCode != tc.code || (tc.body != "" && b.String() != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.q, resp.StatusCode, b.String(), tc.code, tc.body)
		}
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func TestInboundSignedDedupedAndReply(t *testing.T) {
	env, hook, graph := setup(t)
	body := notification("wamid.A", "33612345678", `"type":"text","text":{"body":"Bonjour"}`)

	if code := post(t, hook.URL, body, "sha256=00"+meta.Sign(body, secret)[9:]); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d, want 401", code)
	}
	if code := post(t, hook.URL, body, ""); code != http.StatusUnauthorized {
		t.Fatalf("no signature: %d, want 401", code)
	}
	if convs, _ := env.Store.Conversations(""); len(convs) != 0 {
		t.Fatalf("a rejected webhook stored %d conversations", len(convs))
	}
	for range 2 { // Meta retries the same notification
		if code := post(t, hook.URL, body, meta.Sign(body, secret)); code != http.StatusOK {
			t.Fatalf("good signature: %d", code)
		}
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations, want 1", len(convs))
	}
	c := convs[0]
	_, ms, _ := env.Service.Conversation(c.ID, 0)
	if len(ms) != 1 || ms[0].Text != "Bonjour" || ms[0].ProviderID != "wamid.A" {
		t.Fatalf("messages = %+v, want one Bonjour (retry deduplicated)", ms)
	}
	cust, _, _ := env.Store.Customer(c.Customer)
	if cust.Name != "Ann" || !hasIdentity(cust, "phone", "+33612345678") || !hasIdentity(cust, "whatsapp", "33612345678") {
		t.Errorf("customer = %+v", cust)
	}

	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", c.ID)
	if err := env.Service.Accept("alice", c.ID); err != nil {
		t.Fatal(err)
	}
	chantest.WaitState(t, env.Store, c.ID, store.ConvAssigned, "alice")
	m, err := env.Service.Reply(context.Background(), "alice", c.ID, "Bonjour Ann")
	if err != nil || m.Status != "sent" || !strings.HasPrefix(m.ProviderID, "wamid.out") {
		t.Fatalf("reply = %+v, %v", m, err)
	}
	sent := graph.Sent()
	if len(sent) != 1 || sent[0].Path != "/v21.0/PN1/messages" || sent[0].To() != "33612345678" || sent[0].Text() != "Bonjour Ann" ||
		sent[0].Body["messaging_product"] != "whatsapp" {
		t.Fatalf("graph got %+v", sent)
	}
}

func hasIdentity(c store.Customer, kind, value string) bool {
	for _, id := range c.Identities {
		if id.Kind == kind && id.Value == value {
			return true
		}
	}
	return false
}

func TestAttachmentLimits(t *testing.T) {
	env, hook, _ := setup(t)
	for i, m := range []string{
		`"type":"image","image":{"id":"img-small","mime_type":"image/jpeg","caption":"my receipt"}`,
		`"type":"image","image":{"id":"img-big","mime_type":"image/jpeg"}`,
		`"type":"document","document":{"id":"exe","mime_type":"application/x-msdownload","filename":"run.exe"}`,
	} {
		body := notification(fmt.Sprintf("wamid.M%d", i), "4915112345678", m)
		if code := post(t, hook.URL, body, meta.Sign(body, secret)); code != 200 {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	convs, _ := env.Store.Conversations("")
	_, ms, _ := env.Service.Conversation(convs[0].ID, 0)
	var in []store.Message
	for _, m := range ms {
		if m.Dir == store.In {
			in = append(in, m)
		}
	}
	if len(in) != 3 {
		t.Fatalf("stored %d inbound messages, want 3", len(in))
	}
	a0, a1, a2 := in[0].Attachments[0], in[1].Attachments[0], in[2].Attachments[0]
	if a0.Rejected != "" || a0.Size != 1000 || a0.MediaID != "img-small" || a0.URL == "" || in[0].Text != "my receipt" {
		t.Errorf("small image = %+v (%q)", a0, in[0].Text)
	}
	if !strings.HasPrefix(a1.Rejected, "too large") || a1.URL != "" {
		t.Errorf("big image = %+v, want rejected too large", a1)
	}
	if !strings.HasPrefix(a2.Rejected, "type not allowed") || a2.Name != "run.exe" {
		t.Errorf("exe = %+v, want rejected type", a2)
	}
}
