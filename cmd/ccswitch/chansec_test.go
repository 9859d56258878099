package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// TestTextChannelLimitsFromYAML runs the real binary with channels.webchat.limits and the
// SMTP bounds written in the YAML: a third new chat from one address within the minute is
// refused, the SMTP listener refuses to relay and answers an oversize mail with 552, and
// each refusal is on /metrics (ccswitch_channels_refused_total).
func TestTextChannelLimitsFromYAML(t *testing.T) {
	dir := t.TempDir()
	bin := buildBinary(t)
	demo, _, httpPort, _ := demoOnFreePorts(t)
	smtpPort := testenv.FreePort(t)
	demo = strings.Replace(demo, "channels:\n  webchat:\n", fmt.Sprintf(`channels:
  webchat:
    limits: {conversations_per_minute: 2}
  email:
    address: help@support.example
    smtp_relay: "127.0.0.1:1"
    listen: "127.0.0.1:%d"
    max_bytes: 2000
`, smtpPort), 1)
	cfgPath := filepath.Join(dir, "ccswitch.yaml")
	if err := os.WriteFile(cfgPath, []byte(demo), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "-config", cfgPath, "-data", filepath.Join(dir, "data"))
	cmd.Stdout, cmd.Stderr = &logs, &logs
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

	// Three visitors from 127.0.0.1, each starting a conversation.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var answers []string
	for i := range 3 {
		c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/chat/ws", httpPort), nil)
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := wsjson.Write(ctx, c, map[string]any{"t": "hello"}); err != nil {
			t.Fatal(err)
		}
		wsjson.Read(ctx, c, &f) // welcome
		wsjson.Write(ctx, c, map[string]any{"t": "msg", "cid": fmt.Sprint(i), "text": "hi"})
		if err := wsjson.Read(ctx, c, &f); err != nil {
			t.Fatal(err)
		}
		answers = append(answers, fmt.Sprint(f["t"]))
		c.CloseNow()
	}
	if strings.Join(answers, ",") != "ack,ack,error" {
		t.Fatalf("three new chats from one address: %v, want ack,ack,error", answers)
	}

	// SMTP: a relay attempt and an oversize mail.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", smtpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(conn)
	reply := func() string {
		var last string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("smtp read: %v", err)
			}
			last = line
			if len(line) < 4 || line[3] != '-' {
				return last[:3]
			}
		}
	}
	cmdLine := func(l string) string {
		io.WriteString(conn, l+"\r\n")
		return reply()
	}
	reply() // 220
	var got []string
	for _, l := range []string{"EHLO attacker", "MAIL FROM:<a@evil.example>", "RCPT TO:<victim@elsewhere.example>",
		"RCPT TO:<help@support.example>", "DATA"} {
		got = append(got, cmdLine(l))
	}
	io.WriteString(conn, "Subject: big\r\n\r\n"+strings.Repeat("x", 3000)+"\r\n.\r\n")
	got = append(got, reply(), cmdLine("QUIT"))
	if strings.Join(got, ",") != "250,250,550,250,354,552,221" {
		t.Fatalf("smtp answers %v", got)
	}

	res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`ccswitch_channels_refused_total{adapter="webchat",reason="conversations"} 1`,
		`ccswitch_channels_refused_total{adapter="email",reason="relay"} 1`,
		`ccswitch_channels_refused_total{adapter="email",reason="too_large"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
