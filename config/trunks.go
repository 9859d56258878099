package config

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"
)

// Destination is one entry of the list form of trunks[].outbound:
//
//	outbound:
//	  - {uri: "sip:198.51.100.10:5060", priority: 1, weight: 70}
//	  - {uri: "sip:198.51.100.11:5060", priority: 1, weight: 30}
//	  - {uri: "sip:backup.carrier.example", priority: 2}   # a name without port: RFC 3263
//
// Lower priority first; among equal priorities, a random order weighted by Weight (RFC 2782).
// A host name without a port is resolved per RFC 3263 (NAPTR, SRV, then A/AAAA).
type Destination struct {
	URI      string `yaml:"uri"`
	Priority int    `yaml:"priority"`
	// Weight shares calls among destinations of one priority (default 1; 0 only when the
	// others are busy or down).
	Weight *int `yaml:"weight"`
}

// Default trunk probing and registration settings.
const (
	DefaultOptionsDown     = 3
	DefaultOptionsUp       = 2
	DefaultRegisterExpires = 600 * time.Second
)

// OutboundURIs returns the trunk's outbound destinations as written (the one-address form
// or each URI of the list form), none for an inbound-only trunk.
func (t Trunk) OutboundURIs() []string {
	if t.Outbound != "" {
		return []string{t.Outbound}
	}
	out := make([]string, 0, len(t.Destinations))
	for _, d := range t.Destinations {
		out = append(out, d.URI)
	}
	return out
}

// HasOutbound reports whether calls may go out through the trunk.
func (t Trunk) HasOutbound() bool { return t.Outbound != "" || len(t.Destinations) > 0 }

// anySIPS reports whether a destination is a sips: URI.
func (t Trunk) anySIPS() bool {
	for _, u := range t.OutboundURIs() {
		if strings.HasPrefix(u, "sips:") {
			return true
		}
	}
	return false
}

func (v *validator) sipDNS() {
	if d := v.c.SIP.DNS; d != "" {
		if _, _, err := net.SplitHostPort(d); err != nil {
			v.failAt("sip.dns", "want host:port of a DNS server such as 127.0.0.1:53, got %q", d)
		}
	}
}

func (c *Config) trunkDefaults() {
	for i := range c.Trunks {
		t := &c.Trunks[i]
		if t.OptionsDown == 0 {
			t.OptionsDown = DefaultOptionsDown
		}
		if t.OptionsUp == 0 {
			t.OptionsUp = DefaultOptionsUp
		}
		if t.Register {
			setDuration(&t.RegisterExpires, DefaultRegisterExpires)
		}
		for j := range t.Destinations {
			if t.Destinations[j].Weight == nil {
				w := 1
				t.Destinations[j].Weight = &w
			}
		}
	}
}

// trunkChecks validates the fields of trunks added for registration, caller ID, number
// normalisation and failover.
func (v *validator) trunkChecks(i int, t Trunk) {
	p := fmt.Sprintf("trunks[%d]", i)
	if t.Outbound != "" {
		v.outboundURI(p+".outbound", t.Outbound)
	}
	for j, d := range t.Destinations {
		dp := fmt.Sprintf("%s.outbound[%d]", p, j)
		if d.URI == "" {
			v.failAt(dp+".uri", "want sip:host[:port] or host:port")
		} else {
			v.outboundURI(dp+".uri", d.URI)
		}
		if d.Priority < 0 || d.Priority > 65535 {
			v.failAt(dp+".priority", "want 0 to 65535, got %d", d.Priority)
		}
		if d.Weight != nil && (*d.Weight < 0 || *d.Weight > 65535) {
			v.failAt(dp+".weight", "want 0 to 65535, got %d", *d.Weight)
		}
	}
	if t.CallerID != "" && !e164RE.MatchString(t.CallerID) {
		v.failAt(p+".caller_id", "want an E.164 number such as +15550100, got %q", t.CallerID)
	}
	if t.Strip != "" && !didRE.MatchString(t.Strip) {
		v.failAt(p+".strip", "want a number prefix such as +49, got %q", t.Strip)
	}
	if t.Prepend != "" && !didRE.MatchString(t.Prepend) {
		v.failAt(p+".prepend", "want digits with an optional leading +, got %q", t.Prepend)
	}
	if t.Register {
		if !t.HasOutbound() {
			v.failAt(p+".register", "trunk %q registers with its outbound registrar: give outbound", t.Name)
		}
		if t.OutboundUsername == "" {
			v.failAt(p+".outbound_username", "trunk %q registers: give outbound_username (and outbound_secret)", t.Name)
		}
		if t.RegisterExpires.D() < 60*time.Second || t.RegisterExpires.D() > 24*time.Hour {
			v.failAt(p+".register_expires", "want 60s to 24h, got %s", t.RegisterExpires.D())
		}
	}
	if t.OptionsDown < 1 || t.OptionsDown > 100 {
		v.failAt(p+".options_down", "want 1 to 100 missed probes, got %d", t.OptionsDown)
	}
	if t.OptionsUp < 1 || t.OptionsUp > 100 {
		v.failAt(p+".options_up", "want 1 to 100 answered probes, got %d", t.OptionsUp)
	}
	if t.Redirects < 0 || t.Redirects > 5 {
		v.failAt(p+".redirects", "want 0 (3xx answered 480) to 5, got %d", t.Redirects)
	}
	if strings.ContainsAny(t.OutboundUsername, " \r\n<>\"@:;") {
		v.failAt(p+".outbound_username", "want a user name without spaces, quotes, <>, @, : or ;")
	}
}

var e164RE = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func (v *validator) outboundURI(path, s string) {
	dest := strings.TrimPrefix(strings.TrimPrefix(s, "sips:"), "sip:")
	if dest == "" || strings.ContainsAny(s, " \r\n<>\"@;") {
		v.failAt(path, "want sip:host[:port] or host:port, got %q", s)
		return
	}
	if _, _, err := net.SplitHostPort(dest); err != nil && strings.Contains(strings.Trim(dest, "[]"), ":") && !strings.HasPrefix(dest, "[") {
		v.failAt(path, "want sip:host[:port] or host:port, got %q", s)
	}
}

func (v *validator) userCallerID(i int, u User) {
	if u.CallerID != "" && !e164RE.MatchString(u.CallerID) {
		v.failAt(fmt.Sprintf("users[%d].caller_id", i), "want an E.164 number such as +15550101, got %q", u.CallerID)
	}
}
