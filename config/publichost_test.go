package config

import (
	"testing"
	"time"
)

func TestCheckPublicHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"203.0.113.5", true},
		{"2001:db8::1", true},
		{"[2001:db8::1]", true},
		{"sip.example.com", true},
		{"pbx", true},
		{"sip.example.com.", true},
		{"0.0.0.0", false},
		{"::", false},
		{"fe80::1%eth0", false},
		{"203.0.113.5:5060", false},
		{"[2001:db8::1]:5060", false},
		{"123.456", false},
		{"-bad.example.com", false},
		{"a..b", false},
		{"ex ample.com", false},
		{"sip.example.com\r\nVia: x", false},
	} {
		if got := checkPublicHost(tc.host) == ""; got != tc.ok {
			t.Errorf("checkPublicHost(%q) ok = %v, want %v (%s)", tc.host, got, tc.ok, checkPublicHost(tc.host))
		}
	}
}

func TestSIPEdgeDefaults(t *testing.T) {
	c, err := parse("c.yaml", []byte("sip:\n  realm: x\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.SIP
	if s.MaxContacts != 5 || s.NATPingInterval == nil || s.NATPingInterval.D() != 30*time.Second ||
		s.AuthLockout != (AuthLockout{Failures: 5, Usernames: 4, Window: Duration(time.Minute)}) {
		t.Fatalf("defaults: max_contacts %d, nat_ping_interval %v, auth_lockout %+v", s.MaxContacts, s.NATPingInterval, s.AuthLockout)
	}
	c, err = parse("c.yaml", []byte("sip:\n  nat_ping_interval: 0s\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.SIP.NATPingInterval == nil || c.SIP.NATPingInterval.D() != 0 {
		t.Fatalf("nat_ping_interval 0s must stay 0 (off), got %v", c.SIP.NATPingInterval)
	}
}
