package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefaultConfig(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("embedded default config does not parse:\n%v", err)
	}
	if got := c.SIP.UDP; len(got) != 1 || got[0] != "127.0.0.1:5060" {
		t.Errorf("sip.udp = %v, want loopback only", got)
	}
	outbound := 0
	for _, u := range c.Users {
		if u.Extension >= "1001" && u.Extension <= "1010" && u.Secret != "secret"+u.Extension {
			t.Errorf("user %s secret = %q", u.Extension, u.Secret)
		}
		if u.Outbound {
			outbound++
		}
	}
	if outbound != 5 {
		t.Errorf("%d users may call out, want 5 (1001-1005)", outbound)
	}
	if c.Trunks[0].Name != "carrier" || c.Trunks[0].Sources[0] != "127.0.0.1:5080" {
		t.Errorf("trunk = %+v", c.Trunks[0])
	}
	if c.Queues != nil && c.Queues[0].WrapUp == 0 {
		t.Errorf("defaults not applied to queues")
	}
	if !*c.Media.StrictSource || c.Media.PublicIP != "" || c.Users[0].SRTP != "optional" || c.Trunks[0].SRTP != "optional" {
		t.Errorf("media defaults: strict_source %v public_ip %q, srtp user %q trunk %q; want true, \"\", optional, optional",
			*c.Media.StrictSource, c.Media.PublicIP, c.Users[0].SRTP, c.Trunks[0].SRTP)
	}
	if *c.Trunks[0].OptionsInterval != Duration(30*time.Second) {
		t.Errorf("trunk options_interval default = %v", c.Trunks[0].OptionsInterval)
	}
}

