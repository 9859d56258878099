package channels

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ccswitch/ccswitch/config"
)

// Config enables and configures each adapter. FromConfig fills it from the operator's
// `channels:` section; an adapter is enabled when its section is present.
type Config struct {
	WebChat   WebChat
	SMS       SMS
	WhatsApp  WhatsApp
	Messenger Messenger
	Telegram  Telegram
	Email     Email
}

// Route returns the named adapter's Route (zero for an unknown name).
func (c *Config) Route(adapter string) Route {
	switch adapter {
	case "webchat":
		return c.WebChat.Route
	case "sms":
		return c.SMS.Route
	case "whatsapp":
		return c.WhatsApp.Route
	case "messenger":
		return c.Messenger.Route
	case "telegram":
		return c.Telegram.Route
	case "email":
		return c.Email.Route
	}
	return Route{}
}

// Route says where an adapter's new conversations go: when Entry names a configured number,
// its flow (and calendar) runs first, through ivr; otherwise the conversation goes straight
// to Queue (empty: the first queue that takes the adapter's ACD channel). Greeting, when set,
// is sent when a conversation starts. SMS also uses the number written to as the entry when
// it is a configured number.
type Route struct {
	Enabled  bool
	Queue    string
	Entry    string
	Greeting string
	Priority int
}

// Limits bound the attachments an adapter keeps: larger ones or ones of another type are
// recorded as rejected (the message is still kept).
type Limits struct {
	MaxAttachmentBytes int64    // default 16 MiB
	AttachmentTypes    []string // MIME prefixes ("image/", "application/pdf"); default images, audio, video, PDF
}

// Allow reports why an attachment is not kept, or "" when it is.
func (l Limits) Allow(mime string, size int64) string {
	max := l.MaxAttachmentBytes
	if max <= 0 {
		max = 16 << 20
	}
	if size > max {
		return "too large: " + strconv.FormatInt(size, 10) + " bytes > " + strconv.FormatInt(max, 10)
	}
	types := l.AttachmentTypes
	if len(types) == 0 {
		types = []string{"image/", "audio/", "video/", "application/pdf"}
	}
	for _, t := range types {
		if strings.HasPrefix(strings.ToLower(mime), t) {
			return ""
		}
	}
	return "type not allowed: " + mime
}

// WebChat is the embeddable widget.
type WebChat struct {
	Route
	// Origins allowed to open the widget's WebSocket ("https://shop.example"); empty allows any.
	Origins []string
	// Limits bound one address (zero fields: the defaults of config.WebChatLimits).
	Limits WebChatLimits
}

// WebChatLimits bound what one address may do with the widget (config.WebChatLimits).
type WebChatLimits struct {
	Connections            int // sockets open at once
	ConversationsPerMinute int // new conversations per minute (burst as many)
	MessagesPerMinute      int // messages per minute over all sockets
	MessagesBurst          int
	HelloTimeout           time.Duration // a new socket's hello
	PingInterval           time.Duration // every socket is pinged this often
	PongTimeout            time.Duration // and closed without a pong within this
}

// WithDefaults fills the unset limits with config's defaults.
func (l WebChatLimits) WithDefaults() WebChatLimits {
	c := config.WebChatLimits{Connections: l.Connections, ConversationsPerMinute: l.ConversationsPerMinute,
		MessagesPerMinute: l.MessagesPerMinute, MessagesBurst: l.MessagesBurst, HelloTimeout: config.Duration(l.HelloTimeout),
		PingInterval: config.Duration(l.PingInterval), PongTimeout: config.Duration(l.PongTimeout)}
	c.ApplyDefaults()
	return webChatLimits(c)
}

func webChatLimits(c config.WebChatLimits) WebChatLimits {
	return WebChatLimits{Connections: c.Connections, ConversationsPerMinute: c.ConversationsPerMinute,
		MessagesPerMinute: c.MessagesPerMinute, MessagesBurst: c.MessagesBurst, HelloTimeout: c.HelloTimeout.D(),
		PingInterval: c.PingInterval.D(), PongTimeout: c.PongTimeout.D()}
}

// SMS is a Twilio-compatible SMS provider.
type SMS struct {
	Route
	Limits
	AccountSID string
	AuthToken  string
	From       string // our number, for outbound
	BaseURL    string // default https://api.twilio.com
	// WebhookURL is the public URL the provider posts to, as signed; empty derives it from the
	// request (Host, X-Forwarded-Proto).
	WebhookURL string
}

