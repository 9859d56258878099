package config

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
)

// TextChannels configures the text adapters. A present section enables its adapter (an empty
// one, `webchat: {}` or just `webchat:`, enables it with the defaults); a missing one leaves
// it off. Secrets are written as ${ENV_VAR}.
type TextChannels struct {
	// WebChat is the embeddable widget (/widget.js, /chat/ws, the demo page /chat/).
	WebChat *WebChat `yaml:"webchat"`
	// SMS is a Twilio-compatible provider (POST /webhooks/sms).
	SMS *SMS `yaml:"sms"`
	// WhatsApp is the WhatsApp Cloud API (GET/POST /webhooks/whatsapp).
	WhatsApp *WhatsApp `yaml:"whatsapp"`
	// Messenger is the Facebook Messenger Platform (GET/POST /webhooks/messenger).
	Messenger *Messenger `yaml:"messenger"`
	// Telegram is the Telegram Bot API (POST /webhooks/telegram).
	Telegram *Telegram `yaml:"telegram"`
	// Email is an inbound SMTP listener plus an outbound relay.
	Email *Email `yaml:"email"`
}

// ChannelRoute says where an adapter's new conversations go.
type ChannelRoute struct {
	// Queue takes the adapter's new conversations (default: the first queue taking its ACD
	// channel: chat for webchat, email for email, social for the others).
	Queue string `yaml:"queue"`
	// Entry is a configured number (numbers[].did) with a flow: new conversations run that
	// flow (and its calendar) first. SMS also uses the number written to when it is one.
	Entry string `yaml:"entry"`
	// Greeting is sent when a conversation starts.
	Greeting string `yaml:"greeting"`
	// Priority is the priority of the adapter's tasks (-100 to 100, default 0).
	Priority int `yaml:"priority"`
}

// Attachments bound what an adapter keeps: a larger attachment or one of another type is
// kept in the timeline as "not kept: …" without its URL; the message itself is always kept.
type Attachments struct {
	// MaxAttachmentBytes is the largest attachment kept (default 16 MiB).
	MaxAttachmentBytes int64 `yaml:"max_attachment_bytes"`
	// AttachmentTypes are the MIME prefixes kept ("image/", "application/pdf"); default
	// images, audio, video and PDF.
	AttachmentTypes []string `yaml:"attachment_types"`
}

// WebChat is the embeddable widget. It is always present in the demo configuration; remove
// `channels.webchat` to turn it off.
type WebChat struct {
	ChannelRoute `yaml:",inline"`
	// Origins allowed to open the widget's WebSocket besides ccswitch's own host:
	// "https://shop.example", "shop.example" or "https://*.example.com"; empty: any site may
	// embed the widget (no cookie rides on its socket).
	Origins []string `yaml:"origins"`
	// Limits bound what one address may do (connections, new conversations, messages) and
	// how long a socket may stay silent.
	Limits WebChatLimits `yaml:"limits"`
}

// SMS is a Twilio-compatible SMS provider.
type SMS struct {
	ChannelRoute `yaml:",inline"`
	Attachments  `yaml:",inline"`
	// AccountSID and AuthToken (required) authenticate replies and verify X-Twilio-Signature.
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	// From is our number, for outbound messages.
	From string `yaml:"from"`
	// BaseURL is the provider's API (default https://api.twilio.com).
	BaseURL string `yaml:"base_url"`
	// WebhookURL is the public URL the provider posts to, as it signs it; empty derives it
	// from the request (Host, X-Forwarded-Proto).
	WebhookURL string `yaml:"webhook_url"`
}

