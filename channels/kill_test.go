package channels_test

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ccswitch/ccswitch/channels"
	"github.com/ccswitch/ccswitch/channels/chantest"
	"github.com/ccswitch/ccswitch/channels/whatsapp"
	"github.com/ccswitch/ccswitch/store"
)

const killSecret = "kill-test-secret"

var killCfg = channels.WhatsApp{Route: channels.Route{Enabled: true}, AppSecret: killSecret, Token: "t",
	GraphURL: "http://127.0.0.1:1"} // replies are not part of this test

// TestKill9LosesNothing runs the WhatsApp webhook in a child process (this test binary again),
// posts messages until each is acknowledged, kills the child with SIGKILL, and checks that a
// new process finds every acknowledged message and offers every waiting conversation.
func TestKill9LosesNothing(t *testing.T) {
	if dir := os.Getenv("CCSWITCH_KILL9_CHILD"); dir != "" {
		env := chantest.NewAt(t, dir, channels.Config{WhatsApp: killCfg})
		hook := httptest.NewServer(whatsapp.New(killCfg, env.Service, nil))
		fmt.Printf("URL %s\n", hook.URL)
		select {} // until killed
	}
	if testing.Short() {
		t.Skip("re-execs the test binary")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9LosesNothing$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CCSWITCH_KILL9_CHILD="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	sc := bufio.NewScanner(out)
	var url string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			url = u
			break
		}
	}
	if url == "" {
		t.Fatal("child printed no URL")
	}
	type sent struct{ from, id, text string }
	var acked []sent
	for i := range 12 {
		m := sent{from: fmt.Sprintf("3361234%04d", i%4), id: fmt.Sprintf("wamid.k%d", i), text: fmt.Sprintf("message %d", i)}
		body := fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"PN"},"contacts":[{"profile":{"name":"K"},"wa_id":%q}],"messages":[{"from":%q,"id":%q,"timestamp":"1764000000","type":"text","text":{"body":%q}}]}}]}]}`, m.from, m.from, m.id, m.text)
		mac := hmac.New(sha256.New, []byte(killSecret))
		mac.Write(body)
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("webhook %d: %d", i, resp.StatusCode)
		}
		acked = append(acked, m)
	}
	// SIGKILL: no Close, no flush.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	env := chantest.NewAt(t, dir, channels.Config{WhatsApp: killCfg})
	convs, err := env.Store.Conversations("")
	if err != nil {
		t.Fatal(err)
	}
	if len(convs) != 4 {
		t.Fatalf("%d conversations after kill -9, want 4", len(convs))
	}
	got := map[string]bool{}
	for _, c := range convs {
		if c.State != store.ConvQueued {
			t.Errorf("conversation %s is %s after restart, want queued", c.ID, c.State)
		}
		_, ms, _ := env.Service.Conversation(c.ID, 0)
		for _, m := range ms {
			got[c.Address+"/"+m.ProviderID+"/"+m.Text] = true
		}
	}
	for _, m := range acked {
		if !got[m.from+"/"+m.id+"/"+m.text] {
			t.Errorf("acknowledged message %+v lost", m)
		}
	}
	// Every waiting conversation is back in its queue: two agents with capacity 2 each take all four.
	env.Login(t, "alice")
	env.Login(t, "bob")
	chantest.Eventually(t, "all four conversations offered", func() bool {
		return len(env.Service.Offers("alice"))+len(env.Service.Offers("bob")) == 4
	})
}
