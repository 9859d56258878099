package config

import (
	"fmt"
	"regexp"
	"time"
)

// Limits are the SIP edge's abuse limits (sip.limits): a flood limit per source address
// applied before a message is parsed, and per extension concurrent calls, call rate,
// destinations and daily minutes. A nil pointer is "not set": ApplyDefaults fills the defaults
// below, and the sip package treats what is still nil (a Config built by hand) as no limit.
type Limits struct {
	// SourceRate is how many SIP messages per second one source address may send (an IPv6
	// source counts per /64), counted on the raw datagram before it is parsed. A source that
	// goes past SourceBurst is blocked: its messages are dropped unanswered until it has
	// slowed down below SourceRate. Trunk sources and outbound destinations and the hosts of
	// static contacts are exempt. Default 200; 0 turns the limit off.
	SourceRate *float64 `yaml:"source_rate"`
	// SourceBurst is how many messages a source may send at once above SourceRate
	// (default 5 × source_rate).
	SourceBurst int `yaml:"source_burst"`
	// MaxCalls is how many calls an extension may be in at once, placed or received, ringing
	// or answered (default 4; 0: no limit). Users and classes may override it.
	MaxCalls *int `yaml:"max_calls"`
	// CallRate is how many calls per second an extension may place (default 1; 0: no limit),
	// with CallBurst calls at once (default 5). Classes may override both.
	CallRate  *float64 `yaml:"call_rate"`
	CallBurst int      `yaml:"call_burst"`
	// DailyMinutes caps the minutes of calls an extension places through trunks per day
	// (default 0: no cap). The count survives restarts; a call that reaches the cap is ended.
	// Users and classes may override it.
	DailyMinutes int `yaml:"daily_minutes"`
	// Timezone is the IANA zone whose midnight starts a new day for DailyMinutes (default UTC).
	Timezone string `yaml:"timezone"`
	// Classes are classes of service: named sets of destination rules and caps that users take
	// with users[].class.
	Classes []Class `yaml:"classes"`
}

// Class is a class of service: which external numbers its users may dial and their caps. A
// field left out takes the sip.limits value.
type Class struct {
	Name string `yaml:"name"`
	// Allow and Deny are prefixes of dialled numbers ("+44", "00", "+1900"); a leading + is
	// ignored, as for trunk prefixes. The longest matching prefix decides (deny wins a tie);
	// with any Allow prefix, a number that matches none is denied.
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
	// DailyMinutes, MaxCalls, CallRate, CallBurst override sip.limits for the class.
	DailyMinutes *int     `yaml:"daily_minutes"`
	MaxCalls     *int     `yaml:"max_calls"`
	CallRate     *float64 `yaml:"call_rate"`
	CallBurst    int      `yaml:"call_burst"`
}

// Limit defaults (README "Secure by default" quotes them).
const (
	DefaultSourceRate = 200
	DefaultMaxCalls   = 4
	DefaultCallRate   = 1
	DefaultCallBurst  = 5
)

// DefaultEmergency are the emergency numbers routed when sip.emergency is not set.
var DefaultEmergency = []string{"112", "911"}

func (l *Limits) applyDefaults() {
	if l.SourceRate == nil {
		r := float64(DefaultSourceRate)
		l.SourceRate = &r
	}
	if l.SourceBurst == 0 {
		l.SourceBurst = max(int(5**l.SourceRate), 1)
	}
	if l.MaxCalls == nil {
		n := DefaultMaxCalls
		l.MaxCalls = &n
	}
	if l.CallRate == nil {
		r := float64(DefaultCallRate)
		l.CallRate = &r
	}
	if l.CallBurst == 0 {
		l.CallBurst = DefaultCallBurst
	}
	setString(&l.Timezone, "UTC")
}

var emergencyRE = regexp.MustCompile(`^[0-9]{2,8}$`)

