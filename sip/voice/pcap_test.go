package voice_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zaf/g711"
)

var update = flag.Bool("update", false, "rewrite the generated pcaps in testdata/")

// The pcaps SIPp plays (play_pcap_audio) are made here, so anyone can see and rerun how:
// go test ./sip/voice -run TestPcaps -update. SIPp takes the RTP of each UDP packet and sends
// it from its media port to the peer's SDP address, with the pcap's timing.
var pcaps = map[string]func() []byte{
	// 2 s of a 400 Hz tone, PCMU, 100 packets of 20 ms.
	"tone_pcmu_2s.pcap": func() []byte { return tonePcap(100, 0x5eed0001) },
	// RFC 4733 telephone-event (payload type 101) key presses, as a phone sends them: 100 ms
	// of event packets with a growing duration, the end packet three times.
	"dtmf_1.pcap": func() []byte { return dtmfPcap(1, 0x5eed0002, 16000) },
	"dtmf_2.pcap": func() []byte { return dtmfPcap(2, 0x5eed0002, 32000) },
	"dtmf_9.pcap": func() []byte { return dtmfPcap(9, 0x5eed0002, 48000) },
	// 2 again, later in the same stream: the same key pressed twice is two events only if
	// their RTP timestamps differ (a repeated timestamp is a retransmission).
	"dtmf_2_again.pcap": func() []byte { return dtmfPcap(2, 0x5eed0002, 64000) },
	// A number keyed in and # (a callback to another number), then a premium one.
	"dtmf_15550123_hash.pcap":    func() []byte { return dtmfSeqPcap("15550123#", 0x5eed0002, 80000) },
	"dtmf_19005550100_hash.pcap": func() []byte { return dtmfSeqPcap("19005550100#", 0x5eed0002, 80000) },
}

// TestPcapsUpToDate: the committed pcaps are what the generator makes (-update rewrites them).
func TestPcapsUpToDate(t *testing.T) {
	for name, gen := range pcaps {
		want := gen()
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not what the generator makes (go test -run TestPcaps -update): %v", path, err)
		}
	}
}

type pcapWriter struct {
	buf bytes.Buffer
	t0  time.Time
}

func newPcap() *pcapWriter {
	w := &pcapWriter{t0: time.Unix(1764000000, 0)}
	// Global header: magic, v2.4, tz 0, sigfigs 0, snaplen 65535, Ethernet.
	binary.Write(&w.buf, binary.LittleEndian, []uint32{0xa1b2c3d4})
	binary.Write(&w.buf, binary.LittleEndian, []uint16{2, 4})
	binary.Write(&w.buf, binary.LittleEndian, []uint32{0, 0, 65535, 1})
	return w
}

// packet adds one Ethernet/IPv4/UDP datagram (10.0.0.1:40000 → 10.0.0.2:40002) at offset at.
func (w *pcapWriter) packet(at time.Duration, payload []byte) {
	udpLen := 8 + len(payload)
	ipLen := 20 + udpLen
	frame := make([]byte, 0, 14+ipLen)
	frame = append(frame, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00)
	ip := []byte{0x45, 0, byte(ipLen >> 8), byte(ipLen), 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(ip[i])<<8 | uint32(ip[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	frame = append(frame, ip...)
	frame = binary.BigEndian.AppendUint16(frame, 40000)
	frame = binary.BigEndian.AppendUint16(frame, 40002)
	frame = binary.BigEndian.AppendUint16(frame, uint16(udpLen))
	frame = binary.BigEndian.AppendUint16(frame, 0) // no UDP checksum
	frame = append(frame, payload...)
	ts := w.t0.Add(at)
	binary.Write(&w.buf, binary.LittleEndian, []uint32{uint32(ts.Unix()), uint32(ts.Nanosecond() / 1000), uint32(len(frame)), uint32(len(frame))})
	w.buf.Write(frame)
}

func rtpHeader(pt byte, marker bool, seq uint16, ts, ssrc uint32) []byte {
	h := []byte{0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if marker {
		h[1] |= 0x80
	}
	binary.BigEndian.PutUint16(h[2:], seq)
	binary.BigEndian.PutUint32(h[4:], ts)
	binary.BigEndian.PutUint32(h[8:], ssrc)
	return h
}

func tonePcap(n int, ssrc uint32) []byte {
	w := newPcap()
	pcm := make([]byte, 320)
	for i := 0; i < n; i++ {
		for s := 0; s < 160; s++ {
			v := int16(8000 * math.Sin(2*math.Pi*400*float64(i*160+s)/8000))
			binary.LittleEndian.PutUint16(pcm[2*s:], uint16(v))
		}
		p := append(rtpHeader(0, i == 0, uint16(1000+i), uint32(i*160), ssrc), g711.EncodeUlaw(pcm)...)
		w.packet(time.Duration(i)*20*time.Millisecond, p)
	}
	return w.buf.Bytes()
}

func dtmfPcap(digit byte, ssrc, ts uint32) []byte {
	w := newPcap()
	seq := uint16(ts / 8) // distinct per digit file
	for i := 0; i < 5; i++ {
		dur := uint16((i + 1) * 160)
		ev := []byte{digit, 10, byte(dur >> 8), byte(dur)}
		w.packet(time.Duration(i)*20*time.Millisecond, append(rtpHeader(101, i == 0, seq, ts, ssrc), ev...))
		seq++
	}
	for k := 0; k < 3; k++ {
		ev := []byte{digit, 0x80 | 10, 0x03, 0x20} // end, duration 800
		w.packet(100*time.Millisecond+time.Duration(k)*time.Millisecond, append(rtpHeader(101, false, seq, ts, ssrc), ev...))
		seq++
	}
	return w.buf.Bytes()
}

// dtmfSeqPcap is keys pressed one after the other, 250 ms apart, each as dtmfPcap makes it
// (its own RTP timestamp, so each is a new event); # is event 11, * event 10.
func dtmfSeqPcap(keys string, ssrc, ts uint32) []byte {
	w := newPcap()
	seq := uint16(ts / 8)
	for k, key := range []byte(keys) {
		ev := key - '0'
		switch key {
		case '*':
			ev = 10
		case '#':
			ev = 11
		}
		at := time.Duration(k) * 250 * time.Millisecond
		kts := ts + uint32(k)*2000
		for i := 0; i < 5; i++ {
			dur := uint16((i + 1) * 160)
			p := []byte{ev, 10, byte(dur >> 8), byte(dur)}
			w.packet(at+time.Duration(i)*20*time.Millisecond, append(rtpHeader(101, i == 0, seq, kts, ssrc), p...))
			seq++
		}
		for j := 0; j < 3; j++ {
			p := []byte{ev, 0x80 | 10, 0x03, 0x20}
			w.packet(at+100*time.Millisecond+time.Duration(j)*time.Millisecond, append(rtpHeader(101, false, seq, kts, ssrc), p...))
			seq++
		}
	}
	return w.buf.Bytes()
}
