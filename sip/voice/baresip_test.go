package voice_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/testenv"
	"github.com/ccswitch/ccswitch/ivr"
)

// TestBaresipHearsMenu (issue 5, done criterion): Debian's baresip registers as extension
// 1010 and dials +15550103 — an extension dialling one of our own DIDs reaches its flow. It
// hears the welcome prompt and the menu: its sndfile module dumps the audio it decoded, which
// must hold at least as many non-silent samples as the welcome prompt; ccswitch sent at least
// the welcome prompt's packets, and got baresip's own audio (aufile source) back on leg A.
func TestBaresipHearsMenu(t *testing.T) {
	t.Parallel()
	bin := testenv.Tool(t, "baresip")
	r := newRig(t, "2s")
	dir := t.TempDir()
	sipPort, rtpPort := testenv.FreePort(t), freeEvenPort(t)
	src := filepath.Join(r.promptsDir, "hold-music.wav") // 8 s: baresip ends the call at its end
	conf := fmt.Sprintf(`poll_method epoll
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
`, sipPort, rtpPort, rtpPort+10, src, dir)
	os.WriteFile(filepath.Join(dir, "config"), []byte(conf), 0o644)
	_, port, _ := strings.Cut(r.addr, ":")
	os.WriteFile(filepath.Join(dir, "accounts"), []byte(fmt.Sprintf(
		"<sip:1010@127.0.0.1:%s;transport=udp>;auth_pass=secret1010;answermode=auto;regint=600\n", port)), 0o644)
	os.WriteFile(filepath.Join(dir, "contacts"), nil, 0o644)

	cmd := exec.Command(bin, "-f", dir, "-t", "7", "-e", "/dial +15550103")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("baresip did not quit\n%s", tail(out.String()))
	}
	s := r.summary()
	if s.Result == nil || s.DID != "+15550103" || len(s.Result.Path) == 0 || s.Result.Path[0].Node != "welcome" {
		t.Fatalf("result %+v err %v\nbaresip:\n%s", s.Result, s.Err, tail(out.String()))
	}
	if s.Result.Outcome != ivr.OutcomeAbandoned {
		t.Errorf("outcome %v, want abandoned (baresip hung up in the menu)", s.Result.Outcome)
	}
	welcomePackets := uint64(r.welcome / (20 * time.Millisecond))
	t.Logf("media A %+v", s.Media.A)
	if s.Media.A.PacketsOut < welcomePackets || s.Media.A.PacketsIn < 50 {
		t.Errorf("leg A: sent %d (welcome is %d packets), received %d", s.Media.A.PacketsOut, welcomePackets, s.Media.A.PacketsIn)
	}
	dumps, _ := filepath.Glob(filepath.Join(dir, "dump-*-dec.wav"))
	if len(dumps) != 1 {
		t.Fatalf("baresip dumped %v\n%s", dumps, tail(out.String()))
	}
	loud := loudSamples(t, dumps[0])
	if min := loudSamples(t, filepath.Join(r.promptsDir, "en", "welcome.wav")); loud < min {
		t.Errorf("baresip heard %d non-silent samples, want ≥ %d (the whole welcome prompt's)", loud, min)
	}
	t.Logf("baresip heard %d non-silent samples (%.1f s)", loud, float64(loud)/8000)
}

// loudSamples counts the 16-bit samples above -40 dBFS in a PCM WAV (data chunk only).
func loudSamples(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := 12
	for i+8 <= len(b) {
		id, n := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		i += 8
		if id == "data" {
			if n > len(b)-i || n == 0 {
				n = len(b) - i
			}
			loud := 0
			thr := int(32768 * math.Pow(10, -40.0/20))
			for k := i; k+1 < i+n; k += 2 {
				v := int(int16(binary.LittleEndian.Uint16(b[k:])))
				if v > thr || v < -thr {
					loud++
				}
			}
			return loud
		}
		i += n + n%2
	}
	t.Fatalf("%s: no data chunk", path)
	return 0
}
