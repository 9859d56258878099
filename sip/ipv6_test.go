package sip_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	gsip "github.com/ccswitch/ccswitch/sip/sipgo/sip"
)

// dualStack is the test config listening on UDP 127.0.0.1 and [::1].
func dualStack(t *testing.T, public string) (*testServer, string, string) {
	t.Helper()
	cfg := testConfig()
	cfg.SIP.UDP = []string{"127.0.0.1:0", "[::1]:0"}
	cfg.SIP.PublicHost = public
	ts := startServer(t, cfg, "", md5Only)
	addrs := ts.Addrs()
	if len(addrs) != 2 {
		t.Fatalf("listening on %v, want two UDP addresses", addrs)
	}
	return ts, addrs[0].String(), addrs[1].String()
}

// TestSIPpIPv6Listener: an IPv6 UDP listener works as the IPv4 one does. A SIPp phone
// registers 1002 over IPv6 from [::1]; a SIPp caller on IPv4 calls it: the INVITE leaves from
// the IPv6 listener to the phone's flow, and the call is answered, ACKed and hung up. An
// OPTIONS over IPv6 is answered, and a Via naming our IPv6 address is a loop.
func TestSIPpIPv6Listener(t *testing.T) {
	ts, v4, v6 := dualStack(t, "")
	phone := testenv.FreePort(t)
	startSIPp(t, "register over IPv6", "-sf", "testdata/register_any.xml", "-i", "::1", "-p", fmt.Sprint(phone),
		"-nostdin", "-timeout", "20s", "-timeout_error", "-key", "user", "1002", "-key", "ruri", "sip:"+v6,
		"-key", "contact", fmt.Sprintf("<sip:1002@[::1]:%d>", phone), "-au", "1002", "-ap", "secret1002", "-auth_uri", v6, "-m", "1", v6).wait(t)
	got := ts.Registrar().Lookup("1002")
	if len(got) != 1 || got[0].Dest != fmt.Sprintf("[::1]:%d", phone) || got[0].NAT {
		t.Fatalf("IPv6 binding %+v", got)
	}
	uas := startSIPp(t, "phone over IPv6", "-sf", "testdata/uas.xml", "-i", "::1", "-p", fmt.Sprint(phone),
		"-nostdin", "-timeout", "20s", "-timeout_error", "-m", "1")
	time.Sleep(100 * time.Millisecond)
	startSIPp(t, "caller over IPv4", append(sippArgs("uac_auth.xml", testenv.FreePort(t), "-key", "user", "1001",
		"-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("1002", v4), "-s", "1002", "-m", "1"), v4)...).wait(t)
	uas.wait(t)
	if rec := records(t, ts, 1)[0]; rec.Code != 200 || rec.Cause != "caller-bye" {
		t.Fatalf("record %+v", rec)
	}
	opts := strings.NewReplacer("127.0.0.1:1", "[::1]:1", "sip:ccswitch@127.0.0.1", "sip:ccswitch@"+v6).Replace(optionsTo)
	if got := exchange(t, v6, []byte(opts), false); got != 200 {
		t.Fatalf("OPTIONS over IPv6: %d", got)
	}
	loop := strings.Replace(opts, "Max-Forwards", "Via: SIP/2.0/UDP "+v6+";branch=z9hG4bK-loop\r\nMax-Forwards", 1)
	if got := exchange(t, v6, []byte(loop), false); got != 482 {
		t.Fatalf("a Via with our IPv6 address: %d, want 482", got)
	}
}

// TestPublicHost: sip.public_host (an IPv4 address) is written in the Via and Contact of
// what ccswitch sends from its IPv4 listener; the IPv6 listener keeps its own address (a
// public_host of the other family does not apply); a Via naming the public host is a loop.
func TestPublicHost(t *testing.T) {
	ts, v4, v6 := dualStack(t, "203.0.113.5")
	for _, tc := range []struct {
		ext, listener, local, host string
	}{
		{"1002", v4, "127.0.0.1:0", "203.0.113.5"},
		{"1003", v6, "[::1]:0", "[::1]"},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			la, _ := net.ResolveUDPAddr("udp", tc.local)
			conn, err := net.ListenUDP("udp", la)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			srv, _ := net.ResolveUDPAddr("udp", tc.listener)
			p := &phone{t: t, conn: conn, srv: srv}
			p.register(tc.ext, "secret"+tc.ext, "sip:"+tc.ext+"@"+conn.LocalAddr().String())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := ts.Dial(ctx, sip.DialRequest{Extension: tc.ext, CallerID: "1001", Timeout: 5 * time.Second})
				errc <- err
			}()
			inv, ok := p.read().(*gsip.Request)
			if !ok || !inv.IsInvite() {
				t.Fatalf("expected an INVITE, got %v", inv)
			}
			_, port, _ := net.SplitHostPort(tc.listener)
			want := tc.host + ":" + port
			if via := inv.Via(); bracketed(via.Host)+":"+strconv.Itoa(via.Port) != want {
				t.Errorf("Via sent-by %s:%d, want %s", via.Host, via.Port, want)
			}
			if c := inv.Contact(); c == nil || c.Address.HostPort() != want {
				t.Errorf("Contact %v, want host:port %s", c, want)
			}
			p.send([]byte(gsip.NewResponseFromRequest(inv, 486, "Busy Here", nil).String()))
			if ack, ok := p.read().(*gsip.Request); !ok || !ack.IsAck() {
				t.Fatalf("expected the ACK of the 486, got %v", ack)
			}
			if err := <-errc; err == nil {
				t.Fatal("Dial answered although the phone was busy")
			}
		})
	}
	opts := strings.Replace(optionsTo, "Max-Forwards", "Via: SIP/2.0/UDP 203.0.113.5:"+strings.Split(v4, ":")[1]+";branch=z9hG4bK-loop\r\nMax-Forwards", 1)
	if got := exchange(t, v4, []byte(opts), false); got != 482 {
		t.Fatalf("a Via with our public host: %d, want 482", got)
	}
}

func bracketed(h string) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		return "[" + h + "]"
	}
	return h
}
