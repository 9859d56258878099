package webchat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/webchat"
	"github.com/ccswitch/ccswitch/store"
)

type frame = map[string]any

func dial(t *testing.T, url string, hello frame) (*websocket.Conn, frame) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/chat/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	hello["t"] = "hello"
	if err := wsjson.Write(ctx, c, hello); err != nil {
		t.Fatal(err)
	}
	return c, read(t, c)
}

func read(t *testing.T, c *websocket.Conn) frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var f frame
	if err := wsjson.Read(ctx, c, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func write(t *testing.T, c *websocket.Conn, f frame) {
	t.Helper()
	if err := wsjson.Write(context.Background(), c, f); err != nil {
		t.Fatal(err)
	}
}

func TestReconnectLosesNothing(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	key, err := env.Store.Secret("webchat", 32)
	if err != nil {
		t.Fatal(err)
	}
	a := webchat.New(channels.WebChat{}, env.Service, key, nil)
	env.Service.AddAdapter(a)
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/widget.js")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("widget.js: %v %v", resp, err)
	}
	resp.Body.Close()

	c, w := dial(t, srv.URL, frame{})
	visitor, token := w["visitor"].(string), w["token"].(string)
	if w["t"] != "welcome" || visitor == "" || token == "" || w["conv"] != nil {
		t.Fatalf("welcome = %v", w)
	}
	write(t, c, frame{"t": "msg", "cid": "c1", "text": "hello from the site"})
	ack := read(t, c)
	conv := ack["conv"].(string)
	if ack["t"] != "ack" || ack["cid"] != "c1" || ack["seq"] != float64(1) {
		t.Fatalf("ack = %v", ack)
	}
	// The widget lost the ack and sends c1 again: same seq, nothing new stored.
	write(t, c, frame{"t": "msg", "cid": "c1", "text": "hello from the site"})
	if ack2 := read(t, c); ack2["seq"] != float64(1) || ack2["conv"] != conv {
		t.Fatalf("second ack = %v", ack2)
	}

	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", conv)
	env.Service.Accept("alice", conv)
	chantest.WaitState(t, env.Store, conv, store.ConvAssigned, "alice")
	if _, err := env.Service.Reply(context.Background(), "alice", conv, "first reply"); err != nil {
		t.Fatal(err)
	}
	if f := read(t, c); f["t"] != "msg" || f["text"] != "first reply" || f["dir"] != "out" || f["seq"] != float64(2) {
		t.Fatalf("pushed = %v", f)
	}
	c.CloseNow()

	// While the visitor is away the agent replies again.
	if _, err := env.Service.Reply(context.Background(), "alice", conv, "second reply"); err != nil {
		t.Fatal(err)
	}
	c, w = dial(t, srv.URL, frame{"visitor": visitor, "token": token, "conv": conv, "since": 2})
	defer c.CloseNow()
	if w["visitor"] != visitor || w["conv"] != conv {
		t.Fatalf("welcome back = %v", w)
	}
	if f := read(t, c); f["text"] != "second reply" || f["seq"] != float64(3) {
		t.Fatalf("resent = %v, want the reply sent while away", f)
	}
	// The agent transfers the chat: the timeline's system line is not for the customer.
	if err := env.Service.Transfer("alice", conv, "sales"); err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	c3, _ := dial(t, srv.URL, frame{"visitor": visitor, "token": token, "conv": conv, "since": 3})
	write(t, c3, frame{"t": "msg", "cid": "c9", "text": "hello again"})
	if f := read(t, c3); f["t"] != "ack" || f["conv"] != conv || f["seq"] != float64(5) {
		t.Fatalf("after transfer: %v, want the ack of seq 5 (seq 4, the system line, not sent)", f)
	}
	c3.CloseNow()
	// A forged token gets a fresh visitor, not the conversation.
	c2, w2 := dial(t, srv.URL, frame{"visitor": visitor, "token": "forged", "conv": conv})
	defer c2.CloseNow()
	if w2["visitor"] == visitor || w2["conv"] != nil {
		t.Fatalf("forged token welcome = %v", w2)
	}
	_, ms, _ := env.Service.Conversation(conv, 0)
	if countIn(ms) != 2 {
		t.Fatalf("inbound messages = %d, want 2 (c1 once, c9)", countIn(ms))
	}
}

func countIn(ms []store.Message) int {
	n := 0
	for _, m := range ms {
		if m.Dir == store.In {
			n++
		}
	}
	return n
}

func TestClaimedEmailDoesNotLink(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	key, _ := env.Store.Secret("webchat", 32)
	a := webchat.New(channels.WebChat{}, env.Service, key, nil)
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	victim, err := env.Service.Receive(context.Background(), channels.Inbound{Adapter: "email", ProviderID: "<v@x>", MessageID: "<v@x>",
		From: "victim@example.com", Identities: []store.Identity{{Kind: "email", Value: "victim@example.com"}}, Text: "private"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := dial(t, srv.URL, frame{"email": "victim@example.com"})
	defer c.CloseNow()
	write(t, c, frame{"t": "msg", "cid": "x", "text": "I am the victim, show me everything"})
	ack := read(t, c)
	conv, _, _ := env.Store.Conversation(ack["conv"].(string))
	if conv.Customer == victim.Customer {
		t.Fatal("a typed email linked the visitor to the victim's customer record")
	}
	cu, _, _ := env.Store.Customer(conv.Customer)
	if len(cu.Identities) != 2 || cu.Identities[1] != (store.Identity{Kind: "claimed-email", Value: "victim@example.com"}) {
		t.Fatalf("visitor identities = %+v", cu.Identities)
	}
}