// WhatsApp is the WhatsApp Cloud API.
type WhatsApp struct {
	Route
	Limits
	AppSecret     string
	VerifyToken   string
	Token         string
	PhoneNumberID string // default sender; replies go from the number that received
	GraphURL      string // default https://graph.facebook.com
	APIVersion    string // default v21.0
}

// Messenger is the Facebook Messenger Platform.
type Messenger struct {
	Route
	Limits
	AppSecret   string
	VerifyToken string
	Token       string // page access token
	GraphURL    string
	APIVersion  string
}

// Telegram is the Telegram Bot API.
type Telegram struct {
	Route
	Limits
	BotToken    string
	SecretToken string
	BaseURL     string // default https://api.telegram.org
}

// Email is inbound SMTP (a listener on loopback, behind the operator's MX) and an outbound relay.
type Email struct {
	Route
	Limits
	Listen    string // inbound SMTP, default 127.0.0.1:2525
	Domain    string // our mail domain, for Message-IDs and HELO (default ccswitch.local)
	Address   string // From of replies ("support@example.com")
	Relay     string // outbound SMTP relay host:port
	RelayUser string
	RelayPass string
	MaxBytes  int64 // largest inbound mail (default 10 MiB)
	// Domains whose recipients RCPT accepts (default Domain and the domain of Address).
	Domains []string
	// MaxRecipients per mail (default 100); MaxConnections open sessions (default 100),
	// MaxConnectionsPerSource from one IP address (default 20).
	MaxRecipients           int
	MaxConnections          int
	MaxConnectionsPerSource int
}

// FromConfig takes the adapters' settings from the operator's configuration (`channels:`,
// decoded, defaulted and validated by config): an adapter is enabled when its section is
// present.
func FromConfig(cfg *config.Config) Config {
	var c Config
	if cfg == nil {
		return c
	}
	ch := cfg.Channels
	route := func(r config.ChannelRoute) Route {
		return Route{Enabled: true, Queue: r.Queue, Entry: r.Entry, Greeting: r.Greeting, Priority: r.Priority}
	}
	limits := func(a config.Attachments) Limits {
		return Limits{MaxAttachmentBytes: a.MaxAttachmentBytes, AttachmentTypes: slices.Clone(a.AttachmentTypes)}
	}
	if w := ch.WebChat; w != nil {
		c.WebChat = WebChat{Route: route(w.ChannelRoute), Origins: slices.Clone(w.Origins), Limits: webChatLimits(w.Limits)}
	}
	if s := ch.SMS; s != nil {
		c.SMS = SMS{Route: route(s.ChannelRoute), Limits: limits(s.Attachments), AccountSID: s.AccountSID,
			AuthToken: s.AuthToken, From: s.From, BaseURL: s.BaseURL, WebhookURL: s.WebhookURL}
	}
	if w := ch.WhatsApp; w != nil {
		c.WhatsApp = WhatsApp{Route: route(w.ChannelRoute), Limits: limits(w.Attachments), AppSecret: w.AppSecret,
			VerifyToken: w.VerifyToken, Token: w.Token, PhoneNumberID: w.PhoneNumberID, GraphURL: w.GraphURL,
			APIVersion: w.APIVersion}
	}
	if m := ch.Messenger; m != nil {
		c.Messenger = Messenger{Route: route(m.ChannelRoute), Limits: limits(m.Attachments), AppSecret: m.AppSecret,
			VerifyToken: m.VerifyToken, Token: m.Token, GraphURL: m.GraphURL, APIVersion: m.APIVersion}
	}
	if t := ch.Telegram; t != nil {
		c.Telegram = Telegram{Route: route(t.ChannelRoute), Limits: limits(t.Attachments), BotToken: t.BotToken,
			SecretToken: t.SecretToken, BaseURL: t.BaseURL}
	}
	if e := ch.Email; e != nil {
		c.Email = Email{Route: route(e.ChannelRoute), Limits: limits(e.Attachments), Listen: e.Listen, Domain: e.Domain,
			Address: e.Address, Relay: e.SMTPRelay, RelayUser: e.SMTPUser, RelayPass: e.SMTPPassword, MaxBytes: e.MaxBytes,
			Domains: slices.Clone(e.Domains), MaxRecipients: e.MaxRecipients, MaxConnections: e.MaxConnections,
			MaxConnectionsPerSource: e.MaxConnectionsPerSource}
	}
	return c
}
