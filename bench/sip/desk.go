package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"
)

// The text side of -e2e and -soak: signed WhatsApp-format webhooks (each from a new customer,
// so each opens a conversation) and agents on the desktop's API and WebSocket, who accept
// every offer and close the conversation at once, so capacity frees and nothing piles up.

// deskAgent is a text agent of the bench config: id, password and its bcrypt hash (cost 4:
// the hash is checked once per login).
type deskAgent struct{ id, password, hash string }

func makeDeskAgents(n int, prefix string) ([]deskAgent, error) {
	out := make([]deskAgent, n)
	for i := range out {
		b := make([]byte, 8)
		rand.Read(b)
		pw := hex.EncodeToString(b)
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		out[i] = deskAgent{id: fmt.Sprintf("%s%02d", prefix, i+1), password: pw, hash: string(h)}
	}
	return out, nil
}

// textTracker pairs each webhook (by its number n, written in the message text as
// "bench-n") with the offer that reaches a desktop.
type textTracker struct {
	mu      sync.Mutex
	sent    map[int]time.Time
	lat     []float64 // ms
	posted  int
	refused int // webhook answered other than 200, or not answered
	offers  int
	dup     int // offers of a message already offered (a re-offer)
	errs    map[string]int
	seen    map[int]bool
}

func newTextTracker() *textTracker {
	return &textTracker{sent: map[int]time.Time{}, errs: map[string]int{}, seen: map[int]bool{}}
}

func (t *textTracker) fail(what string) {
	t.mu.Lock()
	t.errs[what]++
	t.mu.Unlock()
}

// previewNumber finds "bench-n" in an offer's preview.
var previewNumber = regexp.MustCompile(`bench-(\d+)`)

func (t *textTracker) offered(preview string, at time.Time) {
	m := previewNumber.FindStringSubmatch(preview)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.offers++
	if m == nil {
		t.errs["offer without a bench message in its preview"]++
		return
	}
	n, _ := strconv.Atoi(m[1])
	sent, ok := t.sent[n]
	switch {
	case !ok:
		t.errs["offer of an unknown message"]++
	case t.seen[n]:
		t.dup++
	default:
		t.seen[n] = true
		t.lat = append(t.lat, float64(at.Sub(sent))/float64(time.Millisecond))
	}
}

// missing is how many posted messages were never offered.
func (t *textTracker) missing() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k := range t.sent {
		if !t.seen[k] {
			n++
		}
	}
	return n
}

// webhook posts WhatsApp Cloud API notifications signed with the app secret.
type webhook struct {
	url, secret string
	client      *http.Client
}