// WhatsApp is the WhatsApp Cloud API.
type WhatsApp struct {
	ChannelRoute `yaml:",inline"`
	Attachments  `yaml:",inline"`
	// AppSecret (required) verifies X-Hub-Signature-256 on every webhook.
	AppSecret string `yaml:"app_secret"`
	// VerifyToken (required) answers the webhook subscription challenge.
	VerifyToken string `yaml:"verify_token"`
	// Token (required) is the Graph API bearer token for replies and media.
	Token string `yaml:"token"`
	// PhoneNumberID is the default sender; replies go from the number that received.
	PhoneNumberID string `yaml:"phone_number_id"`
	// GraphURL is the Graph API (default https://graph.facebook.com).
	GraphURL string `yaml:"graph_url"`
	// APIVersion is the Graph API version (default v21.0).
	APIVersion string `yaml:"api_version"`
}

// Messenger is the Facebook Messenger Platform.
type Messenger struct {
	ChannelRoute `yaml:",inline"`
	Attachments  `yaml:",inline"`
	// AppSecret (required) verifies X-Hub-Signature-256 on every webhook.
	AppSecret string `yaml:"app_secret"`
	// VerifyToken (required) answers the webhook subscription challenge.
	VerifyToken string `yaml:"verify_token"`
	// Token (required) is the page access token.
	Token string `yaml:"token"`
	// GraphURL is the Graph API (default https://graph.facebook.com).
	GraphURL string `yaml:"graph_url"`
	// APIVersion is the Graph API version (default v21.0).
	APIVersion string `yaml:"api_version"`
}

// Telegram is the Telegram Bot API.
type Telegram struct {
	ChannelRoute `yaml:",inline"`
	Attachments  `yaml:",inline"`
	// BotToken (required) is the bot's API token.
	BotToken string `yaml:"bot_token"`
	// SecretToken (required) is the X-Telegram-Bot-Api-Secret-Token given to setWebhook.
	SecretToken string `yaml:"secret_token"`
	// BaseURL is the Bot API (default https://api.telegram.org).
	BaseURL string `yaml:"base_url"`
}

// Email is inbound SMTP (a listener on loopback, behind the operator's MX) and an outbound
// relay.
type Email struct {
	ChannelRoute `yaml:",inline"`
	Attachments  `yaml:",inline"`
	// Listen is the inbound SMTP address (default 127.0.0.1:2525).
	Listen string `yaml:"listen"`
	// Domain is our mail domain, for Message-IDs and HELO (default ccswitch.local).
	Domain string `yaml:"domain"`
	// Address (required) is the From of replies ("support@example.com").
	Address string `yaml:"address"`
	// SMTPRelay (required) is the outbound relay host:port (STARTTLS when offered).
	SMTPRelay string `yaml:"smtp_relay"`
	// SMTPUser and SMTPPassword, when set, log in to the relay (PLAIN).
	SMTPUser     string `yaml:"smtp_user"`
	SMTPPassword string `yaml:"smtp_password"`
	// MaxBytes is the largest inbound mail (default 10 MiB): a larger one gets 552, also when
	// MAIL FROM announces its SIZE.
	MaxBytes int64 `yaml:"max_bytes"`
	// Domains are the mail domains whose recipients the listener accepts (RCPT TO); any other
	// recipient gets 550, so the listener is never a relay (default: domain and the domain of
	// address).
	Domains []string `yaml:"domains"`
	// MaxRecipients bounds the recipients of one mail (default 100, RFC 5321's minimum); more
	// get 452.
	MaxRecipients int `yaml:"max_recipients"`
	// MaxConnections bounds the open SMTP sessions (default 100) and MaxConnectionsPerSource
	// those from one IP address (default 20); a session over either gets 421 and is closed.
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerSource int `yaml:"max_connections_per_source"`
}

// Channel defaults.
const (
	DefaultGraphURL           = "https://graph.facebook.com"
	DefaultGraphAPIVersion    = "v21.0"
	DefaultTwilioURL          = "https://api.twilio.com"
	DefaultTelegramURL        = "https://api.telegram.org"
	DefaultEmailListen        = "127.0.0.1:2525"
	DefaultEmailDomain        = "ccswitch.local"
	DefaultEmailMaxBytes      = 10 << 20
	DefaultMaxAttachmentBytes = 16 << 20

	DefaultEmailMaxRecipients           = 100
	DefaultEmailMaxConnections          = 100
	DefaultEmailMaxConnectionsPerSource = 20
)

