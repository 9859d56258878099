package config

import "time"

// Defaults of the operator's model; DESIGN and README quote them.
const (
	DefaultSIPAddr  = "127.0.0.1:5060"
	DefaultRealm    = "ccswitch"
	DefaultHTTP     = "127.0.0.1:8080"
	DefaultRTPPorts = "16384-32767"
	// DefaultMaxContacts is how many contacts one extension may register at once.
	DefaultMaxContacts = 5
	// DefaultDrainTimeout is how long a stop waits for calls in progress (sip.drain_timeout).
	DefaultDrainTimeout = 2 * time.Minute
)

// DefaultCapacity is how many contacts of each channel an agent takes at once unless told.
var DefaultCapacity = map[string]int{"voice": 1, "chat": 3, "email": 5, "social": 3}

// ApplyDefaults fills every setting left empty. Parse calls it; tests that build a Config by
// hand call it too.
func (c *Config) ApplyDefaults() {
	s := &c.SIP
	if len(s.UDP) == 0 && len(s.TCP) == 0 {
		s.UDP = []string{DefaultSIPAddr}
		s.TCP = []string{DefaultSIPAddr}
	}
	setString(&s.Realm, DefaultRealm)
	setString(&s.UserAgent, "ccswitch")
	setDuration(&s.MinExpires, 60*time.Second)
	setDuration(&s.MaxExpires, time.Hour)
	setDuration(&s.DefaultExpires, time.Hour)
	setDuration(&s.NonceTTL, 5*time.Minute)
	setDuration(&s.RingTimeout, 60*time.Second)
	setDuration(&s.SessionExpires, 30*time.Minute)
	setDuration(&s.MinSE, 90*time.Second)
	c.applyStreamDefaults()
	if len(s.DigestAlgorithms) == 0 {
		s.DigestAlgorithms = []string{"SHA-256", "MD5"}
	}
	s.Limits.applyDefaults()
	c.Wallboard.applyDefaults()
	if s.Emergency == nil {
		s.Emergency = append([]string(nil), DefaultEmergency...)
	}
	if s.MaxContacts == 0 {
		s.MaxContacts = DefaultMaxContacts
	}
	if s.NATPingInterval == nil {
		d := Duration(30 * time.Second)
		s.NATPingInterval = &d
	}
	if s.AuthLockout.Failures == 0 {
		s.AuthLockout.Failures = 5
	}
	if s.AuthLockout.Usernames == 0 {
		s.AuthLockout.Usernames = 4
	}
	setDuration(&s.AuthLockout.Window, time.Minute)
	if s.DrainTimeout == nil {
		d := Duration(DefaultDrainTimeout)
		s.DrainTimeout = &d
	}

	c.webrtcDefaults()
	m := &c.Media
	setString(&m.IP, "127.0.0.1")
	setString(&m.RTPPorts, DefaultRTPPorts)
	if m.Anchor == nil {
		t := true
		m.Anchor = &t
	}
	setDuration(&m.RTPTimeout, 60*time.Second)
	if m.StrictSource == nil {
		t := true
		m.StrictSource = &t
	}
	setString(&m.Recordings, "recordings")

	setString(&c.HTTP.Listen, DefaultHTTP)
	c.HTTP.applySecurityDefaults()

	for i := range c.Trunks {
		t := &c.Trunks[i]
		setString(&t.Transport, "udp")
		setString(&t.Media, "anchor")
		setString(&t.SRTP, "optional")
		if t.OptionsInterval == nil {
			d := Duration(30 * time.Second)
			t.OptionsInterval = &d
		}
	}
	for i := range c.Users {
		setString(&c.Users[i].SRTP, "optional")
	}
	c.trunkDefaults()
	for i := range c.Numbers {
		n := &c.Numbers[i]
		setString(&n.Language, "en")
		setString(&n.Timezone, "UTC")
	}
	for i := range c.Queues {
		q := &c.Queues[i]
		if len(q.Channels) == 0 {
			q.Channels = []string{"voice", "chat"}
		}
		setString(&q.Strategy, "longest-idle")
		setDuration(&q.WrapUp, 10*time.Second)
		setDuration(&q.RONATimeout, 20*time.Second)
		setDuration(&q.ServiceLevel, 20*time.Second)
		if q.RONAMisses == 0 {
			q.RONAMisses = 1
		}
	}
	c.Channels.applyDefaults()
	c.integrationDefaults()
	c.callbackDefaults()
	for i := range c.Agents {
		a := &c.Agents[i]
		if a.Capacity == nil {
			a.Capacity = map[string]int{}
		}
		for ch, n := range DefaultCapacity {
			if _, ok := a.Capacity[ch]; !ok {
				a.Capacity[ch] = n
			}
		}
	}
}

func setString(p *string, def string) {
	if *p == "" {
		*p = def
	}
}

func setDuration(p *Duration, def time.Duration) {
	if *p == 0 {
		*p = Duration(def)
	}
}
