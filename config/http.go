package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// HTTPSecurity are the web side's protections (http: in the YAML, next to listen). README
// "Web security" lists each with its default.
type HTTPSecurity struct {
	// Hosts are the host names (or addresses) the web server answers to; a request whose Host
	// header names anything else gets 421 (a DNS-rebinding page cannot reach the desktop).
	// An entry with a port matches that host:port only; without, any port. Default: the
	// listen address's host, localhost, 127.0.0.1, [::1] and the host of public_url.
	Hosts []string `yaml:"hosts"`
	// PublicURL is the address browsers use ("https://cc.example.com") when ccswitch runs
	// behind a TLS proxy: with https, cookies are Secure and named __Host-.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies are the addresses or prefixes ("10.0.0.0/8") of the reverse proxies
	// whose X-Forwarded-Proto and X-Forwarded-For are believed; from anyone else they are
	// ignored. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// SessionTTL is how long a desktop login lasts at most (default 12h); SessionIdle ends a
	// session not used for that long (default 1h; an open desktop keeps its session in use).
	SessionTTL  Duration `yaml:"session_ttl"`
	SessionIdle Duration `yaml:"session_idle"`
	// Timeouts of the HTTP server (defaults: read_header 10s, read 30s, write 30s, idle 2m;
	// WebSockets are exempt from read and write once upgraded) and the largest request
	// header block (default 64 KiB). These two take effect at start; the other settings here
	// also on reload.
	Timeouts       HTTPTimeouts `yaml:"timeouts"`
	MaxHeaderBytes int          `yaml:"max_header_bytes"`
	// Login bounds password guessing on the desktop login.
	Login LoginLimits `yaml:"login"`
	// WebhookFailures bounds the requests with a bad signature one source address may send
	// to /webhooks/ (signed requests are never limited).
	WebhookFailures RateLimit `yaml:"webhook_failures"`
}

// HTTPTimeouts are http.Server's timeouts.
type HTTPTimeouts struct {
	ReadHeader Duration `yaml:"read_header"`
	Read       Duration `yaml:"read"`
	Write      Duration `yaml:"write"`
	Idle       Duration `yaml:"idle"`
}

// LoginLimits are the desktop login's back-off and hashing bound.
type LoginLimits struct {
	// AgentFailures failed logins for one agent id within Window (default 5), or
	// SourceFailures from one source address (default 10; IPv6 counts per /64), make further
	// attempts get 429 with Retry-After until the oldest failure leaves the window (default
	// 10m). Unknown agent ids count like known ones.
	AgentFailures  int      `yaml:"agent_failures"`
	SourceFailures int      `yaml:"source_failures"`
	Window         Duration `yaml:"window"`
	// MaxHashing is how many password checks (bcrypt) run at once (default 2); a login that
	// waits more than a second for one gets 503 with Retry-After.
	MaxHashing int `yaml:"max_hashing"`
}

// RateLimit is a token bucket: Rate per second, Burst at once.
type RateLimit struct {
	Rate  float64 `yaml:"rate"`
	Burst int     `yaml:"burst"`
}

// HTTP security defaults (README "Web security" quotes them).
const (
	DefaultLoginAgentFailures  = 5
	DefaultLoginSourceFailures = 10
	DefaultLoginWindow         = 10 * time.Minute
	DefaultLoginMaxHashing     = 2
	DefaultSessionTTL          = 12 * time.Hour
	DefaultSessionIdle         = time.Hour
	DefaultMaxHeaderBytes      = 64 << 10
	// DefaultWebhookFailureRate: one bad signature per second per source, 20 at once.
	DefaultWebhookFailureRate  = 1.0
	DefaultWebhookFailureBurst = 20
)

// WithDefaults returns h with every setting left empty at its default (ApplyDefaults does
// this on load; a Config built by hand gets the same through here).
func (h HTTPSecurity) WithDefaults() HTTPSecurity {
	h.applySecurityDefaults()
	return h
}