// DefaultAttachmentTypes are the MIME prefixes kept when attachment_types is not set.
var DefaultAttachmentTypes = []string{"image/", "audio/", "video/", "application/pdf"}

// present enables the sections written without a value (`webchat:`): the decoder leaves a
// pointer nil on a null value, but the key was written.
func (c *TextChannels) present(sources map[string]Pos) {
	written := func(name string) bool { _, ok := sources["channels."+name]; return ok }
	if c.WebChat == nil && written("webchat") {
		c.WebChat = &WebChat{}
	}
	if c.SMS == nil && written("sms") {
		c.SMS = &SMS{}
	}
	if c.WhatsApp == nil && written("whatsapp") {
		c.WhatsApp = &WhatsApp{}
	}
	if c.Messenger == nil && written("messenger") {
		c.Messenger = &Messenger{}
	}
	if c.Telegram == nil && written("telegram") {
		c.Telegram = &Telegram{}
	}
	if c.Email == nil && written("email") {
		c.Email = &Email{}
	}
}

func (c *TextChannels) applyDefaults() {
	att := func(a *Attachments) {
		if a.MaxAttachmentBytes == 0 {
			a.MaxAttachmentBytes = DefaultMaxAttachmentBytes
		}
		if len(a.AttachmentTypes) == 0 {
			a.AttachmentTypes = slices.Clone(DefaultAttachmentTypes)
		}
	}
	if s := c.SMS; s != nil {
		att(&s.Attachments)
		setString(&s.BaseURL, DefaultTwilioURL)
	}
	if w := c.WhatsApp; w != nil {
		att(&w.Attachments)
		setString(&w.GraphURL, DefaultGraphURL)
		setString(&w.APIVersion, DefaultGraphAPIVersion)
	}
	if m := c.Messenger; m != nil {
		att(&m.Attachments)
		setString(&m.GraphURL, DefaultGraphURL)
		setString(&m.APIVersion, DefaultGraphAPIVersion)
	}
	if t := c.Telegram; t != nil {
		att(&t.Attachments)
		setString(&t.BaseURL, DefaultTelegramURL)
	}
	if e := c.Email; e != nil {
		att(&e.Attachments)
		setString(&e.Listen, DefaultEmailListen)
		setString(&e.Domain, DefaultEmailDomain)
		if e.MaxBytes == 0 {
			e.MaxBytes = DefaultEmailMaxBytes
		}
		if len(e.Domains) == 0 {
			e.Domains = []string{e.Domain}
			if _, d, ok := strings.Cut(e.Address, "@"); ok && d != "" && !strings.EqualFold(d, e.Domain) {
				e.Domains = append(e.Domains, d)
			}
		}
		setInt(&e.MaxRecipients, DefaultEmailMaxRecipients)
		setInt(&e.MaxConnections, DefaultEmailMaxConnections)
		setInt(&e.MaxConnectionsPerSource, DefaultEmailMaxConnectionsPerSource)
	}
	if w := c.WebChat; w != nil {
		w.Limits.ApplyDefaults()
	}
}

var apiVersionRE = regexp.MustCompile(`^v[0-9]{1,3}\.[0-9]{1,3}$`)

