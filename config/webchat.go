package config

import (
	"time"
)

// WebChatLimits bound what one address may do with the widget (an IPv6 address counts by its
// /64). Every refusal is counted in ccswitch_channels_refused_total{adapter="webchat"} and
// logged once a minute per address.
type WebChatLimits struct {
	// Connections is the most widget sockets open at once from one address (default 20); one
	// more gets 429.
	Connections int `yaml:"connections"`
	// ConversationsPerMinute is how many new conversations one address may start per minute,
	// in a burst of as many (default 10); the message that would start one more is refused.
	ConversationsPerMinute int `yaml:"conversations_per_minute"`
	// MessagesPerMinute is how many frames (a message is a synced commit, a hello replays the
	// history) one address may send per minute over all its sockets (default 60), in bursts of
	// MessagesBurst (default 30); a socket that keeps sending past it is closed.
	MessagesPerMinute int `yaml:"messages_per_minute"`
	MessagesBurst     int `yaml:"messages_burst"`
	// HelloTimeout is how long a new socket may take to send its hello (default 10s).
	HelloTimeout Duration `yaml:"hello_timeout"`
	// PingInterval is how often every socket is pinged (default 30s); one whose pong does not
	// come within PongTimeout (default 10s) is closed.
	PingInterval Duration `yaml:"ping_interval"`
	PongTimeout  Duration `yaml:"pong_timeout"`
}

// Web chat limit defaults.
const (
	DefaultWebChatConnections            = 20
	DefaultWebChatConversationsPerMinute = 10
	DefaultWebChatMessagesPerMinute      = 60
	DefaultWebChatMessagesBurst          = 30
	DefaultWebChatHelloTimeout           = 10 * time.Second
	DefaultWebChatPingInterval           = 30 * time.Second
	DefaultWebChatPongTimeout            = 10 * time.Second
)

// ApplyDefaults fills the limits not written.
func (l *WebChatLimits) ApplyDefaults() {
	setInt(&l.Connections, DefaultWebChatConnections)
	setInt(&l.ConversationsPerMinute, DefaultWebChatConversationsPerMinute)
	setInt(&l.MessagesPerMinute, DefaultWebChatMessagesPerMinute)
	setInt(&l.MessagesBurst, DefaultWebChatMessagesBurst)
	setDuration(&l.HelloTimeout, DefaultWebChatHelloTimeout)
	setDuration(&l.PingInterval, DefaultWebChatPingInterval)
	setDuration(&l.PongTimeout, DefaultWebChatPongTimeout)
}

func (v *validator) webChatLimits(p string, l WebChatLimits) {
	for _, f := range []struct {
		name string
		n    int
	}{{"connections", l.Connections}, {"conversations_per_minute", l.ConversationsPerMinute},
		{"messages_per_minute", l.MessagesPerMinute}, {"messages_burst", l.MessagesBurst}} {
		if f.n < 1 {
			v.failAt(p+"."+f.name, "want at least 1, got %d", f.n)
		}
	}
	for _, f := range []struct {
		name     string
		d        Duration
		min, max time.Duration
	}{{"hello_timeout", l.HelloTimeout, time.Second, 5 * time.Minute}, {"ping_interval", l.PingInterval, time.Second, time.Hour},
		{"pong_timeout", l.PongTimeout, 100 * time.Millisecond, 5 * time.Minute}} {
		if f.d.D() < f.min || f.d.D() > f.max {
			v.failAt(p+"."+f.name, "want %v to %v, got %v", f.min, f.max, f.d.D())
		}
	}
}

// setInt sets *p to def when it was not written (zero); a negative value is left for validate.
func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}
