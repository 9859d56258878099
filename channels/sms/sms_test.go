package sms_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/sms"
	"github.com/ccswitch/ccswitch/store"
)

const sid, tok = "AC0123456789abcdef0123456789abcdef", "twilio-auth-token"

// fakeTwilio speaks the Messages resource of the REST API.
type fakeTwilio struct {
	mu   sync.Mutex
	sent []url.Values
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != sid || pass != tok {
		w.WriteHeader(401)
		w.Write([]byte(`{"code":20003,"message":"Authenticate","status":401}`))
		return
	}
	if r.Method != "POST" || r.URL.Path != "/2010-04-01/Accounts/"+sid+"/Messages.json" {
		w.WriteHeader(404)
		return
	}
	r.ParseForm()
	f.mu.Lock()
	f.sent = append(f.sent, r.PostForm)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	json.NewEncoder(w).Encode(map[string]any{"sid": "SMout1", "status": "queued", "to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body")})
}

func TestSignatureKnownVector(t *testing.T) {
	// The worked example of Twilio's webhook security documentation (and twilio-node's fixture),
	// in its two published variants.
	for caller, want := range map[string]string{"+14158675310": "GvWf1cFY/Q7PnoempGyD5oXAezc=", "+14158675309": "RSOYDt4T1cUTdK1PDd93/VVr8B8="} {
		form := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {caller}, "Digits": {"1234"}, "From": {caller}, "To": {"+18005551212"}}
		if got := sms.Signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form); got != want {
			t.Errorf("caller %s: signature = %s, want %s", caller, got, want)
		}
	}
}

func TestSMSInboundAndReply(t *testing.T) {
	tw := &fakeTwilio{}
	api := httptest.NewServer(tw)
	defer api.Close()
	cfg := channels.SMS{Route: channels.Route{Enabled: true}, AccountSID: sid, AuthToken: tok, From: "+15550001111", BaseURL: api.URL}
	env := chantest.New(t, channels.Config{SMS: cfg})
	a := sms.New(cfg, env.Service, nil)
	env.Service.AddAdapter(a)
	hook := httptest.NewServer(a)
	defer hook.Close()

	form := url.Values{"MessageSid": {"SM1"}, "AccountSid": {sid}, "From": {"+33612345678"}, "To": {"+15550001111"}, "Body": {"need help"},
		"NumMedia": {"1"}, "MediaUrl0": {"https://api.twilio.com/media/1"}, "MediaContentType0": {"image/png"}}
	send := func(sig string) int {
		req, _ := http.NewRequest("POST", hook.URL+"/webhooks/sms", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(sms.Signature("other-token", hook.URL+"/webhooks/sms", form)); code != 403 {
		t.Fatalf("bad signature: %d", code)
	}
	if convs, _ := env.Store.Conversations(""); len(convs) != 0 {
		t.Fatal("bad signature stored something")
	}
	good := sms.Signature(tok, hook.URL+"/webhooks/sms", form)
	for range 2 {
		if code := send(good); code != 200 {
			t.Fatalf("good signature: %d", code)
		}
	}
	convs, _ := env.Store.Conversations("")
	if len(convs) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	_, ms, _ := env.Service.Conversation(convs[0].ID, 0)
	if len(ms) != 1 || ms[0].Text != "need help" || len(ms[0].Attachments) != 1 || ms[0].Attachments[0].Type != "image/png" {
		t.Fatalf("messages = %+v", ms)
	}
	env.Login(t, "bob")
	chantest.WaitOffer(t, env.Service, "bob", convs[0].ID)
	env.Service.Accept("bob", convs[0].ID)
	chantest.WaitState(t, env.Store, convs[0].ID, store.ConvAssigned, "bob")
	m, err := env.Service.Reply(context.Background(), "bob", convs[0].ID, "on it")
	if err != nil || m.ProviderID != "SMout1" {
		t.Fatalf("reply = %+v, %v", m, err)
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if len(tw.sent) != 1 || tw.sent[0].Get("To") != "+33612345678" || tw.sent[0].Get("From") != "+15550001111" || tw.sent[0].Get("Body") != "on it" {
		t.Fatalf("twilio got %+v", tw.sent)
	}
}