// channels checks every present adapter: required secrets, URLs, queues and entries that
// exist, sizes.
func (v *validator) channels(queues map[string]bool) {
	c := v.c.Channels
	if w := c.WebChat; w != nil {
		p := "channels.webchat"
		v.channelRoute(p, "chat", w.ChannelRoute, queues)
		for i, o := range w.Origins {
			if err := checkOrigin(o); err != nil {
				v.failAt(fmt.Sprintf("%s.origins[%d]", p, i), "%v", err)
			}
		}
		v.webChatLimits(p+".limits", w.Limits)
	}
	if s := c.SMS; s != nil {
		p := "channels.sms"
		v.channelRoute(p, "social", s.ChannelRoute, queues)
		v.attachments(p, s.Attachments)
		v.required(p, map[string]string{"account_sid": s.AccountSID, "auth_token": s.AuthToken})
		v.url(p+".base_url", s.BaseURL)
		if s.WebhookURL != "" {
			v.url(p+".webhook_url", s.WebhookURL)
		}
		if s.From != "" && !didRE.MatchString(s.From) {
			v.failAt(p+".from", "want a phone number such as +15550001111, got %q", s.From)
		}
	}
	meta := func(p string, r ChannelRoute, a Attachments, secret, verify, token, graph, version string) {
		v.channelRoute(p, "social", r, queues)
		v.attachments(p, a)
		v.required(p, map[string]string{"app_secret": secret, "verify_token": verify, "token": token})
		v.url(p+".graph_url", graph)
		if !apiVersionRE.MatchString(version) {
			v.failAt(p+".api_version", "want a Graph API version such as v21.0, got %q", version)
		}
	}
	if w := c.WhatsApp; w != nil {
		meta("channels.whatsapp", w.ChannelRoute, w.Attachments, w.AppSecret, w.VerifyToken, w.Token, w.GraphURL, w.APIVersion)
	}
	if m := c.Messenger; m != nil {
		meta("channels.messenger", m.ChannelRoute, m.Attachments, m.AppSecret, m.VerifyToken, m.Token, m.GraphURL, m.APIVersion)
	}
	if t := c.Telegram; t != nil {
		p := "channels.telegram"
		v.channelRoute(p, "social", t.ChannelRoute, queues)
		v.attachments(p, t.Attachments)
		v.required(p, map[string]string{"bot_token": t.BotToken, "secret_token": t.SecretToken})
		v.url(p+".base_url", t.BaseURL)
		if t.SecretToken != "" && !telegramSecretRE.MatchString(t.SecretToken) {
			v.failAt(p+".secret_token", "want 1 to 256 characters of A-Z, a-z, 0-9, _ and - (what Telegram accepts)")
		}
	}
	if e := c.Email; e != nil {
		p := "channels.email"
		v.channelRoute(p, "email", e.ChannelRoute, queues)
		v.attachments(p, e.Attachments)
		v.required(p, map[string]string{"address": e.Address, "smtp_relay": e.SMTPRelay})
		if _, err := netip.ParseAddrPort(e.Listen); err != nil {
			v.failAt(p+".listen", "want ip:port such as 127.0.0.1:2525, got %q", e.Listen)
		}
		if e.SMTPRelay != "" {
			if _, port, err := net.SplitHostPort(e.SMTPRelay); err != nil || port == "" {
				v.failAt(p+".smtp_relay", "want host:port such as smtp.example.com:587, got %q", e.SMTPRelay)
			}
		}
		if e.Address != "" && (strings.Count(e.Address, "@") != 1 || strings.ContainsAny(e.Address, " <>\r\n")) {
			v.failAt(p+".address", "want a mail address such as support@example.com, got %q", e.Address)
		}
		if strings.ContainsAny(e.Domain, " \r\n<>@") {
			v.failAt(p+".domain", "want a domain name, got %q", e.Domain)
		}
		if (e.SMTPUser == "") != (e.SMTPPassword == "") {
			v.failAt(p+".smtp_user", "smtp_user and smtp_password go together")
		}
		if e.MaxBytes < 0 {
			v.failAt(p+".max_bytes", "want a positive size in bytes, got %d", e.MaxBytes)
		}
		for i, d := range e.Domains {
			if !mailDomainRE.MatchString(d) {
				v.failAt(fmt.Sprintf("%s.domains[%d]", p, i), "want a domain name such as example.com, got %q", d)
			}
		}
		for _, f := range []struct {
			name string
			n    int
		}{{"max_recipients", e.MaxRecipients}, {"max_connections", e.MaxConnections},
			{"max_connections_per_source", e.MaxConnectionsPerSource}} {
			if f.n < 1 {
				v.failAt(p+"."+f.name, "want at least 1, got %d", f.n)
			}
		}
		if e.MaxConnectionsPerSource > e.MaxConnections {
			v.failAt(p+".max_connections_per_source", "%d is more than max_connections (%d)", e.MaxConnectionsPerSource, e.MaxConnections)
		}
	}
}

