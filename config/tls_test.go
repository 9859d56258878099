package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testpki"
)

// TestTLSErrors: what `ccswitch check` says about sip.tls, sip.connections and the TLS fields
// of users and trunks, each with file:line:col and field path. Files are relative to the
// config file's folder.
func TestTLSErrors(t *testing.T) {
	ca := testpki.NewCA(t, "check")
	cert, key := ca.Issue(t, "sip", "127.0.0.1")
	_, otherKey := ca.Issue(t, "other", "127.0.0.1")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "relative-cert.pem"), mustRead(t, cert), 0o644)
	os.WriteFile(filepath.Join(dir, "relative-key.pem"), mustRead(t, key), 0o600)

	cases := []struct {
		name, yaml string
		want       []string // each must appear, in this order; none: the config is valid
	}{
		{"valid files, relative to the config", "sip:\n  tls:\n    listen: [\"0.0.0.0:5061\"]\n    cert: relative-cert.pem\n    key: relative-key.pem\n", nil},
		{"self-signed on loopback", "sip:\n  tls:\n    listen: [\"127.0.0.1:5061\", \"[::1]:5061\"]\n", nil},
		{"missing file", "sip:\n  tls:\n    listen: [\"127.0.0.1:5061\"]\n    cert: nowhere.pem\n    key: " + key + "\n",
			[]string{`c.yaml:4:11: sip.tls.cert: cannot read certificate: open ` + filepath.Join(dir, "nowhere.pem")}},
		{"bad PEM", "sip:\n  tls:\n    listen: [\"127.0.0.1:5061\"]\n    cert: " + garbage + "\n    key: " + key + "\n",
			[]string{`c.yaml:4:11: sip.tls.cert: ` + garbage + `: no PEM CERTIFICATE block`}},
		{"key of another certificate", "sip:\n  tls:\n    listen: [\"127.0.0.1:5061\"]\n    cert: " + cert + "\n    key: " + otherKey + "\n",
			[]string{`c.yaml:4:11: sip.tls.cert: key ` + otherKey + ` does not match certificate ` + cert}},
		{"cert without key", "sip:\n  tls:\n    listen: [\"127.0.0.1:5061\"]\n    cert: " + cert + "\n",
			[]string{`c.yaml:3:5: sip.tls: cert and key go together`}},
		{"self-signed on a public address", "sip:\n  tls:\n    listen: [\"0.0.0.0:5061\"]\n",
			[]string{`c.yaml:3:14: sip.tls.listen[0]: "0.0.0.0:5061" is not loopback: give sip.tls.cert and sip.tls.key`}},
		{"same port as TCP", "sip:\n  tcp: [\"127.0.0.1:5060\"]\n  tls:\n    listen: [\"127.0.0.1:5060\"]\n",
			[]string{`c.yaml:4:14: sip.tls.listen[0]: "127.0.0.1:5060" is also a sip.tcp address`}},
		{"bad listen address", "sip:\n  tls:\n    listen: [\"5061\"]\n",
			[]string{`c.yaml:3:14: sip.tls.listen[0]: want host:port`}},
		{"negative bounds", "sip:\n  connections:\n    max_per_source: -1\n    idle_timeout: -5s\n",
			[]string{`c.yaml:4:19: sip.connections.idle_timeout: want a duration such as 30s or 5m, got "-5s"`}},
		{"negative cap", "sip:\n  connections:\n    max_per_source: -1\n",
			[]string{`c.yaml:3:21: sip.connections.max_per_source: want a positive number, got -1`}},
		{"extension requires TLS without a listener", "users:\n  - {extension: \"1001\", secret: s, require_tls: true}\n",
			[]string{`users[0].require_tls: extension "1001" requires TLS but sip.tls.listen is empty`}},
		{"extension requiring TLS with a plain static contact", "sip:\n  tls:\n    listen: [\"127.0.0.1:5061\"]\nusers:\n  - {extension: \"2000\", contact: \"sip:2000@127.0.0.1:5090\", require_tls: true}\n",
			[]string{`c.yaml:5:34: users[0].contact: extension "2000" requires TLS: its static contact must be sips: or carry transport=tls`}},
		{"sips trunk over udp", "trunks:\n  - {name: c, outbound: \"sips:127.0.0.1:5061\", transport: udp}\n",
			[]string{`c.yaml:2:59: trunks[0].transport: a sips: destination is reached over TLS only, got transport "udp"`}},
		{"trunk requires TLS over tcp", "trunks:\n  - {name: c, outbound: \"sip:127.0.0.1:5061\", transport: tcp, require_tls: true}\n",
			[]string{`trunks[0].transport: trunk "c" requires TLS: want transport tls, got "tcp"`}},
		{"trunk CA unreadable and for udp", "trunks:\n  - {name: c, outbound: \"sip:127.0.0.1:5061\", tls_ca: " + garbage + "}\n",
			[]string{`trunks[0].tls_ca: tls_ca is for transport tls, got "udp"`, `trunks[0].tls_ca: ` + garbage + `: no PEM CERTIFICATE in it`}},
		{"unknown transport", "trunks:\n  - {name: c, outbound: \"sip:127.0.0.1:5061\", transport: sctp}\n",
			[]string{`trunks[0].transport: want udp, tcp or tls, got "sctp"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "c.yaml")
			os.WriteFile(path, []byte(tc.yaml), 0o644)
			_, err := Load(path)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("want valid, got:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			msg := strings.ReplaceAll(err.Error(), path, "c.yaml")
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order); got:\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// TestTLSDefaults: the stream transports' bounds and a sips: trunk's transport.
func TestTLSDefaults(t *testing.T) {
	c, err := parse("c.yaml", []byte("trunks:\n  - {name: c, outbound: \"sips:carrier.example:5061\"}\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Trunks[0].Transport != "tls" {
		t.Errorf("sips trunk transport = %q, want tls", c.Trunks[0].Transport)
	}
	if c.SIP.TLS.HandshakeTimeout.D() != 10*time.Second || c.SIP.Connections.MaxPerSource != 100 || c.SIP.Connections.IdleTimeout.D() != time.Minute {
		t.Errorf("defaults: %+v %+v", c.SIP.TLS, c.SIP.Connections)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
