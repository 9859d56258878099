package crm

import (
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/metrics"
	"github.com/ccswitch/ccswitch/internal/ratelog"
)

// Bounds of one answer (invariant 2).
const (
	MaxBody   = 64 << 10
	MaxFields = 32
	MaxName   = 64
	MaxValue  = 256
)

// Query is who to look up: the channel and the handle the contact came from (a caller's
// number, a WhatsApp id, a web chat visitor), plus what is known of the customer.
type Query struct {
	Channel  string // voice, webchat, sms, whatsapp, messenger, telegram, email
	Handle   string
	Phone    string // E.164 when known
	Email    string
	Customer string // ccswitch's customer id when known
}

func (q Query) key() string {
	return strings.Join([]string{q.Channel, q.Handle, q.Phone, q.Email, q.Customer}, "\x00")
}

// Field is one member of the CRM's answer, as shown to the agent.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Card is the CRM's answer about one customer; Found is false on a 404.
type Card struct {
	Found  bool    `json:"found"`
	Fields []Field `json:"fields,omitempty"`
}

// Options configure a Client beyond the operator's settings.
type Options struct {
	// Workers run lookups queued by Fetch (default 4); QueueSize bounds the queue (default 256).
	Workers, QueueSize int
	// Client sends the requests (default: one that follows no redirect).
	Client     *http.Client
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Client looks customers up. Its methods are safe for concurrent use; Run is called once.
type Client struct {
	o     Options
	log   *slog.Logger
	rl    *ratelog.Logger
	queue chan fetch

	lookups *prometheus.CounterVec
	dropped *prometheus.CounterVec
	latency prometheus.Histogram

	mu    sync.Mutex
	cfg   config.CRM
	lru   *list.List               // of *entry, most recent first
	cache map[string]*list.Element // by Query.key
}

type entry struct {
	key     string
	card    Card
	expires time.Time
}

type fetch struct {
	q       Query
	deliver func(Card)
}

// New returns a client for cfg (config.Config.CRM, defaults applied); an empty LookupURL makes
// a client that looks nothing up until a Reload gives it one.
func New(cfg config.CRM, o Options) *Client {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger.With("component", "center.crm")
	c := &Client{o: o, log: log, rl: ratelog.New(log, time.Minute), queue: make(chan fetch, o.QueueSize),
		lru: list.New(), cache: map[string]*list.Element{}}
	c.lookups = metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_crm_lookups_total",
		Help: "CRM lookups by result: cached, found, not-found, timeout, error.",
	}, []string{"result"}))
	c.dropped = metrics.Register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ccswitch_crm_dropped_total",
		Help: "CRM lookups not made, by reason (queue-full, shutdown).",
	}, []string{"reason"}))
	c.latency = metrics.Register(o.Registerer, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "ccswitch_crm_lookup_seconds",
		Help:    "Time of CRM lookups that reached the CRM.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}))
	c.Reload(cfg)
	return c
}

// Reload takes new settings; the cache is cleared when the URL or the auth changed.
func (c *Client) Reload(cfg config.CRM) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg.LookupURL != c.cfg.LookupURL || cfg.AuthHeader != c.cfg.AuthHeader || cfg.AuthValue != c.cfg.AuthValue {
		c.lru.Init()
		clear(c.cache)
	}
	c.cfg = cfg
	for c.lru.Len() > max(cfg.CacheSize, 0) {
		c.evictLocked(c.lru.Back())
	}
}

// Enabled reports whether a lookup URL is configured.
func (c *Client) Enabled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.LookupURL != ""
}

// Fetch queues a lookup of q; deliver is called later, on a worker, with the card when one is
// found (invariant 1). It never blocks and does nothing when the client is disabled.
func (c *Client) Fetch(q Query, deliver func(Card)) {
	if !c.Enabled() || (q.Handle == "" && q.Phone == "" && q.Email == "") {
		return
	}
	select {
	case c.queue <- fetch{q: q, deliver: deliver}:
	default:
		c.dropped.WithLabelValues("queue-full").Inc()
		c.rl.Warn("queue-full", "CRM lookup skipped: too many in flight; the offer shows without CRM data", "channel", q.Channel)
	}
}

// Run runs the lookups Fetch queues until ctx ends, and returns after its workers stopped.
func (c *Client) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case f := <-c.queue:
					card, err := c.Lookup(ctx, f.q)
					if err == nil && card.Found && f.deliver != nil {
						f.deliver(card)
					}
				}
			}
		}()
	}
	wg.Wait()
	c.dropped.WithLabelValues("shutdown").Add(float64(len(c.queue)))
	return nil
}

