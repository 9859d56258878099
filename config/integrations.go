package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// CRM is the operator's customer lookup: called on each offer (a chat offered, an agent's phone
// ringing) with the customer's identities, its answer shows on the agent's customer card. The
// offer never waits for it.
type CRM struct {
	// LookupURL enables the lookup: GET LookupURL?channel=…&handle=…[&phone=…][&email=…]
	// [&customer=…], answered with a JSON object whose string and number fields are shown.
	LookupURL string `yaml:"lookup_url"`
	// Timeout bounds one lookup (default 1.5s, at most 10s).
	Timeout Duration `yaml:"timeout"`
	// CacheTTL is how long an answer (or a 404) is kept (default 5m).
	CacheTTL Duration `yaml:"cache_ttl"`
	// CacheSize bounds the cached answers (default 10000).
	CacheSize int `yaml:"cache_size"`
	// AuthHeader names the header that carries AuthValue (default Authorization).
	AuthHeader string `yaml:"auth_header"`
	// AuthValue is sent on every lookup ("Bearer ${CRM_TOKEN}"); never logged.
	AuthValue string `yaml:"auth_value"`
}

// Webhook is an operator endpoint receiving signed JSON events (offer, accept, end, wrapup) of
// calls and conversations.
type Webhook struct {
	// Name labels the endpoint in logs and metrics (default: the URL's host).
	Name string `yaml:"name"`
	// URL receives one POST per event.
	URL string `yaml:"url"`
	// Secret (required, at least 16 characters; write it as ${ENV_VAR}) keys the
	// X-Ccswitch-Signature HMAC-SHA256.
	Secret string `yaml:"secret"`
	// Events sent: offer, accept, end, wrapup (default all four).
	Events []string `yaml:"events"`
	// Timeout bounds one delivery attempt (default 5s, at most 30s).
	Timeout Duration `yaml:"timeout"`
	// Attempts is how many times an event is tried, with back-off doubling from 1s to 1m
	// (default 5, at most 20).
	Attempts int `yaml:"attempts"`
	// QueueSize bounds the events waiting for this endpoint (default 1024); past it new events
	// are dropped and counted.
	QueueSize int `yaml:"queue_size"`
}

var headerNameRE = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")

// WebhookEvents are the event types a webhook may subscribe to.
var WebhookEvents = []string{"offer", "accept", "end", "wrapup"}

// Integration defaults and bounds.
const (
	DefaultCRMTimeout       = 1500 * time.Millisecond
	MaxCRMTimeout           = 10 * time.Second
	DefaultCRMCacheTTL      = 5 * time.Minute
	DefaultCRMCacheSize     = 10000
	DefaultWebhookTimeout   = 5 * time.Second
	MaxWebhookTimeout       = 30 * time.Second
	DefaultWebhookAttempts  = 5
	DefaultWebhookQueueSize = 1024
)

func (c *Config) integrationDefaults() {
	if c.CRM.LookupURL != "" {
		setDuration(&c.CRM.Timeout, DefaultCRMTimeout)
		setDuration(&c.CRM.CacheTTL, DefaultCRMCacheTTL)
		if c.CRM.CacheSize == 0 {
			c.CRM.CacheSize = DefaultCRMCacheSize
		}
		setString(&c.CRM.AuthHeader, "Authorization")
	}
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		if w.Name == "" {
			if u, err := url.Parse(w.URL); err == nil {
				w.Name = u.Host
			}
		}
		if len(w.Events) == 0 {
			w.Events = slices.Clone(WebhookEvents)
		}
		setDuration(&w.Timeout, DefaultWebhookTimeout)
		if w.Attempts == 0 {
			w.Attempts = DefaultWebhookAttempts
		}
		if w.QueueSize == 0 {
			w.QueueSize = DefaultWebhookQueueSize
		}
	}
}

func (v *validator) integrations() {
	c := v.c.CRM
	if c.LookupURL == "" {
		for path, set := range map[string]bool{"crm.auth_value": c.AuthValue != "", "crm.timeout": c.Timeout != 0} {
			if set {
				v.failAt(path, "set without crm.lookup_url")
			}
		}
	} else {
		v.url("crm.lookup_url", c.LookupURL)
		if c.Timeout.D() > MaxCRMTimeout {
			v.failAt("crm.timeout", "want at most %s (offers never wait for the CRM, but lookups hold resources), got %s", MaxCRMTimeout, c.Timeout.D())
		}
		if c.CacheSize < 0 || c.CacheSize > 1_000_000 {
			v.failAt("crm.cache_size", "want 1 to 1000000, got %d", c.CacheSize)
		}
		if !headerNameRE.MatchString(c.AuthHeader) {
			v.failAt("crm.auth_header", "want a header name such as Authorization, got %q", c.AuthHeader)
		}
		if strings.ContainsAny(c.AuthValue, "\r\n") {
			v.failAt("crm.auth_value", "may not contain line breaks")
		}
	}
	names := map[string]bool{}
	for i, w := range v.c.Webhooks {
		p := fmt.Sprintf("webhooks[%d]", i)
		v.url(p+".url", w.URL)
		if w.Name != "" || w.URL != "" {
			v.uniqueName(p+".name", "webhook", strings.ReplaceAll(w.Name, ":", "_"), names)
		}
		switch {
		case w.Secret == "":
			v.failAt(p, "secret is required (write it as ${ENV_VAR})")
		case len(w.Secret) < 16:
			v.failAt(p+".secret", "want at least 16 characters, got %d", len(w.Secret))
		}
		for j, e := range w.Events {
			if !slices.Contains(WebhookEvents, e) {
				v.failAt(fmt.Sprintf("%s.events[%d]", p, j), "want one of %s, got %q", strings.Join(WebhookEvents, ", "), e)
			}
		}
		if w.Timeout.D() > MaxWebhookTimeout {
			v.failAt(p+".timeout", "want at most %s, got %s", MaxWebhookTimeout, w.Timeout.D())
		}
		if w.Attempts < 1 || w.Attempts > 20 {
			v.failAt(p+".attempts", "want 1 to 20, got %d", w.Attempts)
		}
		if w.QueueSize < 1 || w.QueueSize > 1_000_000 {
			v.failAt(p+".queue_size", "want 1 to 1000000, got %d", w.QueueSize)
		}
	}
}