// whatsAppBody is a one-message notification from customer 1999nnnnnnn with text "bench-n".
func whatsAppBody(n int, now time.Time) []byte {
	from := fmt.Sprintf("1999%07d", n)
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{` +
		`"messaging_product":"whatsapp","metadata":{"phone_number_id":"PNBENCH"},"contacts":[{"profile":{"name":"Bench ` + strconv.Itoa(n) + `"},"wa_id":"` + from + `"}],` +
		`"messages":[{"from":"` + from + `","id":"wamid.bench` + strconv.Itoa(n) + `","timestamp":"` + strconv.FormatInt(now.Unix(), 10) +
		`","type":"text","text":{"body":"bench-` + strconv.Itoa(n) + `"}}]}}]}]}`)
}

// signature is Meta's X-Hub-Signature-256 of body.
func signature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends message n and records when it was sent (before the request: the latency is
// from the webhook POST to the desktop's offer).
func (w *webhook) post(ctx context.Context, n int, tr *textTracker) {
	body := whatsAppBody(n, time.Now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		tr.fail(err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", signature(w.secret, body))
	tr.mu.Lock()
	tr.sent[n] = time.Now()
	tr.posted++
	tr.mu.Unlock()
	res, err := w.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			tr.mu.Lock()
			tr.refused++
			tr.errs["webhook: "+oneLine(err.Error(), 80)]++
			tr.mu.Unlock()
		}
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		tr.mu.Lock()
		tr.refused++
		tr.errs[fmt.Sprintf("webhook answered %d", res.StatusCode)]++
		tr.mu.Unlock()
	}
}

// postAt posts webhooks at rate/s until ctx ends or dur passed, numbering them from first,
// and returns how many it started.
func (w *webhook) postAt(ctx context.Context, rate float64, dur time.Duration, first int, tr *textTracker) int {
	if rate <= 0 {
		return 0
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	period := time.Duration(float64(time.Second) / rate)
	t0 := time.Now()
	n := 0
	for {
		next := t0.Add(time.Duration(n) * period)
		if next.Sub(t0) >= dur {
			return n
		}
		select {
		case <-ctx.Done():
			return n
		case <-time.After(time.Until(next)):
		}
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			w.post(ctx, k, tr)
		}(first + n)
		n++
	}
}

// desk is one agent's desktop: a session, ready, and the WebSocket of its events.
type desk struct {
	agent deskAgent
	base  string // http://host:port
	http  *http.Client
}

func newDesk(base string, a deskAgent) (*desk, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &desk{agent: a, base: base, http: &http.Client{Jar: jar, Timeout: 15 * time.Second}}, nil
}

func (d *desk) postJSON(ctx context.Context, path string, v any) error {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := d.http.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 2048))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", path, res.Status, oneLine(string(body), 200))
	}
	return nil
}

// start logs in, sets ready and opens the event WebSocket; it then serves the events until
// ctx ends: every offer is timed (tr) and accepted, every assigned conversation closed.
func (d *desk) start(ctx context.Context, tr *textTracker, wg *sync.WaitGroup) error {
	if err := d.postJSON(ctx, "/api/login", map[string]string{"agent": d.agent.id, "password": d.agent.password}); err != nil {
		return fmt.Errorf("desk %s: login: %w", d.agent.id, err)
	}
	h := http.Header{}
	u := strings.Replace(d.base, "http://", "ws://", 1) + "/api/ws"
	for _, c := range d.http.Jar.Cookies(mustURL(d.base)) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		return fmt.Errorf("desk %s: websocket: %w", d.agent.id, err)
	}
	c.SetReadLimit(1 << 20)
	if err := d.postJSON(ctx, "/api/state", map[string]any{"ready": true}); err != nil {
		c.CloseNow()
		return fmt.Errorf("desk %s: ready: %w", d.agent.id, err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer c.CloseNow()
		var work sync.WaitGroup
		defer work.Wait()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					tr.fail("desktop websocket: " + oneLine(err.Error(), 80))
				}
				return
			}
			at := time.Now()
			var ev struct {
				Type  string `json:"type"`
				Offer *struct {
					Conv    string `json:"conv"`
					Preview string `json:"preview"`
				} `json:"offer"`
				Conv *struct {
					ID    string `json:"id"`
					State string `json:"state"`
				} `json:"conv"`
			}
			if json.Unmarshal(b, &ev) != nil {
				tr.fail("desktop: unparsable event")
				continue
			}
			switch {
			case ev.Type == "offer" && ev.Offer != nil:
				tr.offered(ev.Offer.Preview, at)
				work.Add(1)
				go func(conv string) {
					defer work.Done()
					if err := d.postJSON(ctx, "/api/offers/"+conv+"/accept", map[string]any{}); err != nil && ctx.Err() == nil {
						tr.fail("accept: " + oneLine(err.Error(), 80))
					}
				}(ev.Offer.Conv)
			case ev.Type == "assigned" && ev.Conv != nil:
				work.Add(1)
				go func(conv string) {
					defer work.Done()
					if err := d.postJSON(ctx, "/api/conversations/"+conv+"/close", map[string]string{"wrapup": "bench"}); err != nil && ctx.Err() == nil {
						tr.fail("close: " + oneLine(err.Error(), 80))
					}
				}(ev.Conv.ID)
			}
		}
	}()
	return nil
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
