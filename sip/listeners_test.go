package sip

import (
	"net"
	"testing"
)

func TestAdvertisedHost(t *testing.T) {
	for _, tc := range []struct {
		public, listen, fallback, want string
	}{
		{"", "127.0.0.1", "x", "127.0.0.1"},
		{"", "::1", "x", "::1"},
		{"", "[::1]", "x", "::1"},
		{"", "0.0.0.0", "192.0.2.1", "192.0.2.1"},
		{"203.0.113.5", "10.0.0.4", "", "203.0.113.5"},
		{"203.0.113.5", "0.0.0.0", "", "203.0.113.5"},
		{"203.0.113.5", "::1", "", "::1"},                 // another family: the listener's own
		{"2001:db8::5", "10.0.0.4", "", "10.0.0.4"},       // likewise
		{"[2001:db8::5]", "fd00::4", "", "2001:db8::5"},   // same family, brackets dropped
		{"2001:db8::5", "::", "", "2001:db8::5"},          // a dual-stack wildcard takes either
		{"sip.example.com", "::1", "", "sip.example.com"}, // a name applies to every listener
		{"sip.example.com", "127.0.0.1", "", "sip.example.com"},
	} {
		if got := advertisedHost(tc.public, tc.listen, tc.fallback); got != tc.want {
			t.Errorf("advertisedHost(%q, %q) = %q, want %q", tc.public, tc.listen, got, tc.want)
		}
	}
}

func TestUDPFor(t *testing.T) {
	v4 := &udpSide{addr: &net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5060}}
	v6 := &udpSide{addr: &net.UDPAddr{IP: net.ParseIP("::1"), Port: 5060}}
	s := &Server{udp: []*udpSide{v4, v6}}
	for peer, want := range map[string]*udpSide{
		"192.0.2.1:5060":       v4,
		"192.0.2.1":            v4,
		"[2001:db8::1]:5060":   v6,
		"2001:db8::1":          v6,
		"[::ffff:192.0.2.1]:1": v4,
		"phone.example.com":    v4, // a name: the first listener
		"":                     v4,
	} {
		if got := s.udpFor(peer); got != want {
			t.Errorf("udpFor(%q) = %v, want %v", peer, got.addr, want.addr)
		}
	}
	s = &Server{udp: []*udpSide{v4}}
	if s.udpFor("[2001:db8::1]:5060") != v4 {
		t.Error("with one listener every peer gets it")
	}
}
