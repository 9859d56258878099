package sip_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/baresip"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// console sends a command line to a baresip's cons module (UDP).
func console(t *testing.T, port int, cmd string) {
	t.Helper()
	c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(cmd + "\n")); err != nil {
		t.Fatal(err)
	}
}

// TestBaresipHoldResumeAndBlindTransfer with real phones: 1001 (baresip) calls 1002 (baresip,
// auto-answer) through ccswitch with the media anchor; 1001 holds (re-INVITE sendonly, relayed:
// 1002 answers recvonly), resumes, then transfers 1002 to 1003 (baresip, auto-answer) with its
// Transfer command: a REFER that authenticates, 1003 is rung and joined to 1002, ccswitch BYEs
// 1001.
func TestBaresipHoldResumeAndBlindTransfer(t *testing.T) {
	cfg := testConfig()
	cfg.SIP.DigestAlgorithms = []string{"MD5"}
	reg := prometheus.NewRegistry()
	ts, _ := anchoredServer(t, cfg, sip.WithRegisterer(reg))
	phone := func(ext string, auto bool, extra ...string) string {
		return baresip.Write(t, baresip.Config{Extra: extra}, baresip.Account{User: ext, Password: "secret" + ext,
			Registrar: ts.addr, AutoAnswer: auto})
	}
	y := baresip.Start(t, phone("1002", true), 40*time.Second)
	tg := baresip.Start(t, phone("1003", true), 40*time.Second)
	registered(t, y, "udp")
	registered(t, tg, "udp")
	cons := testenv.FreePort(t)
	x := baresip.Start(t, phone("1001", false, "module cons.so", fmt.Sprintf("cons_listen 127.0.0.1:%d", cons)), 40*time.Second)
	registered(t, x, "udp")
	console(t, cons, "/dial 1002")
	if !x.WaitOutput("Call established", 15*time.Second) || !y.WaitOutput("Call established", 15*time.Second) {
		t.Fatalf("call not established\ncaller:\n%s\ncallee:\n%s", x.Tail(6000), y.Tail(6000))
	}
	console(t, cons, "/hold")
	if !y.WaitOutput("a=sendonly", 10*time.Second) {
		t.Fatalf("the callee got no hold re-INVITE:\n%s", y.Tail(6000))
	}
	if !x.WaitOutput("a=recvonly", 10*time.Second) {
		t.Fatalf("the caller's hold was not answered recvonly:\n%s", x.Tail(6000))
	}
	// Resumed once the callee got the re-INVITE and the caller its 200 (the caller's trace
	// shows a=sendrecv in both its offer and the answer).
	reinvites, sendrecv := strings.Count(y.Output(), "got re-INVITE"), strings.Count(x.Output(), "a=sendrecv")
	console(t, cons, "/resume")
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(y.Output(), "got re-INVITE") <= reinvites || strings.Count(x.Output(), "a=sendrecv") < sendrecv+2 {
		if time.Now().After(deadline) {
			t.Fatalf("the callee got no resume re-INVITE:\n%s", y.Tail(6000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	console(t, cons, "/transfer 1003")
	if !tg.WaitOutput("Call established", 15*time.Second) {
		t.Fatalf("the target was not connected\ncaller:\n%s\ntarget:\n%s", x.Tail(6000), tg.Tail(6000))
	}
	if !x.WaitOutput("BYE sip:", 10*time.Second) {
		t.Fatalf("the transferor got no BYE:\n%s", x.Tail(6000))
	}
	if n := metricValue(t, reg, "ccswitch_sip_transfers_total", "blind"); n != 1 {
		t.Fatalf("%v blind transfers", n)
	}
	// 1002 talks to 1003 now: three re-INVITEs reached it (hold, resume, the one joining 1003).
	if strings.Count(y.Output(), "got re-INVITE") < 3 {
		t.Errorf("1002 saw no re-INVITE joining it to 1003:\n%s", y.Tail(6000))
	}
}
