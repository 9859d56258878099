package config

import (
	"strings"
	"testing"
	"time"
)

// TestTrunkErrors: the fields of registration trunks, caller ID, normalisation and failover
// are validated with file:line:col and field path.
func TestTrunkErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"register without username", "trunks:\n  - name: t\n    outbound: sip:203.0.113.5\n    register: true\n",
			[]string{`c.yaml:2:5: trunks[0].outbound_username: trunk "t" registers: give outbound_username`}},
		{"register without outbound", "trunks:\n  - name: t\n    sources: [203.0.113.5]\n    register: true\n    outbound_username: u\n    outbound_secret: s\n",
			[]string{`c.yaml:4:15: trunks[0].register: trunk "t" registers with its outbound registrar: give outbound`}},
		{"register expires out of range", "trunks:\n  - {name: t, outbound: sip:203.0.113.5, register: true, outbound_username: u, outbound_secret: s, register_expires: 10s}\n",
			[]string{`c.yaml:2:118: trunks[0].register_expires: want 60s to 24h, got 10s`}},
		{"caller id not E.164", "trunks:\n  - {name: t, outbound: sip:203.0.113.5, caller_id: \"5550100\"}\nusers:\n  - {extension: \"1001\", secret: s, caller_id: \"+0123\"}\n",
			[]string{`c.yaml:2:53: trunks[0].caller_id: want an E.164 number such as +15550100, got "5550100"`,
				`c.yaml:4:47: users[0].caller_id: want an E.164 number such as +15550101, got "+0123"`}},
		{"strip and prepend", "trunks:\n  - {name: t, outbound: sip:203.0.113.5, strip: \"x1\", prepend: \"0 \"}\n",
			[]string{`trunks[0].strip: want a number prefix such as +49, got "x1"`, `trunks[0].prepend: want digits with an optional leading +, got "0 "`}},
		{"destination list", `trunks:
  - name: t
    outbound:
      - {uri: "sip:a.example", priority: 1, weight: 70}
      - {uri: "", priority: -1}
      - {uri: "sip:b@c", weight: 70000}
`, []string{`c.yaml:5:15: trunks[0].outbound[1].uri: want sip:host[:port] or host:port`, `c.yaml:5:29: trunks[0].outbound[1].priority: want 0 to 65535, got -1`,
			`c.yaml:6:15: trunks[0].outbound[2].uri: want sip:host[:port] or host:port, got "sip:b@c"`, `c.yaml:6:34: trunks[0].outbound[2].weight: want 0 to 65535, got 70000`}},
		{"destination typo", "trunks:\n  - name: t\n    outbound:\n      - {url: x}\n",
			[]string{`c.yaml:4:10: trunks[0].outbound[0].url: unknown field "url" (known: uri, priority, weight)`}},
		{"thresholds and redirects", "trunks:\n  - {name: t, outbound: sip:203.0.113.5, options_down: 0, options_up: 101, redirects: 6}\n",
			[]string{`trunks[0].options_up: want 1 to 100 answered probes, got 101`, `trunks[0].redirects: want 0 (3xx answered 480) to 5, got 6`}},
		{"dns server", "sip:\n  dns: 127.0.0.1\n",
			[]string{`c.yaml:2:8: sip.dns: want host:port of a DNS server such as 127.0.0.1:53, got "127.0.0.1"`}},
		{"emergency trunk with a list", "sip:\n  emergency_trunk: t\ntrunks:\n  - {name: t, sources: [203.0.113.5]}\n",
			[]string{`sip.emergency_trunk: trunk "t" has no outbound destination`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("c.yaml", []byte(c.yaml), func(string) (string, bool) { return "", false })
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			for _, w := range c.want {
				i := strings.Index(got, w)
				if i < 0 {
					t.Fatalf("missing %q in:\n%s", w, got)
				}
				got = got[i+len(w):]
			}
		})
	}
}

// TestTrunkForms: outbound is one address or a list; defaults fill the list's weights, the
// thresholds and register_expires.
func TestTrunkForms(t *testing.T) {
	cfg, err := parse("c.yaml", []byte(`trunks:
  - {name: one, outbound: "sip:203.0.113.5:5060"}
  - name: list
    outbound:
      - {uri: "sip:203.0.113.6", priority: 1, weight: 3}
      - {uri: "carrier.example", priority: 2}
    register: true
    outbound_username: u
    outbound_secret: s
    caller_id: "+15550100"
    strip: "+1"
users:
  - {extension: "1001", secret: s, caller_id: "+15550101", hide_caller_id: true}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	one, list := cfg.Trunks[0], cfg.Trunks[1]
	if got := one.OutboundURIs(); len(got) != 1 || got[0] != "sip:203.0.113.5:5060" || !one.HasOutbound() {
		t.Errorf("one: %v", got)
	}
	if got := list.OutboundURIs(); len(got) != 2 || got[1] != "carrier.example" || list.Outbound != "" {
		t.Errorf("list: %v %q", got, list.Outbound)
	}
	if *list.Destinations[0].Weight != 3 || *list.Destinations[1].Weight != 1 || list.Destinations[1].Priority != 2 {
		t.Errorf("destinations %+v", list.Destinations)
	}
	if list.OptionsDown != DefaultOptionsDown || list.OptionsUp != DefaultOptionsUp || list.RegisterExpires.D() != 10*time.Minute {
		t.Errorf("defaults: %d %d %s", list.OptionsDown, list.OptionsUp, list.RegisterExpires.D())
	}
	if u := cfg.Users[0]; u.CallerID != "+15550101" || !u.HideCallerID {
		t.Errorf("user %+v", u)
	}
}
