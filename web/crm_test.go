package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/center/crm"
	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/config"
)

// TestCRMOnOffersAndCalls runs the real CRM client against an operator CRM on 127.0.0.1: a
// WhatsApp offer gets the CRM's fields (on the desktop's offer and as a "crm" event), a caller
// ringing an agent gets them on the screen pop, and a CRM that does not answer in time leaves
// the offer on the desktop without them.
func TestCRMOnOffersAndCalls(t *testing.T) {
	var mu sync.Mutex
	var asked []url.Values
	release := make(chan struct{})
	defer close(release)
	crmSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		asked = append(asked, q)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer crm-token" {
			w.WriteHeader(401)
			return
		}
		switch q.Get("handle") {
		case "15550008888": // a slow CRM
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "15550007777":
			w.Write([]byte(`{"name":"Ana Lima","tier":"gold","lifetime_value":1234,"orders":{"open":2}}`))
		case "+15550101":
			w.Write([]byte(`{"account":"ACME-42"}`))
		default:
			w.WriteHeader(404)
		}
	}))
	defer crmSrv.Close()
	cfg := config.Config{CRM: config.CRM{LookupURL: crmSrv.URL + "/lookup", AuthValue: "Bearer crm-token", Timeout: config.Duration(300 * time.Millisecond)}}
	cfg.ApplyDefaults()
	client := crm.New(cfg.CRM, crm.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { client.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	h := startOpts(t, 0, nil, client)
	events, stop := h.Server.Service().Subscribe("alice")
	defer stop()
	alice := newClient(t, h.URL)
	if code := alice.do("POST", "/api/login", map[string]string{"agent": "alice", "password": "alice-pw"}, nil); code != 200 {
		t.Fatalf("login: %d", code)
	}
	alice.do("POST", "/api/state", map[string]any{"ready": true}, nil)

	h.whatsapp(t, "wamid.slow", "15550008888", "Slow", "anyone there?")
	var me struct{ Offers []channels.Offer }
	chantest.Eventually(t, "the offer without waiting for a slow CRM", func() bool {
		alice.do("GET", "/api/me", nil, &me)
		return len(me.Offers) == 1
	})
	if len(me.Offers[0].CRM) != 0 {
		t.Errorf("offer of a customer the CRM did not answer for has fields %v", me.Offers[0].CRM)
	}

	h.whatsapp(t, "wamid.ana", "15550007777", "Ana", "my order is late")
	var crmEv *channels.CRMCard
	chantest.Eventually(t, "the crm event", func() bool {
		for {
			select {
			case ev := <-events:
				if ev.Type == "crm" && ev.CRM.Conv != "" {
					crmEv = ev.CRM
				}
				continue
			default:
			}
			return crmEv != nil
		}
	})
	want := []crm.Field{{Name: "name", Value: "Ana Lima"}, {Name: "tier", Value: "gold"}, {Name: "lifetime_value", Value: "1234"}}
	if len(crmEv.Fields) != len(want) {
		t.Fatalf("crm event fields = %v, want %v", crmEv.Fields, want)
	}
	for i := range want {
		if crmEv.Fields[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, crmEv.Fields[i], want[i])
		}
	}
	alice.do("GET", "/api/me", nil, &me)
	found := false
	for _, o := range me.Offers {
		found = found || o.Conv == crmEv.Conv && len(o.CRM) == 3
	}
	if !found {
		t.Errorf("the desktop's offers %+v do not carry the CRM fields of %s", me.Offers, crmEv.Conv)
	}
	mu.Lock()
	for _, q := range asked {
		if q.Get("handle") == "15550007777" && (q.Get("channel") != "whatsapp" || q.Get("phone") != "+15550007777" || q.Get("customer") == "") {
			t.Errorf("lookup query %v: want channel, handle, phone and customer", q)
		}
	}
	mu.Unlock()

	// A call ringing alice: the screen pop, then the CRM's fields for that call.
	h.Server.Service().ScreenPop("alice", "call-1", "+15550101")
	chantest.Eventually(t, "the crm event of the call", func() bool {
		for {
			select {
			case ev := <-events:
				if ev.Type == "crm" && ev.CRM.CallID == "call-1" && len(ev.CRM.Fields) == 1 && ev.CRM.Fields[0].Value == "ACME-42" {
					return true
				}
				continue
			default:
				return false
			}
		}
	})
}
