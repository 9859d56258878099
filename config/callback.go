package config

import (
	"fmt"
	"time"
)

// QueueCallback lets a caller waiting in a queue node hang up and be called back, keeping
// their place in the queue (`callback:` on a queue node).
type QueueCallback struct {
	// Digit accepts the offer (default "1").
	Digit string `yaml:"digit"`
	// After is how long the caller waits before the offer is made (default 0: at once).
	After Duration `yaml:"after"`
	// Prompt is the offer, played with barge-in (default "callback-offer": "to be called
	// back without losing your place, press 1").
	Prompt string `yaml:"prompt"`
	// Confirm is played once the caller accepted, before ccswitch hangs up (default
	// "callback-confirm").
	Confirm string `yaml:"confirm"`
	// Number is the number called back: "presented" (default: the caller's presented
	// number) or "keyed" (the caller keys one in, ended by #; it must match callback.allowed,
	// else no callback is promised and the caller keeps waiting; keying nothing takes the
	// presented number).
	Number string `yaml:"number"`
	// Retries is how many more attempts follow an unanswered or busy callback (default 2).
	Retries *int `yaml:"retries"`
	// RetryAfter is the pause between attempts (default 2m).
	RetryAfter Duration `yaml:"retry_after"`
	// Preview is the agent's countdown before ccswitch dials by itself (default 10s). The
	// queue's RONA timeout does not apply to a callback.
	Preview Duration `yaml:"preview"`
}

// QueueVoicemail lets a caller waiting in a queue node leave a message instead: the
// recording becomes a task of the queue's voice channel (`voicemail:` on a queue node).
type QueueVoicemail struct {
	// Digit starts the message (default "2").
	Digit string `yaml:"digit"`
	// After is how long the caller waits before the offer is made (default 0).
	After Duration `yaml:"after"`
	// Prompt is the offer (default "voicemail-offer"); the beep prompt follows.
	Prompt string `yaml:"prompt"`
	// MaxLength bounds the message (default 2m).
	MaxLength Duration `yaml:"max_length"`
}

// Callback is the policy of every callback (`callback:` at the top level): the numbers it
// may call. A callback is an outbound call placed on behalf of the agent who takes it, so the
// agent's outbound right, destination rules (sip.limits), call rate and daily minutes apply
// on top of this.
type Callback struct {
	// Allowed are the prefixes a keyed-in number must match (default: the country code of
	// the number the caller dialled). A presented or verified number is not checked here.
	Allowed []string `yaml:"allowed"`
	// Denied are prefixes never called back, keyed or presented (default: DefaultPremium).
	Denied []string `yaml:"denied"`
	// DailyCap is how many callbacks one number may be promised per day (default 3; 0
	// takes the default, there is no "unlimited").
	DailyCap int `yaml:"daily_cap"`
	// CallerID is the number shown when ccswitch calls back a text contact who asked for a
	// call (default: the first of numbers with a flow). A caller is called back from the DID
	// they dialled.
	CallerID string `yaml:"caller_id"`
}

// DefaultPremium are premium-rate ranges refused as callback numbers unless callback.denied
// says otherwise: NANP 900 and 976, UK 09 and 0871-0873, France 089 and 08 99, Germany 0900,
// Spain 803/806/807, Italy 899.
var DefaultPremium = []string{"1900", "1976", "449", "44871", "44872", "44873", "3389", "49900", "34803", "34806", "34807", "39899"}

// Callback defaults.
const (
	DefaultCallbackDigit      = "1"
	DefaultCallbackRetries    = 2
	DefaultCallbackRetryAfter = 2 * time.Minute
	DefaultCallbackPreview    = 10 * time.Second
	DefaultCallbackDailyCap   = 3
	DefaultVoicemailDigit     = "2"
	DefaultAnnounceEvery      = 30 * time.Second
)