// TestErrors is the table of operator mistakes and the message each must get, with the
// file:line:column of the offending field.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // each must appear, in this order
	}{
		{"web security", "http:\n  hosts: [\"bad_host\", \"cc.example.com:99999\"]\n  public_url: ftp://x\n  trusted_proxies: [10.0.0.0/33]\n  login: {agent_failures: -1, max_hashing: -2}\nagents:\n  - {id: a, role: admin}\n",
			[]string{`c.yaml:2:11: http.hosts[0]: want a DNS name or IP address, got "bad_host"`, `c.yaml:2:23: http.hosts[1]: want a host name or host:port, got "cc.example.com:99999"`,
				`c.yaml:3:15: http.public_url: want http:// or https:// and a host, got "ftp://x"`, `c.yaml:4:21: http.trusted_proxies[0]: want an address or prefix such as 10.0.0.0/8, got "10.0.0.0/33"`,
				`c.yaml:5:27: http.login.agent_failures: want at least 1, got -1`, `c.yaml:5:44: http.login.max_hashing: want at least 1, got -2`,
				`c.yaml:7:19: agents[0].role: want agent or supervisor, got "admin"`}},
		{"browser phone", "webrtc:\n  port: 80\nusers:\n  - {extension: \"1001\", secret: a}\nagents:\n  - {id: a, extension: \"1001\", device: browser}\n  - {id: b, device: tablet}\n",
			[]string{`c.yaml:2:9: webrtc.port: want 0 (off) or a UDP port within 1024-65535, got 80`, `c.yaml:7:21: agents[1].device: want phone or browser, got "tablet"`}},
		{"browser device needs the port and an extension", "users:\n  - {extension: \"1001\", secret: a}\nagents:\n  - {id: a, extension: \"1001\", device: browser}\n",
			[]string{`agents[0].device: browser needs the browser phone on (webrtc.port)`}},
		{"browser device needs an extension", "webrtc: {port: 8443}\nagents:\n  - {id: a, device: browser}\n",
			[]string{`agents[0].device: browser needs an extension`}},
		{"wallboard thresholds", "wallboard:\n  service_level_target: 80\n  waiting_alert: -1\n",
			[]string{`c.yaml:2:25: wallboard.service_level_target: want a share between 0 and 1 such as 0.8, got 80`,
				`c.yaml:3:18: wallboard.waiting_alert: want at least 1, got -1`}},
		{"unknown top-level field", "sipp:\n  udp: []\n",
			[]string{`c.yaml:1:1: sipp: unknown field "sipp"`}},
		{"unknown nested field", "sip:\n  realm: x\n  relam: y\n",
			[]string{`c.yaml:3:3: sip.relam: unknown field "relam"`}},
		{"wrong type", "sip:\n  udp: 127.0.0.1:5060\n",
			[]string{`c.yaml:2:8: sip.udp: want a list, got "127.0.0.1:5060"`}},
		{"bad duration", "sip:\n  nonce_ttl: 300\n",
			[]string{`c.yaml:2:14: sip.nonce_ttl: want a duration such as 30s or 5m, got "300"`}},
		{"min_se below 90s", "sip:\n  min_se: 30s\n",
			[]string{`c.yaml:2:11: sip.min_se: want at least 90s (RFC 4028), got 30s`}},
		{"session_expires below min_se", "sip:\n  session_expires: 100s\n  min_se: 120s\n",
			[]string{`c.yaml:2:20: sip.session_expires: session_expires 1m40s is below min_se 2m0s`}},
		{"duplicate key", "sip:\n  realm: a\n  realm: b\n",
			[]string{`c.yaml:3:3: sip.realm: duplicate key "realm"`}},
		{"bad listen address", "sip:\n  udp: [\"127.0.0.1\"]\n",
			[]string{`c.yaml:2:9: sip.udp[0]: want host:port`}},
		{"bad public host", "sip:\n  public_host: \"203.0.113.5:5060\"\n",
			[]string{`c.yaml:2:16: sip.public_host: want a host without port, such as sip.example.com or 203.0.113.5, got "203.0.113.5:5060"`}},
		{"public host not a name", "sip:\n  public_host: \"pbx_1.example.com\"\n",
			[]string{`c.yaml:2:16: sip.public_host: want a DNS name or IP address, got "pbx_1.example.com"`}},
		{"unspecified public host", "sip:\n  public_host: \"0.0.0.0\"\n",
			[]string{`c.yaml:2:16: sip.public_host: want the address phones and carriers reach, not an unspecified one`}},
		{"advertise is now public_host", "sip:\n  advertise: 203.0.113.5\n",
			[]string{`c.yaml:2:3: sip.advertise: unknown field "advertise"`}},
		{"edge limits", "sip:\n  max_contacts: -1\n  nat_ping_interval: 1s\n  auth_lockout:\n    failures: -2\n    usernames: -1\n",
			[]string{`c.yaml:2:17: sip.max_contacts: want at least 1, got -1`, `c.yaml:3:22: sip.nat_ping_interval: want 0 (off) or at least 5s, got 1s`,
				`c.yaml:5:15: sip.auth_lockout.failures: want at least 1, got -2`, `c.yaml:6:16: sip.auth_lockout.usernames: want at least 1, got -1`}},
		{"duplicate extension and missing secret", "users:\n  - {extension: \"1001\", secret: a}\n  - {extension: \"1001\", secret: b}\n  - {extension: \"1002\"}\n",
			[]string{`c.yaml:3:17: users[1].extension: duplicate extension "1001"`, `c.yaml:4:5: users[2]: extension "1002" needs a secret`}},
		{"unset environment variable", "users:\n  - extension: \"1001\"\n    secret: ${NOT_SET_ANYWHERE}\n",
			[]string{`c.yaml:3:13: users[0].secret: environment variable NOT_SET_ANYWHERE is not set`}},
		{"bad CIDR", "trunks:\n  - name: t\n    sources: [\"10.0.0.1/8\", \"nonsense\"]\n",
			[]string{`trunks[0].sources[0]: CIDR "10.0.0.1/8" has host bits set (did you mean 10.0.0.0/8?)`, `trunks[0].sources[1]: want an IP, CIDR or IP:port, got "nonsense"`}},
		{"duplicate DID with and without +", "users:\n  - {extension: \"1001\", secret: a}\nnumbers:\n  - {did: \"+1555\", target: \"1001\"}\n  - {did: \"1555\", target: \"1001\"}\n",
			[]string{`c.yaml:5:11: numbers[1].did: duplicate number "1555" (numbers match with or without +)`}},
		{"number to unknown extension", "numbers:\n  - {did: \"1555\", target: \"1009\"}\n",
			[]string{`c.yaml:2:27: numbers[0].target: unknown extension "1009"`}},
		{"bad time zone and hours", "users:\n  - {extension: \"1\", secret: a}\nnumbers:\n  - did: \"1555\"\n    target: \"1\"\n    timezone: Europe/Pari\n    hours:\n      - days: mon-fry\n        open: [\"18:00-09:00\"]\n",
			[]string{`c.yaml:6:15: numbers[0].timezone: unknown time zone "Europe/Pari"`, `c.yaml:8:15: numbers[0].hours[0].days: unknown day "fry"`, `c.yaml:9:16: numbers[0].hours[0].open[0]: range "18:00-09:00" ends before it starts`}},
		{"holiday range backwards", "users:\n  - {extension: \"1\", secret: a}\nnumbers:\n  - did: \"1555\"\n    target: \"1\"\n    holidays:\n      - {from: 2026-08-15, to: 2026-08-01}\n",
			[]string{`c.yaml:7:9: numbers[0].holidays[0]: holiday ends before it starts`}},
		{"flow graph errors", `queues:
  - name: sales
flows:
  - name: f
    nodes:
      - {id: a, type: menu, prompt: p, choices: [{digits: "1", next: b}, {digits: "2", next: nowhere}]}
      - {id: b, type: queue, queue: nosuch}
      - {id: c, type: hangup}
      - {id: d, type: dance}
`, []string{`flows[0].nodes[0].choices[1].next: unknown node "nowhere"`, `flows[0].nodes[1].queue: unknown queue "nosuch"`,
			`flows[0].nodes[2]: node "c" cannot be reached from "a"`, `flows[0].nodes[3].type: unknown node type "dance"`}},
		{"waiting callers", `queues:
  - name: q
flows:
  - name: f
    nodes:
      - id: a
        type: queue
        queue: q
        announce: true
        announce_every: 5s
        callback: {digit: "12", number: typed, retries: 11, retry_after: 1s, preview: 5m}
        voicemail: {digit: "12", max_length: 20m}
      - {id: b, type: hangup, callback: {digit: "1"}}
callback:
  allowed: ["1x"]
  denied: ["+"]
`, []string{`c.yaml:10:25: flows[0].nodes[0].announce_every: want at least 10s, got 5s`,
			`c.yaml:11:27: flows[0].nodes[0].callback.digit: want one key (0-9, * or #), got "12"`,
			`c.yaml:11:41: flows[0].nodes[0].callback.number: want presented or keyed, got "typed"`,
			`c.yaml:11:57: flows[0].nodes[0].callback.retries: want 0 to 10, got 11`,
			`c.yaml:11:74: flows[0].nodes[0].callback.retry_after: want at least 10s, got 1s`,
			`c.yaml:11:87: flows[0].nodes[0].callback.preview: want 1s to 2m, got 5m0s`,
			`c.yaml:12:28: flows[0].nodes[0].voicemail.digit: want one key (0-9, * or #), got "12"`,
			`c.yaml:12:28: flows[0].nodes[0].voicemail.digit: key "12" already accepts the callback`,
			`c.yaml:12:46: flows[0].nodes[0].voicemail.max_length: want 1s to 10m, got 20m0s`,
			`c.yaml:13:9: flows[0].nodes[1]: callback, voicemail and announce_every are for queue nodes`,
			`c.yaml:15:13: callback.allowed[0]: want a number prefix`,
			`c.yaml:16:12: callback.denied[0]: want a number prefix`}},
		{"media bound everywhere without a public address", "media:\n  ip: 0.0.0.0\n",
			[]string{`c.yaml:2:7: media.ip: 0.0.0.0 binds every interface: set media.public_ip`}},
		{"bad public address", "media:\n  public_ip: media.example.com\n",
			[]string{`c.yaml:2:14: media.public_ip: want an IP address, got "media.example.com"`}},
		{"public address of the other family", "media:\n  ip: 127.0.0.1\n  public_ip: \"2001:db8::7\"\n",
			[]string{`c.yaml:3:14: media.public_ip: 2001:db8::7 and media.ip 127.0.0.1 are not the same address family`}},
		{"unspecified public address", "media:\n  ip: 0.0.0.0\n  public_ip: 0.0.0.0\n",
			[]string{`c.yaml:3:14: media.public_ip: want a unicast address peers can reach, got 0.0.0.0`}},
		{"bad srtp policies", "users:\n  - {extension: \"1\", secret: a, srtp: always}\ntrunks:\n  - {name: t, sources: [\"192.0.2.1\"], srtp: yes}\n",
			[]string{`c.yaml:2:39: users[0].srtp: want optional, required or off, got "always"`, `c.yaml:4:45: trunks[0].srtp: want optional, required or off, got "yes"`}},
		{"quiet loop", `flows:
  - name: f
    nodes:
      - {id: a, type: play, prompt: p, next: b}
      - {id: b, type: set, language: fr, next: a}
`, []string{`flows[0].nodes[0]: nodes from "a" back to it form a loop that never waits for the caller`}},
		{"skills, queues and agents", `skills:
  - {name: language, type: enum, values: [en, fr]}
  - {name: sales, type: proficiency}
queues:
  - name: q
    requirements: ["language == de", "sales >= 11", "vip"]
    overflow: q
agents:
  - {id: a1, extension: "77", skills: {sales: "12"}, queues: [nope], capacity: {fax: 1}}
`, []string{`queues[0].requirements[0]: skill language is one of en, fr, got "de"`, `queues[0].requirements[1]: skill sales is a proficiency from 0 to 10`,
			`queues[0].requirements[2]: unknown skill "vip"`, `queues[0].overflow: unknown queue "q"`,
			`agents[0].extension: unknown extension "77"`}},
		{"channel key typo", "channels:\n  whatsapp:\n    app_secret: s\n    token: t\n    verify_tokn: v\n",
			[]string{`c.yaml:5:5: channels.whatsapp.verify_tokn: unknown field "verify_tokn" (known: queue, entry, greeting, priority, max_attachment_bytes, attachment_types, app_secret, verify_token, token, phone_number_id, graph_url, api_version)`}},
		{"unknown adapter", "channels:\n  whatsap: {}\n",
			[]string{`c.yaml:2:3: channels.whatsap: unknown field "whatsap" (known: webchat, sms, whatsapp, messenger, telegram, email)`}},
		{"channel secrets missing and unset", "channels:\n  whatsapp:\n    app_secret: ${WA_NOT_SET}\n",
			[]string{`c.yaml:3:17: channels.whatsapp.app_secret: environment variable WA_NOT_SET is not set`}},
		{"channel required keys", "channels:\n  sms: {auth_token: x}\n  telegram:\n  email: {address: a@b.c}\n",
			[]string{`c.yaml:2:8: channels.sms: account_sid is required`, `c.yaml:3:12: channels.telegram: bot_token is required`,
				`channels.telegram: secret_token is required`, `c.yaml:4:10: channels.email: smtp_relay is required`}},
		{"channel values", `queues:
  - {name: voiceonly, channels: [voice]}
users:
  - {extension: "1001", secret: s}
numbers:
  - {did: "+1555", target: "1001"}
channels:
  webchat: {queue: nosuch, origins: ["*", "ftp://x"], priority: 1000}
  whatsapp: {app_secret: s, token: t, verify_token: v, queue: voiceonly, entry: "1555", graph_url: "graph.example", api_version: "21", max_attachment_bytes: -1, attachment_types: [images]}
  email: {address: "nobody", smtp_relay: "smtp.example", listen: "localhost"}
`, []string{`c.yaml:8:20: channels.webchat.queue: unknown queue "nosuch"`,
			`c.yaml:8:38: channels.webchat.origins[0]: want an origin such as https://shop.example`,
			`c.yaml:8:43: channels.webchat.origins[1]: want an origin`, `c.yaml:8:65: channels.webchat.priority: want -100 to 100, got 1000`,
			`c.yaml:9:63: channels.whatsapp.queue: queue "voiceonly" does not take social contacts (its channels: voice)`,
			`c.yaml:9:81: channels.whatsapp.entry: number "1555" has no flow (it rings extension 1001)`,
			`c.yaml:9:100: channels.whatsapp.graph_url: want an http or https URL, got "graph.example"`,
			`c.yaml:9:130: channels.whatsapp.api_version: want a Graph API version such as v21.0, got "21"`,
			`c.yaml:9:158: channels.whatsapp.max_attachment_bytes: want a positive size in bytes, got -1`,
			`c.yaml:9:181: channels.whatsapp.attachment_types[0]: want a MIME type or prefix`,
			`c.yaml:10:20: channels.email.address: want a mail address`, `c.yaml:10:42: channels.email.smtp_relay: want host:port`,
			`c.yaml:10:66: channels.email.listen: want ip:port`}},
		{"text channel limits", `channels:
  webchat: {limits: {connections: -1, conversations_per_minute: -5, hello_timeout: 10m, pong_timeout: 1ms}}
  email: {address: a@b.example, smtp_relay: "smtp.example:25", domains: ["bad domain"], max_recipients: -1, max_connections: 5, max_connections_per_source: 10}
`, []string{`c.yaml:2:35: channels.webchat.limits.connections: want at least 1, got -1`,
			`c.yaml:2:65: channels.webchat.limits.conversations_per_minute: want at least 1, got -5`,
			`c.yaml:2:84: channels.webchat.limits.hello_timeout: want 1s to 5m0s, got 10m0s`,
			`c.yaml:2:103: channels.webchat.limits.pong_timeout: want 100ms to 5m0s, got 1ms`,
			`c.yaml:3:74: channels.email.domains[0]: want a domain name such as example.com, got "bad domain"`,
			`c.yaml:3:105: channels.email.max_recipients: want at least 1, got -1`,
			`c.yaml:3:157: channels.email.max_connections_per_source: 10 is more than max_connections (5)`}},
		{"crm and webhooks", `crm:
  lookup_url: "crm.example/lookup"
  timeout: 1m
  auth_header: "Bad Header"
webhooks:
  - {url: "https://hooks.example/a", secret: short, events: [offer, hangup], attempts: 50}
  - {url: "https://hooks.example/b"}
`, []string{`c.yaml:2:15: crm.lookup_url: want an http or https URL, got "crm.example/lookup"`,
			`c.yaml:3:12: crm.timeout: want at most 10s`, `c.yaml:4:16: crm.auth_header: want a header name`,
			`c.yaml:6:46: webhooks[0].secret: want at least 16 characters, got 5`, `c.yaml:6:69: webhooks[0].events[1]: want one of offer, accept, end, wrapup, got "hangup"`,
			`c.yaml:6:88: webhooks[0].attempts: want 1 to 20, got 50`,
			`c.yaml:7:5: webhooks[1].name: duplicate webhook "hooks.example"`, `c.yaml:7:5: webhooks[1]: secret is required`}},
	}
	cases = append(cases, limitErrorCases...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("c.yaml", []byte(tc.yaml), env(nil))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order); got:\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
			var one *Error
			if !errors.As(err, &one) || one.Pos.File != "c.yaml" {
				t.Errorf("errors.As(*Error) = %v, want a positioned error", one)
			}
		})
	}
}

