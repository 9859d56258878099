package sip_test

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadCarrier is a manual load probe (SIP_LOAD=<calls/s>): the bench's path, SIPp
// carrier → +15550100 → SIPp UAS on 2000's static contact, for 10 s, without -race
// (go test -run TestLoadCarrier ./sip/). It reports failed calls and the CPU the test
// process (the server) used. bench/sip is the real harness; this is for quick checks.
func TestLoadCarrier(t *testing.T) {
	rate, _ := strconv.Atoi(os.Getenv("SIP_LOAD"))
	if rate == 0 {
		t.Skip("set SIP_LOAD=<calls per second> to run")
	}
	cfg, carrier, uasPort := trunkConfig(t)
	ts := startServer(t, cfg, "")
	total := rate * 10
	uas := startSIPp(t, "uas", sippArgs("uas.xml", uasPort, "-m", fmt.Sprint(total), "-buff_size", "4194304")...)
	time.Sleep(200 * time.Millisecond)
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	uac := startSIPp(t, "carrier", append(sippArgs("", carrier, "-sn", "uac", "-s", "+15550100", "-m", fmt.Sprint(total),
		"-r", fmt.Sprint(rate), "-d", "0", "-buff_size", "4194304", "-l", "100000", "-trace_err", "-error_file", "/tmp/sipp_load_err.log"), ts.addr)[2:]...)
	<-uac.done
	el := time.Since(start)
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	out := uac.out.String()
	t.Logf("rate %d/s, %d calls in %v, server CPU %v (%.0f%% of one core), sipp err=%v", rate, total, el, cpu, 100*cpu.Seconds()/el.Seconds(), uac.err)
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "<----") || strings.Contains(l, "---->") || strings.Contains(l, "Successful call") || strings.Contains(l, "Failed call") {
			t.Log(l)
		}
	}
	_ = exec.Command
	t.Logf("kernel drops (rcvbuf): server %d, carrier SIPp %d, UAS SIPp %d", udpDrops(ts.port()), udpDrops(fmt.Sprint(carrier)), udpDrops(fmt.Sprint(uasPort)))
	uas.cmd.Process.Kill()
}

// udpDrops reads the drop counter of the UDP socket bound to a local port (/proc/net/udp).
func udpDrops(port string) int {
	p, _ := strconv.Atoi(port)
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return -1
	}
	want := fmt.Sprintf(":%04X ", p)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 12 && strings.HasSuffix(f[1]+" ", want) {
			n, _ := strconv.Atoi(f[len(f)-1])
			return n
		}
	}
	return -1
}
