package sip_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/sip"
	"github.com/prometheus/client_golang/prometheus"
)

// kamailioRegCfg is Kamailio as a carrier with its registrar, usrloc (in memory) and auth
// modules on 127.0.0.6: ccswitch registers as ccsw/pw123 (digest, realm carrier.test); calls
// from the PSTN side (a SIPp UAC on 127.0.0.6) to ccsw are looked up in the location table
// and sent to ccswitch's registered contact; calls from ccswitch must answer a 407 and go on
// to a SIPp UAS on 127.0.0.6.
const kamailioRegCfg = `#!KAMAILIO
debug=2
log_stderror=yes
children=2
dns=no
rev_dns=no
auto_aliases=no
listen=udp:127.0.0.6:{{UDP}}

loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "maxfwd.so"
loadmodule "siputils.so"
loadmodule "textops.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (is_method("OPTIONS") && $rU == $null) {
		sl_send_reply("200", "OK");
		exit;
	}
	if (is_method("REGISTER")) {
		if (!pv_www_authenticate("carrier.test", "pw123", "0")) {
			www_challenge("carrier.test", "0");
			exit;
		}
		if ($au != "ccsw" || $tU != "ccsw") {
			sl_send_reply("403", "Forbidden");
			exit;
		}
		if (!save("location")) {
			sl_reply_error();
		}
		xlog("L_NOTICE", "carrier: registered $tU at $ct expires $hdr(Expires)\n");
		exit;
	}
	if (has_totag()) {
		loose_route();
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
	if ($si == "127.0.0.6") {
		# from the PSTN side: to our customer's registration
		if (!lookup("location")) {
			sl_send_reply("404", "Not Found");
			exit;
		}
		xlog("L_NOTICE", "carrier: call for $tU to $ru\n");
		record_route();
		t_relay();
		exit;
	}
	# from the customer (ccswitch): digest first
	if (!pv_proxy_authenticate("carrier.test", "pw123", "0")) {
		proxy_challenge("carrier.test", "0");
		exit;
	}
	xlog("L_NOTICE", "carrier: outbound call to $rU from $fU pai $hdr(P-Asserted-Identity)\n");
	record_route();
	$du = "sip:127.0.0.6:{{UAS}}";
	t_relay();
	exit;
}
`

// startKamailioRegistrar runs kamailioRegCfg; it returns when Kamailio answers OPTIONS.
func startKamailioRegistrar(t testing.TB, udpPort, uasPort int) *kamailio {
	t.Helper()
	bin := testenv.Tool(t, "kamailio")
	dir := t.TempDir()
	r := strings.NewReplacer("{{UDP}}", fmt.Sprint(udpPort), "{{UAS}}", fmt.Sprint(uasPort))
	os.WriteFile(filepath.Join(dir, "kamailio.cfg"), []byte(r.Replace(kamailioRegCfg)), 0o644)
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	k := &kamailio{done: make(chan struct{})}
	k.cmd = exec.Command(bin, "-f", filepath.Join(dir, "kamailio.cfg"), "-DD", "-E", "-m", "64", "-M", "8",
		"-P", filepath.Join(dir, "run", "kamailio.pid"), "-Y", filepath.Join(dir, "run"), "-w", dir)
	k.cmd.Stdout, k.cmd.Stderr = k, k
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
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
	for !answersOptions(fmt.Sprintf("127.0.0.6:%d", udpPort)) {
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
	return k
}

// TestKamailioRegistrationTrunk: Kamailio (registrar + usrloc + auth) is a real carrier.
// ccswitch registers with digest; a PSTN call through Kamailio to the registration reaches
// DID +15550100's extension with the carrier's asserted caller number; an extension's call
// out answers Kamailio's 407 and presents the trunk's caller ID in From and
// P-Asserted-Identity, numbers normalised to the national form (strip +1).
func TestKamailioRegistrationTrunk(t *testing.T) {
	kUDP, kUAS := testenv.FreePort(t), testenv.FreePort(t)
	cfg, _, uasPort := trunkConfig(t)
	cfg.Trunks[0].Outbound = "" // the carrier trunk is inbound only here: calls out go to Kamailio
	off := config.Duration(0)
	cfg.Trunks = append(cfg.Trunks, config.Trunk{Name: "kam", Outbound: fmt.Sprintf("sip:127.0.0.6:%d", kUDP),
		Register: true, OutboundUsername: "ccsw", OutboundSecret: "pw123", RegisterExpires: config.Duration(time.Minute),
		OptionsInterval: &off, CallerID: "+15550100", Strip: "+1", Prefixes: []string{"+1555987"}})
	k := startKamailioRegistrar(t, kUDP, kUAS)
	reg := prometheus.NewRegistry()
	ts := startServer(t, cfg, "", md5Only, sip.WithRegisterer(reg))
	waitWithin(t, "registered with Kamailio", 15*time.Second, func() bool { return ts.TrunkRegistered("kam") })
	if !k.logged("carrier: registered ccsw at <sip:ccsw@") {
		t.Fatalf("kamailio did not log the registration")
	}

	t.Run("inbound", func(t *testing.T) {
		uas := callee(t, "uas_pai.xml", uasPort)
		pstn := sippOn(t, "pstn", "127.0.0.6", testenv.FreePort(t), "-sf", "testdata/pstn_uac.xml", "-s", "ccsw", "-m", "1",
			fmt.Sprintf("127.0.0.6:%d", kUDP))
		pstn.wait(t)
		uas.wait(t)
		rec := records(t, ts, 1)[0]
		if rec.Code != 200 || rec.Trunk != "kam" || rec.Direction != "inbound" {
			t.Fatalf("record %+v", rec)
		}
	})
	t.Run("outbound", func(t *testing.T) {
		uas := sippOn(t, "carrier uas", "127.0.0.6", kUAS, "-sf", "testdata/uas_cid.xml", "-m", "1")
		uac(t, ts, "uac_auth.xml", "1001", "+15559876")
		uas.wait(t)
		if !k.logged("carrier: outbound call to 5559876 from 5550100 pai <sip:5550100@") {
			t.Fatalf("kamailio did not see the caller ID")
		}
	})
}

// TestKamailioRegistrationBadSecretThenReload: with a wrong outbound_secret Kamailio keeps
// refusing (counted as auth-failed, not registered, logged); a reload with the right secret
// restarts the trunk's registration at once.
func TestKamailioRegistrationBadSecretThenReload(t *testing.T) {
	kUDP := testenv.FreePort(t)
	mk := func(secret string) *config.Config {
		cfg := testConfig()
		off := config.Duration(0)
		cfg.Trunks = []config.Trunk{{Name: "kam", Outbound: fmt.Sprintf("sip:127.0.0.6:%d", kUDP), Register: true,
			OutboundUsername: "ccsw", OutboundSecret: secret, RegisterExpires: config.Duration(time.Minute), OptionsInterval: &off}}
		return cfg
	}
	startKamailioRegistrar(t, kUDP, testenv.FreePort(t))
	reg := prometheus.NewRegistry()
	ts := startServer(t, mk("wrong"), "", md5Only, sip.WithRegisterer(reg))
	waitWithin(t, "a refused registration", 15*time.Second, func() bool {
		return metricValue(t, reg, "ccswitch_sip_trunk_registrations_total", "auth-failed") >= 1
	})
	if ts.TrunkRegistered("kam") {
		t.Fatal("registered with a wrong secret")
	}
	ts.Reload(mk("pw123"))
	waitWithin(t, "registered after the reload", 10*time.Second, func() bool { return ts.TrunkRegistered("kam") })
}