var mailDomainRE = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

var telegramSecretRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func (v *validator) required(p string, fields map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if fields[k] == "" {
			v.failAt(p, "%s is required (write it as ${ENV_VAR})", k)
		}
	}
}

func (v *validator) url(path, s string) {
	if err := checkURL(s); err != nil {
		v.failAt(path, "%v", err)
	}
}

// checkURL accepts an absolute http or https URL with a host.
func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("want an http or https URL, got %q", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("want an http or https URL, got %q", s)
	case u.Host == "":
		return fmt.Errorf("want a URL with a host, got %q", s)
	case u.User != nil:
		return fmt.Errorf("credentials in the URL %q: use the auth settings", u.Redacted())
	}
	return nil
}

// checkOrigin accepts an origin pattern: "https://shop.example", "shop.example",
// "https://*.example.com" (path.Match syntax); "*" alone is refused (leave origins empty to
// allow any site).
func checkOrigin(o string) error {
	host := o
	if scheme, rest, ok := strings.Cut(o, "://"); ok {
		if scheme != "http" && scheme != "https" {
			return fmt.Errorf("want an origin such as https://shop.example, got %q", o)
		}
		host = rest
	}
	if _, err := path.Match(o, ""); err != nil || host == "" || host == "*" || strings.ContainsAny(host, "/ ?#@") {
		return fmt.Errorf("want an origin such as https://shop.example or a pattern such as https://*.example.com, got %q", o)
	}
	return nil
}

func (v *validator) channelRoute(p, acdChannel string, r ChannelRoute, queues map[string]bool) {
	if r.Queue != "" {
		if !queues[r.Queue] {
			v.failAt(p+".queue", "unknown queue %q", r.Queue)
		} else if i := slices.IndexFunc(v.c.Queues, func(q Queue) bool { return q.Name == r.Queue }); i >= 0 && !slices.Contains(v.c.Queues[i].Channels, acdChannel) {
			v.failAt(p+".queue", "queue %q does not take %s contacts (its channels: %s)", r.Queue, acdChannel, strings.Join(v.c.Queues[i].Channels, ", "))
		}
	}
	if r.Entry != "" {
		i := slices.IndexFunc(v.c.Numbers, func(n Number) bool { return NormalizeDID(n.DID) == NormalizeDID(r.Entry) })
		switch {
		case i < 0:
			v.failAt(p+".entry", "unknown number %q (want a numbers[].did with a flow)", r.Entry)
		case v.c.Numbers[i].Flow == "":
			v.failAt(p+".entry", "number %q has no flow (it rings extension %s)", r.Entry, v.c.Numbers[i].Target)
		}
	}
	if r.Priority < -100 || r.Priority > 100 {
		v.failAt(p+".priority", "want -100 to 100, got %d", r.Priority)
	}
}

func (v *validator) attachments(p string, a Attachments) {
	if a.MaxAttachmentBytes <= 0 {
		v.failAt(p+".max_attachment_bytes", "want a positive size in bytes, got %d", a.MaxAttachmentBytes)
	}
	for i, t := range a.AttachmentTypes {
		if !strings.Contains(t, "/") || strings.ContainsAny(t, " ,;\r\n") {
			v.failAt(fmt.Sprintf("%s.attachment_types[%d]", p, i), "want a MIME type or prefix such as image/ or application/pdf, got %q", t)
		}
	}
}
