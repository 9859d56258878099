package sip_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/internal/testpki"
)

// kamailioTLS is Kamailio 5.6 with its tls module as a carrier on 127.0.0.5 that speaks TLS
// to ccswitch both ways and verifies ccswitch's certificate both ways (mutual TLS: as a
// server it requires a client certificate from ccswitch's CA). Calls from ccswitch (over
// TLS) go on to a SIPp UAS over UDP; calls from a SIPp UAC (over UDP) go on to ccswitch over
// TLS. INVITEs are record-routed (double: UDP and TLS sides), so ccswitch's in-dialog
// requests carry Kamailio's TLS listener in their route set (sipgo #361's case).
const kamailioTLSCfg = `#!KAMAILIO
debug=1
log_stderror=yes
children=2
tcp_children=2
dns=no
rev_dns=no
auto_aliases=no
enable_tls=yes
listen=udp:127.0.0.5:{{UDP}}
listen=tls:127.0.0.5:{{TLS}}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "tls.so"
modparam("tls", "config", "{{TLSCFG}}")

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("OPTIONS") && $rU == $null) {
		sl_send_reply("200", "OK");
		exit;
	}
	if ($pr == "tls") {
		xlog("L_NOTICE", "carrier: $rm over TLS from $si:$sp\n");
	}
	if (has_totag()) {
		if (!loose_route()) {
			if ($pr == "tls") {
				$du = "sip:127.0.0.5:{{UAS}}";
			} else {
				$du = "sip:{{CCSWITCH}};transport=tls";
				force_send_socket(tls:127.0.0.5:{{TLS}});
			}
		}
		t_relay();
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	t_check_trans();
	record_route();
	if ($pr == "tls") {
		$du = "sip:127.0.0.5:{{UAS}}";
	} else {
		$du = "sip:{{CCSWITCH}};transport=tls";
		force_send_socket(tls:127.0.0.5:{{TLS}}); # connect from the carrier's address
	}
	if (!t_relay()) {
		sl_reply_error();
	}
	exit;
}
`

const kamailioTLSModCfg = `[server:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
private_key = {{KEY}}
certificate = {{CERT}}
ca_list = {{CA}}

[client:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = yes
private_key = {{KEY}}
certificate = {{CERT}}
ca_list = {{CA}}
`

type kamailio struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

func (k *kamailio) Write(b []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.log.Write(b)
}

func (k *kamailio) output() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.log.String()
}

// logged reports whether Kamailio's log shows every one of want within 5 s. Its script logs
// after it has answered (save() replies, t_relay() forwards), so the line can follow the
// event ccswitch has already seen by a moment.
func (k *kamailio) logged(want ...string) bool {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out, all := k.output(), true
		for _, w := range want {
			all = all && strings.Contains(out, w)
		}
		if all || time.Now().After(deadline) {
			return all
		}
	}
}

