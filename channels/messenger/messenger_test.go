package messenger_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/chantest/fakegraph"
	"github.com/ccswitch/ccswitch/channels/internal/meta"
	"github.com/ccswitch/ccswitch/channels/messenger"
	"github.com/ccswitch/ccswitch/store"
)

const secret, token = "page-secret", "page-token"

func post(t *testing.T, url string, body []byte, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMessenger(t *testing.T) {
	graph := fakegraph.New(token)
	defer graph.Close()
	cfg := channels.Messenger{Route: channels.Route{Enabled: true}, AppSecret: secret, VerifyToken: "vt", Token: token, GraphURL: graph.URL}
	env := chantest.New(t, channels.Config{Messenger: cfg})
	a := messenger.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	hook := httptest.NewServer(a)
	defer hook.Close()

	resp, err := http.Get(hook.URL + "?hub.mode=subscribe&hub.verify_token=vt&hub.challenge=CH")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || b.String() != "CH" {
		t.Fatalf("challenge: %d %q", resp.StatusCode, b.String())
	}

	body := []byte(`{"object":"page","entry":[{"id":"PAGE","time":1764000000000,"messaging":[{"sender":{"id":"PSID1"},"recipient":{"id":"PAGE"},"timestamp":1764000000000,"message":{"mid":"m_1","text":"hello page","attachments":[{"type":"image","payload":{"url":"https://cdn.example/x.jpg"}},{"type":"file","payload":{"url":"https://cdn.example/x.bin"}}]}}]}]}`)
	if code := post(t, hook.URL, body, meta.Sign(body, "wrong")); code != 401 {
		t.Fatalf("bad signature: %d", code)
	}
	if convs, _ := env.Store.Conversations(""); len(convs) != 0 {
		t.Fatal("bad signature stored something")
	}
	for range 2 {
		if code := post(t, hook.URL, body, meta.Sign(body, secret)); code != 200 {
			t.Fatalf("good signature: %d", code)
		}
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	_, ms, _ := env.Service.Conversation(convs[0].ID, 0)
	if len(ms) != 1 || ms[0].Text != "hello page" || len(ms[0].Attachments) != 2 {
		t.Fatalf("messages = %+v", ms)
	}
	if ms[0].Attachments[0].Rejected != "" || !strings.HasPrefix(ms[0].Attachments[1].Rejected, "type not allowed") {
		t.Errorf("attachments = %+v", ms[0].Attachments)
	}
	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", convs[0].ID)
	env.Service.Accept("alice", convs[0].ID)
	chantest.WaitState(t, env.Store, convs[0].ID, store.ConvAssigned, "alice")
	m, err := env.Service.Reply(context.Background(), "alice", convs[0].ID, "hi from the page")
	if err != nil || m.Status != "sent" {
		t.Fatalf("reply %+v %v", m, err)
	}
	sent := graph.Sent()
	if len(sent) != 1 || sent[0].Path != "/v21.0/me/messages" || sent[0].To() != "PSID1" || sent[0].Text() != "hi from the page" {
		t.Fatalf("graph got %+v", sent)
	}
}
