package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWhatsAppFromYAML runs the real binary with WhatsApp configured only in the YAML, its
// secrets as ${ENV}: the webhook answers the subscription challenge and takes a signed
// message; a SIGHUP that changes the app secret takes effect without a restart (the old
// signature is refused, the new one taken), and a typo in a channel key is refused with its
// file:line:col while the running configuration is kept.
func TestWhatsAppFromYAML(t *testing.T) {
	dir := t.TempDir()
	bin := buildBinary(t)
	demo, _, httpPort, _ := demoOnFreePorts(t)
	section := func(secretVar string) string {
		return demo + `  whatsapp:
    app_secret: "${` + secretVar + `}"
    verify_token: "${TEST_WA_VERIFY}"
    token: "${TEST_WA_TOKEN}"
    graph_url: "http://127.0.0.1:1"
    queue: support
`
	}
	cfgPath := filepath.Join(dir, "ccswitch.yaml")
	if err := os.WriteFile(cfgPath, []byte(section("TEST_WA_SECRET")), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "-config", cfgPath, "-data", filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "TEST_WA_SECRET=first-app-secret", "TEST_WA_SECRET_NEXT=second-app-secret",
		"TEST_WA_VERIFY=verify-me", "TEST_WA_TOKEN=graph-token")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("ccswitch output:\n%s", logs.String())
		}
	}()
	waitFor(t, "ccswitch ready", func() bool { return strings.Contains(logs.String(), "ccswitch ready") })
	base := fmt.Sprintf("http://127.0.0.1:%d/webhooks/whatsapp", httpPort)

	get := func(token string) (int, string) {
		res, err := http.Get(base + "?hub.mode=subscribe&hub.verify_token=" + token + "&hub.challenge=1158201444")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("verify-me"); code != 200 || body != "1158201444" {
		t.Fatalf("challenge with the configured token: %d %q", code, body)
	}
	if code, _ := get("wrong"); code != 403 {
		t.Errorf("challenge with a wrong token: %d, want 403", code)
	}

	n := 0
	post := func(secret string) int {
		n++
		body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{` +
			`"messaging_product":"whatsapp","metadata":{"phone_number_id":"PN1"},"contacts":[{"profile":{"name":"Ana"},"wa_id":"15550007777"}],` +
			`"messages":[{"from":"15550007777","id":"wamid.T` + strconv.Itoa(n) + `","timestamp":"` + strconv.FormatInt(time.Now().Unix(), 10) +
			`","type":"text","text":{"body":"hello ` + strconv.Itoa(n) + `"}}]}}]}]}`)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req, _ := http.NewRequest("POST", base, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("first-app-secret"); code != 200 {
		t.Fatalf("signed message: %d, want 200", code)
	}
	if code := post("second-app-secret"); code != 401 {
		t.Fatalf("message signed with another secret: %d, want 401", code)
	}

	// The secret changes on SIGHUP: the new one is taken at once, the old one refused.
	if err := os.WriteFile(cfgPath, []byte(section("TEST_WA_SECRET_NEXT")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload", func() bool { return strings.Contains(logs.String(), "configuration reloaded") })
	if !strings.Contains(logs.String(), "channel adapter rebuilt") {
		t.Errorf("no rebuild of the whatsapp adapter in the log")
	}
	if code := post("second-app-secret"); code != 200 {
		t.Errorf("message signed with the new secret after SIGHUP: %d, want 200", code)
	}
	if code := post("first-app-secret"); code != 401 {
		t.Errorf("message signed with the old secret after SIGHUP: %d, want 401", code)
	}

	// A typo in a channel key is refused with its place; the running configuration stays.
	typo := strings.Replace(section("TEST_WA_SECRET_NEXT"), "\n    verify_token:", "\n    verify_tokn:", 1)
	if err := os.WriteFile(cfgPath, []byte(typo), 0o644); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(typo[:strings.Index(typo, "verify_tokn")], "\n")
	cmd.Process.Signal(syscall.SIGHUP)
	want := fmt.Sprintf(`ccswitch.yaml:%d:5: channels.whatsapp.verify_tokn: unknown field \"verify_tokn\"`, line)
	waitFor(t, "refusal naming the typo", func() bool { return strings.Contains(logs.String(), want) })
	if code := post("second-app-secret"); code != 200 {
		t.Errorf("after a refused reload: %d, want 200", code)
	}
	if code, _ := get("verify-me"); code != 200 {
		t.Errorf("challenge after a refused reload: %d", code)
	}
}