// limits checks sip.limits, sip.emergency and the limit fields of users and trunks.
func (v *validator) limits(exts map[string]bool) {
	s := v.c.SIP
	l := s.Limits
	p := "sip.limits"
	if l.SourceRate != nil && *l.SourceRate < 0 {
		v.failAt(p+".source_rate", "want 0 (off) or more messages per second, got %g", *l.SourceRate)
	}
	if l.SourceBurst < 0 {
		v.failAt(p+".source_burst", "want 1 or more, got %d", l.SourceBurst)
	}
	v.caps(p, l.MaxCalls, l.CallRate, l.CallBurst, &l.DailyMinutes)
	if _, err := time.LoadLocation(l.Timezone); err != nil {
		v.failAt(p+".timezone", "unknown time zone %q", l.Timezone)
	}
	classes := map[string]bool{}
	for i, c := range l.Classes {
		cp := fmt.Sprintf("%s.classes[%d]", p, i)
		v.uniqueName(cp+".name", "class", c.Name, classes)
		v.prefixes(cp, c.Allow, c.Deny)
		v.caps(cp, c.MaxCalls, c.CallRate, c.CallBurst, c.DailyMinutes)
	}
	for i, u := range v.c.Users {
		up := fmt.Sprintf("users[%d]", i)
		if u.Class != "" && !classes[u.Class] {
			v.failAt(up+".class", "unknown class %q", u.Class)
		}
		v.prefixes(up, u.Allow, u.Deny)
		v.caps(up, u.MaxCalls, nil, 0, u.DailyMinutes)
	}
	for i, t := range v.c.Trunks {
		if t.MaxCalls < 0 {
			v.failAt(fmt.Sprintf("trunks[%d].max_calls", i), "want 0 (no limit) or more, got %d", t.MaxCalls)
		}
	}

	dids := map[string]bool{}
	for _, n := range v.c.Numbers {
		dids[NormalizeDID(n.DID)] = true
	}
	seen := map[string]bool{}
	for i, e := range s.Emergency {
		ep := fmt.Sprintf("sip.emergency[%d]", i)
		switch {
		case !emergencyRE.MatchString(e):
			v.failAt(ep, "want an emergency number of 2 to 8 digits such as 112 or 911, got %q", e)
		case seen[e]:
			v.failAt(ep, "duplicate emergency number %q", e)
		case exts[e]:
			v.failAt(ep, "%q is also an extension: an emergency number must reach the trunk (set sip.emergency to this country's numbers)", e)
		case dids[e]:
			v.failAt(ep, "%q is also one of our numbers: an emergency number must reach the trunk", e)
		}
		seen[e] = true
	}
	if s.EmergencyTrunk != "" {
		found := false
		for _, t := range v.c.Trunks {
			if t.Name == s.EmergencyTrunk {
				found = true
				if !t.HasOutbound() {
					v.failAt("sip.emergency_trunk", "trunk %q has no outbound destination", t.Name)
				}
			}
		}
		if !found {
			v.failAt("sip.emergency_trunk", "unknown trunk %q", s.EmergencyTrunk)
		}
	}
}

func (v *validator) prefixes(p string, allow, deny []string) {
	for _, l := range []struct {
		name string
		list []string
	}{{"allow", allow}, {"deny", deny}} {
		for j, pre := range l.list {
			if !didRE.MatchString(pre) {
				v.failAt(fmt.Sprintf("%s.%s[%d]", p, l.name, j), "want a number prefix: digits with an optional leading +, got %q", pre)
			}
		}
	}
}

func (v *validator) caps(p string, maxCalls *int, callRate *float64, callBurst int, dailyMinutes *int) {
	if maxCalls != nil && *maxCalls < 0 {
		v.failAt(p+".max_calls", "want 0 (no limit) or more, got %d", *maxCalls)
	}
	if callRate != nil && *callRate < 0 {
		v.failAt(p+".call_rate", "want 0 (no limit) or more calls per second, got %g", *callRate)
	}
	if callBurst < 0 {
		v.failAt(p+".call_burst", "want 1 or more, got %d", callBurst)
	}
	if dailyMinutes != nil && (*dailyMinutes < 0 || *dailyMinutes > 24*60) {
		v.failAt(p+".daily_minutes", "want 0 (no cap) to 1440 minutes, got %d", *dailyMinutes)
	}
}
