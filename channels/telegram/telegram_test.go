package telegram_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/telegram"
	"github.com/ccswitch/ccswitch/store"
)

const botToken, secret = "123456:ABC-DEF", "s3cr3t-token"

// fakeBotAPI answers sendMessage like api.telegram.org.
type fakeBotAPI struct {
	mu   sync.Mutex
	sent []map[string]any
}

func (f *fakeBotAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/bot"+botToken+"/sendMessage" {
		w.WriteHeader(401)
		w.Write([]byte(`{"ok":false,"error_code":401,"description":"Unauthorized"}`))
		return
	}
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.sent = append(f.sent, body)
	f.mu.Unlock()
	w.Write([]byte(`{"ok":true,"result":{"message_id":77,"date":1764000000,"chat":{"id":42,"type":"private"},"text":"x"}}`))
}

func TestTelegram(t *testing.T) {
	api := &fakeBotAPI{}
	srv := httptest.NewServer(api)
	defer srv.Close()
	cfg := channels.Telegram{Route: channels.Route{Enabled: true}, BotToken: botToken, SecretToken: secret, BaseURL: srv.URL}
	env := chantest.New(t, channels.Config{Telegram: cfg})
	a := telegram.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	hook := httptest.NewServer(a)
	defer hook.Close()

	body := `{"update_id":1001,"message":{"message_id":5,"date":1764000000,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":{"id":42,"type":"private","first_name":"Ann"},"text":"hi bot"}}`
	post := func(tok, body string) int {
		req, _ := http.NewRequest("POST", hook.URL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tok != "" {
			req.Header.Set("X-Telegram-Bot-Api-Secret-Token", tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("wrong", body); code != 401 {
		t.Fatalf("wrong secret: %d", code)
	}
	if code := post("", body); code != 401 {
		t.Fatalf("no secret: %d", code)
	}
	if convs, _ := env.Store.Conversations(""); len(convs) != 0 {
		t.Fatal("rejected update stored something")
	}
	for range 2 {
		if code := post(secret, body); code != 200 {
			t.Fatalf("good secret: %d", code)
		}
	}
	big := `{"update_id":1002,"message":{"message_id":6,"date":1764000001,"from":{"id":42,"first_name":"Ann"},"chat":{"id":42,"type":"private"},"caption":"scan","document":{"file_id":"F1","file_name":"a.pdf","mime_type":"application/pdf","file_size":99999999}}}`
	if code := post(secret, big); code != 200 {
		t.Fatal(code)
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	_, ms, _ := env.Service.Conversation(convs[0].ID, 0)
	if len(ms) != 2 || ms[0].Text != "hi bot" || ms[1].Text != "scan" || !strings.HasPrefix(ms[1].Attachments[0].Rejected, "too large") {
		t.Fatalf("messages = %+v", ms)
	}
	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", convs[0].ID)
	env.Service.Accept("alice", convs[0].ID)
	chantest.WaitState(t, env.Store, convs[0].ID, store.ConvAssigned, "alice")
	m, err := env.Service.Reply(context.Background(), "alice", convs[0].ID, "hello Ann")
	if err != nil || m.ProviderID != "42:77" {
		t.Fatalf("reply = %+v, %v", m, err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.sent) != 1 || api.sent[0]["chat_id"] != float64(42) || api.sent[0]["text"] != "hello Ann" {
		t.Fatalf("bot api got %+v", api.sent)
	}
}
