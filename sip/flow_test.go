package sip

import (
	"net"
	"testing"

	"github.com/ccswitch/ccswitch/config"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// TestVetRegister: which REGISTERs may bind their contacts. Trunk addresses are what the
// config says: an ip:port source is that port only, an IP or CIDR source and an outbound
// without port cover every port, an outbound by name matches the name; ccswitch is its
// listeners (a wildcard one on every local address) and its public_host.
func TestVetRegister(t *testing.T) {
	s := newOfflineServer(t)
	cfg := *s.cfg.Load()
	cfg.Trunks = []config.Trunk{
		{Name: "a", Sources: []string{"203.0.113.0/24"}, Outbound: "sip:carrier.example.com"},
		{Name: "b", Sources: []string{"198.51.100.7:5080"}, Outbound: "198.51.100.8"},
		{Name: "c", Sources: []string{"2001:db8::7"}, Outbound: "[2001:db8::8]:5060"},
	}
	s.Reload(&cfg)
	s.self.Store(selfAddrs([]net.Addr{
		&net.UDPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5060},
		&net.TCPAddr{IP: net.IPv4zero, Port: 5070},
	}, "pbx.example.com"))
	r := s.routes.Load()
	for _, tc := range []struct {
		name, source, ruri, contact, want string
	}{
		{"a phone", "192.0.2.10:5060", "sip:pbx.example.com", "<sip:1001@192.0.2.10:5060>", ""},
		{"a phone behind NAT", "192.0.2.10:40000", "sip:pbx.example.com", "<sip:1001@10.0.0.5>", ""},
		{"from a trunk's CIDR", "203.0.113.9:5060", "sip:pbx.example.com", "<sip:1001@192.0.2.10>", vetTrunkSource},
		{"from a trunk's ip:port", "198.51.100.7:5080", "sip:pbx.example.com", "<sip:1001@192.0.2.10>", vetTrunkSource},
		{"from the trunk's IP, another port", "198.51.100.7:5081", "sip:pbx.example.com", "<sip:1001@192.0.2.10>", ""},
		{"to a trunk", "192.0.2.10:5060", "sip:198.51.100.8", "<sip:1001@192.0.2.10>", vetTrunkTarget},
		{"to a trunk by name", "192.0.2.10:5060", "sip:CARRIER.example.com:5090", "<sip:1001@192.0.2.10>", vetTrunkTarget},
		{"contact in a trunk's CIDR", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@203.0.113.77:5060>", vetContactTrk},
		{"contact on a trunk's ip:port", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@198.51.100.7:5080>", vetContactTrk},
		{"contact on that IP, another port", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@198.51.100.7:5090>", ""},
		{"contact on an outbound without port", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@198.51.100.8:6000;transport=tcp>", vetContactTrk},
		{"contact on an outbound by name", "192.0.2.10:5060", "sip:pbx", "<sips:+4790000000@carrier.example.com>", vetContactTrk},
		{"contact on an IPv6 trunk", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@[2001:DB8::7]:5062>", vetContactTrk},
		{"contact on an IPv6 outbound", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@[2001:db8::8]>", vetContactTrk},
		{"maddr on a trunk", "192.0.2.10:5060", "sip:pbx", "<sip:+4790000000@192.0.2.10:5080;maddr=198.51.100.7>", vetContactTrk},
		{"received on a trunk (URI)", "192.0.2.10:5060", "sip:pbx", "<sip:1001@192.0.2.10>;received=\"sip:198.51.100.7:5080\"", vetContactTrk},
		{"received on a trunk (ip:port)", "192.0.2.10:5060", "sip:pbx", "<sip:1001@192.0.2.10>;received=\"198.51.100.7:5080\"", vetContactTrk},
		{"received on a trunk (ip)", "192.0.2.10:5060", "sip:pbx", "<sip:1001@192.0.2.10>;received=203.0.113.1", vetContactTrk},
		{"second contact on a trunk", "192.0.2.10:5060", "sip:pbx", "<sip:1001@192.0.2.10>, <sip:1001@203.0.113.2>", vetContactTrk},
		{"contact on ccswitch", "192.0.2.10:5060", "sip:pbx", "<sip:1001@127.0.0.1:5060>", vetContactSelf},
		{"contact on ccswitch's default port", "192.0.2.10:5060", "sip:pbx", "<sip:1001@127.0.0.1>", vetContactSelf},
		{"contact on ccswitch's public name", "192.0.2.10:5060", "sip:pbx", "<sip:1001@PBX.example.com:5070>", vetContactSelf},
		{"contact on a wildcard listener", "192.0.2.10:5060", "sip:pbx", "<sip:1001@127.0.0.2:5070>", vetContactSelf},
		{"contact on ccswitch's IP, a phone's port", "192.0.2.10:5060", "sip:pbx", "<sip:1001@127.0.0.1:5062>", ""},
		{"wildcard", "192.0.2.10:5060", "sip:pbx", "*", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := "REGISTER " + tc.ruri + " SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKv\r\n" +
				"From: <sip:1001@pbx>;tag=1\r\nTo: <sip:1001@pbx>\r\nCall-ID: v\r\nCSeq: 1 REGISTER\r\n" +
				"Contact: " + tc.contact + "\r\nContent-Length: 0\r\n\r\n"
			m, err := gsip.ParseMessage([]byte(msg))
			if err != nil {
				t.Fatal(err)
			}
			req := m.(*gsip.Request)
			req.SetSource(tc.source)
			if got := s.vetRegister(req, r); got != tc.want {
				t.Fatalf("vetRegister = %q, want %q", got, tc.want)
			}
		})
	}
}