func TestEnvExpansion(t *testing.T) {
	c, err := parse("c.yaml", []byte("users:\n  - {extension: \"1001\", secret: \"${S1}\"}\n"), env(map[string]string{"S1": "hunter2"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Users[0].Secret != "hunter2" {
		t.Errorf("secret = %q", c.Users[0].Secret)
	}
}

func TestFolderOfFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("10-users.yaml", "users:\n  - {extension: \"1001\", secret: a}\n")
	write("20-more.yaml", "users:\n  - {extension: \"1002\", secret: b}\n  - {extension: \"1001\", secret: c}\nsip:\n  realm: x\n")
	_, err := Load(dir)
	if w := filepath.Join(dir, "20-more.yaml") + `:3:17: users[2].extension: duplicate extension "1001"`; err == nil || !strings.Contains(err.Error(), w) {
		t.Errorf("error %v does not contain %q", err, w)
	}
	write("30-sip.yaml", "sip:\n  realm: y\n")
	_, err = Load(dir)
	if w := filepath.Join(dir, "30-sip.yaml") + `:2:3: sip.realm: already set in ` + filepath.Join(dir, "20-more.yaml") + `:5`; err == nil || !strings.Contains(err.Error(), w) {
		t.Errorf("error %v does not contain %q", err, w)
	}
}

func TestScheduleSyntax(t *testing.T) {
	days, err := ParseDays("fri-mon")
	if err != nil || days != [7]bool{true, true, false, false, false, true, true} {
		t.Errorf("fri-mon = %v, %v", days, err)
	}
	if from, to, err := ParseClockRange("00:00-24:00"); err != nil || from != 0 || to != 1440 {
		t.Errorf("whole day = %d-%d %v", from, to, err)
	}
	if d, err := ParseDate("12-25"); err != nil || d.Year != 0 || d.Month != 12 || d.Day != 25 {
		t.Errorf("yearly date = %+v %v", d, err)
	}
	if d, err := ParseDate("02-29"); err != nil || d.Day != 29 {
		t.Errorf("yearly 29 February = %+v %v", d, err)
	}
	if _, err := ParseDate("2026-02-29"); err == nil {
		t.Error("2026-02-29 accepted")
	}
}

// TestChannelsSection: a present section enables its adapter, even written without a value,
// with the defaults filled in; a missing one stays off.
func TestChannelsSection(t *testing.T) {
	c, err := parse("c.yaml", []byte("channels:\n  webchat:\n  whatsapp: {app_secret: \"${WA}\", token: t, verify_token: v}\n"), env(map[string]string{"WA": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	ch := c.Channels
	if ch.WebChat == nil || ch.WhatsApp == nil || ch.SMS != nil || ch.Messenger != nil || ch.Telegram != nil || ch.Email != nil {
		t.Fatalf("present sections = %+v", ch)
	}
	if l := ch.WebChat.Limits; l.ConversationsPerMinute != 10 || l.Connections != DefaultWebChatConnections ||
		l.HelloTimeout.D() != DefaultWebChatHelloTimeout || l.PongTimeout.D() != DefaultWebChatPongTimeout {
		t.Errorf("webchat limits = %+v", l)
	}
	w := ch.WhatsApp
	if w.AppSecret != "from-env" || w.GraphURL != DefaultGraphURL || w.APIVersion != DefaultGraphAPIVersion ||
		w.MaxAttachmentBytes != DefaultMaxAttachmentBytes || len(w.AttachmentTypes) != len(DefaultAttachmentTypes) {
		t.Errorf("whatsapp = %+v", w)
	}
	c, err = parse("c.yaml", []byte("sip:\n  realm: x\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Channels.WebChat != nil {
		t.Error("web chat enabled without its section")
	}
}
