package sip_test

import (
	"fmt"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"runtime"
	"testing"
	"time"
)

// TestSIPpShutdownByesCalls: stopping the server with a call up sends BYE on both legs
// (both SIPp scenarios require it) and Run returns.
func TestSIPpShutdownByesCalls(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	port := testenv.FreePort(t)
	registerContact(t, ts, "1002", port)
	b := callee(t, "uas.xml", port)
	a := startSIPp(t, "caller", append(sippArgs("uac_auth_recvbye.xml", testenv.FreePort(t), "-key", "user", "1001",
		"-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("1002", ts.addr), "-s", "1002", "-m", "1"), ts.addr)...)
	deadline := time.Now().Add(15 * time.Second)
	for ts.ActiveCalls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("call not answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.stop()
	a.wait(t)
	b.wait(t)
}

// TestSIPpTCP: the carrier calls over TCP (trunk matched by source IP) and extension
// 2000's static contact is reached over TCP.
func TestSIPpTCP(t *testing.T) {
	cfg, _, uasPort := trunkConfig(t)
	cfg.SIP.TCP = []string{"127.0.0.1:0"}
	cfg.Trunks[0].Sources = []string{"127.0.0.1"}
	cfg.Users[len(cfg.Users)-1].Contact = fmt.Sprintf("sip:2000@127.0.0.1:%d;transport=tcp", uasPort)
	ts := startServer(t, cfg, "", md5Only)
	tcpAddr := ts.Addrs()[1].String()
	uas := startSIPp(t, "uas tcp", sippArgs("uas.xml", uasPort, "-t", "t1", "-m", "1")...)
	time.Sleep(150 * time.Millisecond)
	c := startSIPp(t, "carrier tcp", append(sippArgs("", testenv.FreePort(t), "-sn", "uac", "-t", "t1", "-s", "+15550100", "-m", "1"), tcpAddr)[2:]...)
	c.wait(t)
	uas.wait(t)
	rec := records(t, ts, 1)[0]
	if rec.Code != 200 || rec.Direction != "inbound" {
		t.Fatalf("record %+v", rec)
	}
}

// TestSIPpFailedCallsLeaveNoGoroutines: cancelled, forked and busy calls end their
// goroutines too.
func TestSIPpFailedCallsLeaveNoGoroutines(t *testing.T) {
	ts := startServer(t, testConfig(), "", md5Only)
	p1 := testenv.FreePort(t)
	p2 := testenv.FreePortExcept(t, p1)
	registerContact(t, ts, "1002", p1)
	registerContact(t, ts, "1003", p1)
	registerContact(t, ts, "1003", p2)
	time.Sleep(100 * time.Millisecond)
	base := runtime.NumGoroutine()

	b := callee(t, "uas_ring.xml", p1)
	uac(t, ts, "uac_auth_cancel.xml", "1001", "1002")
	b.wait(t)

	ans, ring := callee(t, "uas.xml", p1), callee(t, "uas_ring.xml", p2)
	uac(t, ts, "uac_auth.xml", "1001", "1003")
	ans.wait(t)
	ring.wait(t)

	busy := callee(t, "uas_busy.xml", p1)
	uac(t, ts, "uac_auth_486.xml", "1001", "1002")
	busy.wait(t)

	records(t, ts, 3)
	waitGoroutines(t, base, 2)
}