func (h *HTTPSecurity) applySecurityDefaults() {
	setDuration(&h.SessionTTL, DefaultSessionTTL)
	setDuration(&h.SessionIdle, DefaultSessionIdle)
	setDuration(&h.Timeouts.ReadHeader, 10*time.Second)
	setDuration(&h.Timeouts.Read, 30*time.Second)
	setDuration(&h.Timeouts.Write, 30*time.Second)
	setDuration(&h.Timeouts.Idle, 2*time.Minute)
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	l := &h.Login
	if l.AgentFailures == 0 {
		l.AgentFailures = DefaultLoginAgentFailures
	}
	if l.SourceFailures == 0 {
		l.SourceFailures = DefaultLoginSourceFailures
	}
	setDuration(&l.Window, DefaultLoginWindow)
	if l.MaxHashing == 0 {
		l.MaxHashing = DefaultLoginMaxHashing
	}
	if h.WebhookFailures.Rate == 0 {
		h.WebhookFailures.Rate = DefaultWebhookFailureRate
	}
	if h.WebhookFailures.Burst == 0 {
		h.WebhookFailures.Burst = DefaultWebhookFailureBurst
	}
}

// AllowedHosts returns the host names the web server answers to: Hosts, or the defaults.
func (h HTTP) AllowedHosts() []string {
	if len(h.Hosts) > 0 {
		return h.Hosts
	}
	out := []string{"localhost", "127.0.0.1", "::1"}
	if host, _, err := net.SplitHostPort(h.Listen); err == nil && host != "" {
		if a, err := netip.ParseAddr(host); err != nil || !a.IsUnspecified() {
			out = append(out, host)
		}
	}
	if u, err := url.Parse(h.PublicURL); err == nil && u.Host != "" {
		out = append(out, u.Host)
	}
	return out
}

// SecurePublicURL reports whether browsers reach ccswitch over https (public_url).
func (h HTTP) SecurePublicURL() bool {
	return strings.HasPrefix(strings.ToLower(h.PublicURL), "https://")
}

// Proxies parses TrustedProxies (validated) into prefixes.
func (h HTTP) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range h.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func (v *validator) httpSecurity() {
	h := v.c.HTTP
	for i, host := range h.Hosts {
		p := fmt.Sprintf("http.hosts[%d]", i)
		name := host
		if hh, port, err := net.SplitHostPort(host); err == nil {
			name = hh
			if _, err := netip.ParseAddrPort("127.0.0.1:" + port); err != nil {
				v.failAt(p, "want a host name or host:port, got %q", host)
				continue
			}
		}
		if msg := checkPublicHost(name); msg != "" && name != "localhost" {
			v.failAt(p, "%s, got %q", strings.Replace(msg, "the address phones and carriers reach", "the name browsers use", 1), host)
		}
	}
	if h.PublicURL != "" {
		u, err := url.Parse(h.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.failAt("http.public_url", "want http:// or https:// and a host, got %q", h.PublicURL)
		}
	}
	for i, s := range h.TrustedProxies {
		if _, err := parsePrefix(s); err != nil {
			v.failAt(fmt.Sprintf("http.trusted_proxies[%d]", i), "want an address or prefix such as 10.0.0.0/8, got %q", s)
		}
	}
	positive := map[string]Duration{"http.session_ttl": h.SessionTTL, "http.session_idle": h.SessionIdle,
		"http.timeouts.read_header": h.Timeouts.ReadHeader, "http.timeouts.read": h.Timeouts.Read,
		"http.timeouts.write": h.Timeouts.Write, "http.timeouts.idle": h.Timeouts.Idle, "http.login.window": h.Login.Window}
	for _, p := range []string{"http.session_ttl", "http.session_idle", "http.timeouts.read_header", "http.timeouts.read",
		"http.timeouts.write", "http.timeouts.idle", "http.login.window"} {
		if positive[p] < 0 {
			v.failAt(p, "want a positive duration, got %s", positive[p].D())
		}
	}
	ints := []struct {
		p      string
		n, min int
	}{{"http.max_header_bytes", h.MaxHeaderBytes, 4096}, {"http.login.agent_failures", h.Login.AgentFailures, 1},
		{"http.login.source_failures", h.Login.SourceFailures, 1}, {"http.login.max_hashing", h.Login.MaxHashing, 1},
		{"http.webhook_failures.burst", h.WebhookFailures.Burst, 1}}
	for _, x := range ints {
		if x.n < x.min {
			v.failAt(x.p, "want at least %d, got %d", x.min, x.n)
		}
	}
	if h.WebhookFailures.Rate < 0 {
		v.failAt("http.webhook_failures.rate", "want a positive rate, got %g", h.WebhookFailures.Rate)
	}
	for i, a := range v.c.Agents {
		switch a.Role {
		case "", "agent", "supervisor":
		default:
			v.failAt(fmt.Sprintf("agents[%d].role", i), "want agent or supervisor, got %q", a.Role)
		}
	}
}