func (c *Config) callbackDefaults() {
	if len(c.Callback.Denied) == 0 {
		c.Callback.Denied = append([]string(nil), DefaultPremium...)
	}
	if c.Callback.DailyCap <= 0 {
		c.Callback.DailyCap = DefaultCallbackDailyCap
	}
	if c.Callback.CallerID == "" {
		for _, n := range c.Numbers {
			if n.Flow != "" {
				c.Callback.CallerID = n.DID
				break
			}
		}
	}
	for i := range c.Flows {
		for j := range c.Flows[i].Nodes {
			n := &c.Flows[i].Nodes[j]
			if n.Type != "queue" {
				continue
			}
			if n.Announce {
				setDuration(&n.AnnounceEvery, DefaultAnnounceEvery)
			}
			if cb := n.Callback; cb != nil {
				setString(&cb.Digit, DefaultCallbackDigit)
				setString(&cb.Prompt, "callback-offer")
				setString(&cb.Confirm, "callback-confirm")
				setString(&cb.Number, "presented")
				if cb.Retries == nil {
					r := DefaultCallbackRetries
					cb.Retries = &r
				}
				setDuration(&cb.RetryAfter, DefaultCallbackRetryAfter)
				setDuration(&cb.Preview, DefaultCallbackPreview)
			}
			if vm := n.Voicemail; vm != nil {
				setString(&vm.Digit, DefaultVoicemailDigit)
				setString(&vm.Prompt, "voicemail-offer")
				setDuration(&vm.MaxLength, 2*time.Minute)
			}
		}
	}
}

// queueWaiting validates a queue node's callback, voicemail and announcements.
func (v *validator) queueWaiting(np string, n Node) {
	if n.AnnounceEvery.D() < 0 || n.AnnounceEvery.D() > 0 && n.AnnounceEvery.D() < 10*time.Second {
		v.failAt(np+".announce_every", "want at least 10s, got %s", n.AnnounceEvery.D())
	}
	digit := func(p, d string) {
		if len(d) != 1 || !(d[0] >= '0' && d[0] <= '9' || d[0] == '*' || d[0] == '#') {
			v.failAt(p, "want one key (0-9, * or #), got %q", d)
		}
	}
	if cb := n.Callback; cb != nil {
		p := np + ".callback"
		digit(p+".digit", cb.Digit)
		if cb.Number != "presented" && cb.Number != "keyed" {
			v.failAt(p+".number", "want presented or keyed, got %q", cb.Number)
		}
		if cb.Retries != nil && (*cb.Retries < 0 || *cb.Retries > 10) {
			v.failAt(p+".retries", "want 0 to 10, got %d", *cb.Retries)
		}
		if cb.RetryAfter.D() < 10*time.Second {
			v.failAt(p+".retry_after", "want at least 10s, got %s", cb.RetryAfter.D())
		}
		if cb.Preview.D() < time.Second || cb.Preview.D() > 2*time.Minute {
			v.failAt(p+".preview", "want 1s to 2m, got %s", cb.Preview.D())
		}
		if cb.After.D() < 0 {
			v.failAt(p+".after", "want 0 or more, got %s", cb.After.D())
		}
	}
	if vm := n.Voicemail; vm != nil {
		p := np + ".voicemail"
		digit(p+".digit", vm.Digit)
		if cb := n.Callback; cb != nil && cb.Digit == vm.Digit {
			v.failAt(p+".digit", "key %q already accepts the callback", vm.Digit)
		}
		if vm.MaxLength.D() < time.Second || vm.MaxLength.D() > 10*time.Minute {
			v.failAt(p+".max_length", "want 1s to 10m, got %s", vm.MaxLength.D())
		}
		if vm.After.D() < 0 {
			v.failAt(p+".after", "want 0 or more, got %s", vm.After.D())
		}
	}
}

func (v *validator) callback() {
	if id := v.c.Callback.CallerID; id != "" && !didRE.MatchString(id) {
		v.failAt("callback.caller_id", "want a number: digits with an optional leading +, got %q", id)
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"allowed", v.c.Callback.Allowed}, {"denied", v.c.Callback.Denied}} {
		for j, pre := range l.list {
			if !didRE.MatchString(pre) {
				v.failAt(fmt.Sprintf("callback.%s[%d]", l.name, j), "want a number prefix: digits with an optional leading +, got %q", pre)
			}
		}
	}
}
