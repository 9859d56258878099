// Package baresip runs Debian's baresip (1.0) as a real peer in tests: it writes a config
// folder for one account — over UDP, TCP or TLS, with the media encryption a test asks
// for — and starts, watches and stops the process.
//
// A TLS+SRTP phone: Config{CAFile: ca, Modules: []string{"srtp.so"}} with
// Account{Transport: "tls", MediaEnc: "srtp-mand", ...}; Write then Start(t, dir, d, "/dial N").
//
// Debian's baresip 1.0 does not verify the server's TLS certificate (sip_cafile is loaded
// but a wrong CA still registers: checked by hand against ccswitch); tests that need a
// verifying peer use openssl s_client or Kamailio.
package baresip

import (
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
)

// Account is the one account a baresip registers.
type Account struct {
	User, Password string
	// Registrar is ccswitch's host:port for the account's transport.
	Registrar string
	// Transport is udp (default), tcp or tls.
	Transport string
	// Scheme is the AOR's URI scheme: sip (default) or sips.
	Scheme string
	// MediaEnc is baresip's mediaenc account parameter ("srtp", "srtp-mand"); "" = none.
	MediaEnc string
	// AutoAnswer answers incoming calls at once.
	AutoAnswer bool
	// RegInt is the registration interval in seconds (default 600); 0 with NoRegister
	// registers nothing.
	RegInt     int
	NoRegister bool
	// Params are extra account parameters (";key=value" each, without the ';').
	Params []string
}

// Line is the account's line in baresip's accounts file.
func (a Account) Line() string {
	tp, scheme := a.Transport, a.Scheme
	if tp == "" {
		tp = "udp"
	}
	if scheme == "" {
		scheme = "sip"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<%s:%s@%s;transport=%s>;auth_pass=%s", scheme, a.User, a.Registrar, tp, a.Password)
	if a.AutoAnswer {
		b.WriteString(";answermode=auto")
	}
	if a.MediaEnc != "" {
		b.WriteString(";mediaenc=" + a.MediaEnc)
	}
	switch {
	case a.NoRegister:
		b.WriteString(";regint=0")
	case a.RegInt > 0:
		fmt.Fprintf(&b, ";regint=%d", a.RegInt)
	default:
		b.WriteString(";regint=600")
	}
	for _, p := range a.Params {
		b.WriteString(";" + p)
	}
	return b.String()
}

// Config is a baresip config folder.
type Config struct {
	// SIPPort is the port baresip listens on for UDP and TCP (TLS on SIPPort+1); 0 picks one.
	SIPPort int
	// RTPPorts is the first of 10 RTP ports; 0 picks one.
	RTPPort int
	// CAFile is sip_cafile: the CA baresip is given for the server's certificate.
	CAFile string
	// Certificate is sip_certificate (cert and key in one PEM file), for mutual TLS.
	Certificate string
	// AudioSource is a WAV (8 kHz mono) to send; "" makes a 2 s 440 Hz tone.
	AudioSource string
	// Modules are extra modules to load ("srtp.so").
	Modules []string
	// Extra lines appended to the config.
	Extra []string
}

// Write makes a config folder for acc and returns it. The folder holds config, accounts,
// contacts, and the audio baresip decodes is dumped there (sndfile: dump-*-dec.wav).
func Write(t testing.TB, cfg Config, acc Account) string {
	t.Helper()
	dir := t.TempDir()
	if cfg.SIPPort == 0 {
		cfg.SIPPort = freePair(t)
	}
	if cfg.RTPPort == 0 {
		cfg.RTPPort = testenv.FreePort(t) &^ 1
	}
	if cfg.AudioSource == "" {
		cfg.AudioSource = filepath.Join(dir, "tone.wav")
		writeTone(t, cfg.AudioSource, 440, 2*time.Second)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `poll_method epoll
sip_listen 127.0.0.1:%d
net_interface 127.0.0.1
rtp_ports %d-%d
audio_player aubridge,nil
audio_alert aubridge,nil
audio_source aufile,%s
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path %s
`, cfg.SIPPort, cfg.RTPPort, cfg.RTPPort+9, cfg.AudioSource, dir)
	if cfg.CAFile != "" {
		fmt.Fprintf(&b, "sip_cafile %s\n", cfg.CAFile)
	}
	if cfg.Certificate != "" {
		fmt.Fprintf(&b, "sip_certificate %s\n", cfg.Certificate)
	}
	for _, m := range cfg.Modules {
		fmt.Fprintf(&b, "module %s\n", m)
	}
	for _, l := range cfg.Extra {
		b.WriteString(l + "\n")
	}
	must(t, os.WriteFile(filepath.Join(dir, "config"), []byte(b.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "accounts"), []byte(acc.Line()+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "contacts"), nil, 0o644))
	return dir
}

// Process is a running baresip.
type Process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
	err  error
}

// Start runs baresip on dir for at most quitAfter (its -t), with SIP trace on, and any
// commands (-e "/dial 1002"). The test's cleanup kills it if it is still running.
func Start(t testing.TB, dir string, quitAfter time.Duration, commands ...string) *Process {
	t.Helper()
	bin := testenv.Tool(t, "baresip")
	args := []string{"-s", "-f", dir, "-t", fmt.Sprint(int(quitAfter.Seconds()))}
	for _, c := range commands {
		args = append(args, "-e", c)
	}
	p := &Process{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = (*writer)(p), (*writer)(p)
	must(t, p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Kill() })
	return p
}

type writer Process

func (w *writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(b)
}

// Output is what baresip printed so far (its SIP trace included).
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// WaitOutput waits until baresip printed s, or it exited, or timeout; it reports whether s
// was printed.
func (p *Process) WaitOutput(s string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if strings.Contains(p.Output(), s) {
			return true
		}
		select {
		case <-p.done:
			return strings.Contains(p.Output(), s)
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Wait waits for baresip to quit (its -t), at most timeout; false if it did not.
func (p *Process) Wait(timeout time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Kill ends the process at once (SIGKILL: no unREGISTER, its connections reset).
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Tail is the last n bytes of the output, for failure messages.
func (p *Process) Tail(n int) string {
	s := p.Output()
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// freePair returns a port p such that p (UDP and TCP) and p+1 (TCP: baresip's TLS) were
// free a moment ago.
func freePair(t testing.TB) int {
	t.Helper()
	for range 50 {
		p := testenv.FreePort(t)
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("baresip: no free pair of ports")
	return 0
}

// writeTone writes a 16-bit 8 kHz mono WAV of a sine at freq.
// WriteTone writes a WAV (8 kHz mono 16-bit) of a freq Hz tone lasting d, for AudioSource.
func WriteTone(t testing.TB, path string, freq float64, d time.Duration) { writeTone(t, path, freq, d) }

func writeTone(t testing.TB, path string, freq float64, d time.Duration) {
	n := int(d.Seconds() * 8000)
	data := make([]byte, 44+2*n)
	copy(data, "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1)
	binary.LittleEndian.PutUint16(data[22:], 1)
	binary.LittleEndian.PutUint32(data[24:], 8000)
	binary.LittleEndian.PutUint32(data[28:], 16000)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/8000))
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(v))
	}
	must(t, os.WriteFile(path, data, 0o644))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