// Lookup returns the card of q, from the cache or the CRM (invariants 2, 3). A failure is
// counted and logged at most once a minute; the caller shows the offer without CRM data.
func (c *Client) Lookup(ctx context.Context, q Query) (Card, error) {
	c.mu.Lock()
	cfg := c.cfg
	if cfg.LookupURL == "" {
		c.mu.Unlock()
		return Card{}, ErrDisabled
	}
	key := q.key()
	if el, ok := c.cache[key]; ok {
		e := el.Value.(*entry)
		if c.o.Now().Before(e.expires) {
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			c.lookups.WithLabelValues("cached").Inc()
			return e.card, nil
		}
		c.evictLocked(el)
	}
	c.mu.Unlock()

	start := c.o.Now()
	card, err := c.get(ctx, cfg, q)
	c.latency.Observe(c.o.Now().Sub(start).Seconds())
	if err != nil {
		result := "error"
		if errors.Is(err, context.DeadlineExceeded) {
			result = "timeout"
		}
		c.lookups.WithLabelValues(result).Inc()
		c.rl.Warn("lookup-"+result, "CRM lookup failed; the offer shows without CRM data", "channel", q.Channel, "error", err)
		return Card{}, err
	}
	c.lookups.WithLabelValues(map[bool]string{true: "found", false: "not-found"}[card.Found]).Inc()
	c.mu.Lock()
	if c.cfg.LookupURL == cfg.LookupURL && cfg.CacheSize > 0 {
		if el, ok := c.cache[key]; ok {
			c.evictLocked(el)
		}
		c.cache[key] = c.lru.PushFront(&entry{key: key, card: card, expires: c.o.Now().Add(cfg.CacheTTL.D())})
		for c.lru.Len() > cfg.CacheSize {
			c.evictLocked(c.lru.Back())
		}
	}
	c.mu.Unlock()
	return card, nil
}

func (c *Client) evictLocked(el *list.Element) {
	delete(c.cache, el.Value.(*entry).key)
	c.lru.Remove(el)
}

// get asks the CRM.
func (c *Client) get(ctx context.Context, cfg config.CRM, q Query) (Card, error) {
	u, err := url.Parse(cfg.LookupURL)
	if err != nil {
		return Card{}, fmt.Errorf("crm: lookup_url: %w", err)
	}
	v := u.Query()
	for name, val := range map[string]string{"channel": q.Channel, "handle": q.Handle, "phone": q.Phone, "email": q.Email, "customer": q.Customer} {
		if val != "" {
			v.Set(name, val)
		}
	}
	u.RawQuery = v.Encode()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout.D())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Card{}, fmt.Errorf("crm: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ccswitch-crm")
	if cfg.AuthValue != "" {
		req.Header.Set(cfg.AuthHeader, cfg.AuthValue)
	}
	resp, err := c.o.Client.Do(req)
	if err != nil {
		// The URL may carry the customer's handle: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Card{}, fmt.Errorf("crm: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return Card{}, nil
	case resp.StatusCode != http.StatusOK:
		return Card{}, fmt.Errorf("crm: answered %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return Card{}, fmt.Errorf("crm: read answer: %w", err)
	}
	if len(body) > MaxBody {
		return Card{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxBody)
	}
	fields, err := Fields(body)
	if err != nil {
		return Card{}, err
	}
	return Card{Found: true, Fields: fields}, nil
}

// Fields reads the members of a JSON object that are strings or numbers, in document order,
// within the bounds of invariant 2 (names and values cut, control characters dropped); other
// members (objects, lists, booleans, null) are skipped.
func Fields(body []byte) ([]Field, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, ErrNotObject
	}
	var out []Field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("crm: answer: %w", err)
		}
		name, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("crm: answer: %w", err)
		}
		var val string
		switch raw[0] {
		case '"':
			if json.Unmarshal(raw, &val) != nil {
				continue
			}
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			val = string(raw)
		default:
			continue
		}
		name, val = clean(name, MaxName), clean(val, MaxValue)
		if name == "" || len(out) >= MaxFields {
			continue
		}
		out = append(out, Field{Name: name, Value: val})
	}
	return out, nil
}

// clean drops control characters and cuts s to n characters (an ellipsis marks the cut).
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
