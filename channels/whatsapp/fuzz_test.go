package whatsapp_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/internal/meta"
	"github.com/ccswitch/ccswitch/channels/whatsapp"
)

type countingReceiver struct {
	mu sync.Mutex
	n  int
}

func (c *countingReceiver) Receive(_ context.Context, in channels.Inbound) (channels.Receipt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in.From == "" {
		panic("inbound without sender")
	}
	c.n++
	return channels.Receipt{}, nil
}

// FuzzWebhook: a correctly signed body of any shape gets 200 or 400, never a panic, and an
// unsigned one never reaches the receiver.
func FuzzWebhook(f *testing.F) {
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{"from":"1","id":"x","type":"text","text":{"body":"hi"}}]}}]}]}`))
	f.Add([]byte(`{"entry":[{"changes":[{"value":{"messages":[{"from":"","id":"","type":"image","image":{}}]}}]}]}`))
	f.Add([]byte(`[]`))
	recv := &countingReceiver{}
	a := whatsapp.New(channels.WhatsApp{AppSecret: "s", Token: "t", GraphURL: "http://127.0.0.1:1"}, recv, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, sig := range []string{meta.Sign(body, "s"), meta.Sign(body, "other")} {
			before := recv.n
			req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
			req.Header.Set("X-Hub-Signature-256", sig)
			w := httptest.NewRecorder()
			a.ServeHTTP(w, req)
			switch {
			case sig == meta.Sign(body, "other") && (w.Code != 401 || recv.n != before):
				t.Fatalf("bad signature: %d, receiver called %d times", w.Code, recv.n-before)
			case w.Code != 200 && w.Code != 400 && w.Code != 401:
				t.Fatalf("status %d", w.Code)
			}
		}
	})
}
