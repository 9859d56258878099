package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join("..", "..", "configs", "ccswitch.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("channels:\n  whatsapp:\n    app_secret: s\n    token: t\n    verify_tokn: v\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("users:\n  - {extension: \"1001\", secret: s, outbund: true}\nnumbers:\n  - {did: \"+1555\", target: \"1009\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badHost := filepath.Join(dir, "badhost.yaml")
	if err := os.WriteFile(badHost, []byte("sip:\n  udp: [\"127.0.0.1:5060\", \"[::1]:5060\"]\n  public_host: \"sip.example.com:5060\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args        []string
		code        int
		out, errout string
	}{
		{[]string{"check"}, 0, "embedded demo configuration: ok", ""},
		{[]string{"check", "-config", good}, 0, good + ": ok", ""},
		{[]string{"check", "-config", bad}, 1, "", bad + `:2:36: users[0].outbund: unknown field "outbund"`},
		{[]string{"check", "-config", typo}, 1, "", typo + `:5:5: channels.whatsapp.verify_tokn: unknown field "verify_tokn" (known: `},
		{[]string{"check", "-config", filepath.Join(dir, "missing.yaml")}, 1, "", "no such file"},
		{[]string{"check", "-config", badHost}, 1, "", badHost + `:3:16: sip.public_host: want a host without port`},
	}
	for _, tc := range cases {
		var out, errout bytes.Buffer
		code := run(tc.args, &out, &errout)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errout.String(), tc.errout) {
			t.Errorf("ccswitch %v: exit %d, stdout %q, stderr %q; want exit %d, stdout ~%q, stderr ~%q",
				tc.args, code, out.String(), errout.String(), tc.code, tc.out, tc.errout)
		}
	}
}
