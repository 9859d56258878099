package channels

import (
	"os"
	"strconv"
	"strings"
)

// Config enables and configures each adapter. FromEnv fills it from environment variables;
// an adapter is enabled when its secrets are set.
type Config struct {
	WebChat   WebChat
	SMS       SMS
	WhatsApp  WhatsApp
	Messenger Messenger
	Telegram  Telegram
	Email     Email
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

// WebChat is the embeddable widget (always enabled unless WEBCHAT_DISABLED=true).
type WebChat struct {
	Route
	// Origins allowed to open the widget's WebSocket ("https://shop.example"); empty allows any.
	Origins []string
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
}

// FromEnv reads the adapters' settings from the environment (names in README.md).
func FromEnv() Config { return fromEnv(os.Getenv) }

func fromEnv(get func(string) string) Config {
	route := func(prefix string, enabled bool) Route {
		p, _ := strconv.Atoi(get(prefix + "_PRIORITY"))
		return Route{Enabled: enabled, Queue: get(prefix + "_QUEUE"), Entry: get(prefix + "_ENTRY"),
			Greeting: get(prefix + "_GREETING"), Priority: p}
	}
	limits := func(prefix string) Limits {
		n, _ := strconv.ParseInt(get(prefix+"_MAX_ATTACHMENT_BYTES"), 10, 64)
		var types []string
		for _, t := range strings.Split(get(prefix+"_ATTACHMENT_TYPES"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				types = append(types, t)
			}
		}
		return Limits{MaxAttachmentBytes: n, AttachmentTypes: types}
	}
	var c Config
	c.WebChat = WebChat{Route: route("WEBCHAT", get("WEBCHAT_DISABLED") != "true")}
	if o := get("WEBCHAT_ORIGINS"); o != "" {
		c.WebChat.Origins = strings.Split(o, ",")
	}
	c.SMS = SMS{Route: route("SMS", get("TWILIO_AUTH_TOKEN") != "" && get("TWILIO_ACCOUNT_SID") != ""), Limits: limits("SMS"),
		AccountSID: get("TWILIO_ACCOUNT_SID"), AuthToken: get("TWILIO_AUTH_TOKEN"),
		From: get("TWILIO_FROM"), BaseURL: get("TWILIO_BASE_URL"), WebhookURL: get("TWILIO_WEBHOOK_URL")}
	c.WhatsApp = WhatsApp{Route: route("WHATSAPP", get("WHATSAPP_APP_SECRET") != "" && get("WHATSAPP_TOKEN") != ""),
		Limits: limits("WHATSAPP"), AppSecret: get("WHATSAPP_APP_SECRET"), VerifyToken: get("WHATSAPP_VERIFY_TOKEN"),
		Token: get("WHATSAPP_TOKEN"), PhoneNumberID: get("WHATSAPP_PHONE_NUMBER_ID"),
		GraphURL: get("WHATSAPP_GRAPH_URL"), APIVersion: get("WHATSAPP_API_VERSION")}
	c.Messenger = Messenger{Route: route("MESSENGER", get("MESSENGER_APP_SECRET") != "" && get("MESSENGER_TOKEN") != ""),
		Limits: limits("MESSENGER"), AppSecret: get("MESSENGER_APP_SECRET"), VerifyToken: get("MESSENGER_VERIFY_TOKEN"),
		Token: get("MESSENGER_TOKEN"), GraphURL: get("MESSENGER_GRAPH_URL"), APIVersion: get("MESSENGER_API_VERSION")}
	c.Telegram = Telegram{Route: route("TELEGRAM", get("TELEGRAM_BOT_TOKEN") != "" && get("TELEGRAM_SECRET_TOKEN") != ""), Limits: limits("TELEGRAM"),
		BotToken: get("TELEGRAM_BOT_TOKEN"), SecretToken: get("TELEGRAM_SECRET_TOKEN"), BaseURL: get("TELEGRAM_BASE_URL")}
	mx, _ := strconv.ParseInt(get("EMAIL_MAX_BYTES"), 10, 64)
	c.Email = Email{Route: route("EMAIL", get("EMAIL_ADDRESS") != "" && get("SMTP_RELAY") != ""), Limits: limits("EMAIL"),
		Listen: get("EMAIL_LISTEN"), Domain: get("EMAIL_DOMAIN"), Address: get("EMAIL_ADDRESS"),
		Relay: get("SMTP_RELAY"), RelayUser: get("SMTP_USER"), RelayPass: get("SMTP_PASSWORD"), MaxBytes: mx}
	return c
}