// startKamailioTLS runs the carrier; ccCA is the CA it trusts for ccswitch, ccswitchAddr
// ccswitch's TLS listener. It returns when Kamailio answers OPTIONS on its UDP port.
func startKamailioTLS(t testing.TB, udpPort, tlsPort, uasPort int, ccswitchAddr string, ccCA *testpki.CA) (*kamailio, *testpki.CA) {
	t.Helper()
	bin := testenv.Tool(t, "kamailio")
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so"); err != nil {
		if testenv.CI() {
			t.Fatal("Kamailio's tls module is missing: CI must install Debian package kamailio-tls-modules")
		}
		t.Skip("SKIPPED: Kamailio's tls module is missing; apt-get install -y kamailio-tls-modules")
	}
	carrierCA := testpki.NewCA(t, "carrier")
	cert, key := carrierCA.Issue(t, "kamailio", "127.0.0.5")
	dir := t.TempDir()
	r := strings.NewReplacer("{{UDP}}", fmt.Sprint(udpPort), "{{TLS}}", fmt.Sprint(tlsPort), "{{UAS}}", fmt.Sprint(uasPort),
		"{{CCSWITCH}}", ccswitchAddr, "{{TLSCFG}}", filepath.Join(dir, "tls.cfg"), "{{KEY}}", key, "{{CERT}}", cert, "{{CA}}", ccCA.File)
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(r.Replace(kamailioTLSCfg)), 0o644)
	os.WriteFile(filepath.Join(dir, "tls.cfg"), []byte(r.Replace(kamailioTLSModCfg)), 0o644)
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	k := &kamailio{done: make(chan struct{})}
	k.cmd = exec.Command(bin, "-f", filepath.Join(dir, "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8",
		"-P", filepath.Join(dir, "run", "kamailio.pid"), "-Y", filepath.Join(dir, "run"), "-w", dir)
	k.cmd.Stdout, k.cmd.Stderr = k, k
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers share our child's group
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.cmd.Wait(); close(k.done) }()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kamailio:\n%s", tail(k.output(), 4000))
		}
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-k.cmd.Process.Pid, syscall.SIGKILL)
			<-k.done
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if answersOptions(fmt.Sprintf("127.0.0.5:%d", udpPort)) {
			return k, carrierCA
		}
		select {
		case <-k.done:
			t.Fatalf("kamailio exited:\n%s", tail(k.output(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio not answering OPTIONS:\n%s", tail(k.output(), 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sippOn runs SIPp bound to ip (the carrier's side lives on 127.0.0.5).
func sippOn(t testing.TB, name, ip string, port int, args ...string) *sippRun {
	t.Helper()
	return startSIPp(t, name, append([]string{"-i", ip, "-p", fmt.Sprint(port), "-nostdin", "-timeout", "40s", "-timeout_error"}, args...)...)
}

// TestKamailioTLSCarrier: a carrier trunk over TLS with Kamailio's tls module, mutual and
// verified both ways. An extension's call goes out over TLS (ccswitch verifies Kamailio
// against the trunk's tls_ca and presents its own certificate); a carrier call comes in over
// TLS to a DID (Kamailio verifies ccswitch); with the wrong CA on the trunk the outbound
// handshake is refused, counted, and the caller gets 480 — Kamailio never sees the INVITE.
func TestKamailioTLSCarrier(t *testing.T) {
	cfg, ccCA, _, _ := tlsConfig(t, "127.0.0.1")
	kUDP, kTLS, kUAS, uas2000 := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	k, carrierCA := startKamailioTLS(t, kUDP, kTLS, kUAS, cfg.SIP.TLS.Listen[0], ccCA)
	off := config.Duration(0)
	cfg.Trunks = []config.Trunk{{Name: "carrier", Sources: []string{"127.0.0.5"}, Outbound: fmt.Sprintf("sip:127.0.0.5:%d", kTLS),
		Transport: "tls", TLSCA: carrierCA.File, RequireTLS: true, OptionsInterval: &off, Media: "anchor"}}
	cfg.Users = append(cfg.Users, config.User{Extension: "2000", Secret: "secret2000", Contact: fmt.Sprintf("sip:2000@127.0.0.1:%d", uas2000)})
	cfg.Numbers = []config.Number{{DID: "+15550100", Target: "2000"}}
	r := startTLS(t, cfg, ccCA, md5Only)

	t.Run("outbound", func(t *testing.T) {
		uas := sippOn(t, "carrier's UAS", "127.0.0.5", kUAS, "-sf", filepath.Join("testdata", "uas.xml"), "-m", "1")
		time.Sleep(100 * time.Millisecond)
		uac := startSIPp(t, "1001", append(sippArgs("uac_auth.xml", testenv.FreePort(t), "-key", "user", "1001", "-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("+4712345678", r.udp), "-s", "+4712345678", "-m", "1"), r.udp)...)
		uac.wait(t)
		uas.wait(t)
		rec := records(t, r.testServer, 1)[0]
		if rec.Code != 200 || rec.Trunk != "carrier" || rec.Direction != "outbound" {
			t.Fatalf("record %+v", rec)
		}
		if !k.logged("carrier: INVITE over TLS", "carrier: BYE over TLS") {
			t.Errorf("kamailio did not get INVITE and BYE over TLS:\n%s", tail(k.output(), 3000))
		}
	})

	t.Run("inbound", func(t *testing.T) {
		uas := startSIPp(t, "2000", sippArgs("uas_bye.xml", uas2000, "-m", "1")...)
		time.Sleep(100 * time.Millisecond)
		// 2000 hangs up: ccswitch's BYE to the carrier follows the route set Kamailio recorded
		// (its TLS listener), over the connection the INVITE came on.
		uac := sippOn(t, "carrier's UAC", "127.0.0.5", testenv.FreePort(t), "-sf", filepath.Join("testdata", "uac_recvbye.xml"), "-key", "user", "+4799999999", "-s", "+15550100", "-m", "1", fmt.Sprintf("127.0.0.5:%d", kUDP))
		uas.wait(t)
		uac.wait(t)
		recs := records(t, r.testServer, 2)
		var in bool
		for _, rec := range recs {
			if rec.Direction == "inbound" && rec.Code == 200 && rec.Trunk == "carrier" {
				in = true
			}
		}
		if !in {
			t.Fatalf("no answered inbound call from the carrier: %+v", recs)
		}
		// Over the connection Kamailio opened, ccswitch's end is its listener: a BYE on a new
		// connection to Kamailio's listener would come from an ephemeral port instead.
		if want := "carrier: BYE over TLS from " + r.tls; !k.logged(want) {
			t.Errorf("ccswitch's BYE did not reuse the carrier's connection (want %q):\n%s", want, tail(k.output(), 3000))
		}
	})

	t.Run("wrong CA refused", func(t *testing.T) {
		other := testpki.NewCA(t, "not-the-carrier")
		next := *cfg
		next.Trunks = append([]config.Trunk(nil), cfg.Trunks...)
		next.Trunks[0].TLSCA = other.File
		r.Reload(&next)
		invites := strings.Count(k.output(), "carrier: INVITE over TLS")
		before := r.metric(t, "ccswitch_sip_tls_verify_failures_total", "trunk", "carrier")
		// The reload closes the connection verified under the old CA: the call dials anew.
		uac := startSIPp(t, "1001", append(sippArgs("uac_auth_480.xml", testenv.FreePort(t), "-key", "user", "1001", "-au", "1001", "-ap", "secret1001", "-auth_uri", authURI("+4712345679", r.udp), "-s", "+4712345679", "-m", "1"), r.udp)...)
		uac.wait(t)
		if got := r.metric(t, "ccswitch_sip_tls_verify_failures_total", "trunk", "carrier"); got <= before {
			t.Errorf("verify failures %v → %v: the refusal was not counted", before, got)
		}
		if n := strings.Count(k.output(), "carrier: INVITE over TLS"); n != invites {
			t.Errorf("kamailio got an INVITE through a connection ccswitch should have refused")
		}
	})
}

// answersOptions reports whether addr answers an OPTIONS over UDP with 200 within 500 ms.
func answersOptions(addr string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	msg := strings.ReplaceAll(options("UDP", "sip:"+addr, "probe.invalid"), "probe.invalid", c.LocalAddr().String())
	c.Write([]byte(msg))
	c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200")
}
