package webchat_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/webchat"
	"github.com/ccswitch/ccswitch/store"
)

// callbacker is the voice path's side (center.Callbacker): it records what it is asked, and
// refuses when told to (a number not verified, over its cap).
type callbacker struct {
	mu     sync.Mutex
	reqs   []center.CallbackRequest
	refuse error
}

func (f *callbacker) RequestCallback(_ context.Context, r center.CallbackRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return "", f.refuse
	}
	f.reqs = append(f.reqs, r)
	return "cb-1", nil
}

func (f *callbacker) asked() []center.CallbackRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]center.CallbackRequest(nil), f.reqs...)
}

// TestCallMeButton (issue 15): the widget's "call me" button is a {"t":"callme"} frame. It asks
// the voice path to call the visitor's conversation back only while the conversation waits
// in a queue, with its queue and its customer and no number (the voice path calls the
// customer's verified number, never a typed one: a number put in the frame is ignored). Before
// any conversation, after an agent took it, or when the voice path refuses, the visitor gets
// an error frame and nothing is asked; every refusal is counted.
func TestCallMeButton(t *testing.T) {
	env := chantest.New(t, channels.Config{})
	cb := &callbacker{}
	env.Center.SetCallbacker(cb)
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

	c, _ := dial(t, srv.URL, frame{})
	defer c.CloseNow()
	write(t, c, frame{"t": "callme", "cid": "k0"})
	if f := read(t, c); f["t"] != "error" || f["cid"] != "k0" || f["error"] == "" {
		t.Fatalf("call me before any conversation: %v", f)
	}

	write(t, c, frame{"t": "msg", "cid": "c1", "text": "where is my order?"})
	conv := read(t, c)["conv"].(string)
	chantest.WaitState(t, env.Store, conv, store.ConvQueued, "")
	// A typed number rides along: it is not used.
	write(t, c, frame{"t": "callme", "cid": "k1", "text": "+15550100", "phone": "+15550100"})
	if f := read(t, c); f["t"] != "callme" || f["cid"] != "k1" {
		t.Fatalf("call me while queued: %v", f)
	}
	reqs := cb.asked()
	if len(reqs) != 1 || reqs[0].Conversation != conv || reqs[0].Number != "" || reqs[0].Customer == "" || reqs[0].Queue == "" {
		t.Fatalf("asked %+v", reqs)
	}

	cb.mu.Lock()
	cb.refuse = errors.New("voice: not a verified number of the customer")
	cb.mu.Unlock()
	write(t, c, frame{"t": "callme", "cid": "k2"})
	if f := read(t, c); f["t"] != "error" || f["cid"] != "k2" {
		t.Fatalf("call me refused by the voice path: %v", f)
	}
	cb.mu.Lock()
	cb.refuse = nil
	cb.mu.Unlock()

	env.Login(t, "alice")
	chantest.WaitOffer(t, env.Service, "alice", conv)
	env.Service.Accept("alice", conv)
	chantest.WaitState(t, env.Store, conv, store.ConvAssigned, "alice")
	write(t, c, frame{"t": "callme", "cid": "k3"})
	if f := read(t, c); f["t"] != "error" || f["cid"] != "k3" {
		t.Fatalf("call me once an agent has the chat: %v", f)
	}
	if n := len(cb.asked()); n != 1 {
		t.Fatalf("%d callbacks asked, want the one while queued", n)
	}
	for reason, want := range map[string]float64{"callme_not_queued": 2, "callme_refused": 1} {
		if got := refusedCount(t, env.Registry, reason); got != want {
			t.Errorf("refusals %s: %v, want %v", reason, got, want)
		}
	}
	// The conversation's messages are only the visitor's: the button stores none.
	if _, ms, _ := env.Service.Conversation(conv, 0); countIn(ms) != 1 {
		t.Fatalf("inbound messages %d, want 1", countIn(ms))
	}
}

// refusedCount reads ccswitch_channels_refused_total{adapter="webchat",reason}.
func refusedCount(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ccswitch_channels_refused_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["adapter"] == "webchat" && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
