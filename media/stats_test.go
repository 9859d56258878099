package media

import (
	"testing"
	"time"
)

// feed gives s packets (seq, ts) arriving at the given times in ms.
type arrival struct {
	seq uint16
	ts  uint32
	ms  float64
}

func feed(s *inStats, ssrc uint32, pkts []arrival) {
	for _, p := range pkts {
		s.update(ssrc, p.seq, p.ts, int64(p.ms*float64(time.Millisecond)), true)
	}
}

func TestLossFromSequenceGaps(t *testing.T) {
	tests := []struct {
		name string
		pkts []arrival
		lost uint64
	}{
		{"none", []arrival{{1, 0, 0}, {2, 160, 20}, {3, 320, 40}}, 0},
		{"one gap", []arrival{{1, 0, 0}, {2, 160, 20}, {4, 480, 60}, {5, 640, 80}}, 1},
		{"three missing", []arrival{{10, 0, 0}, {14, 640, 80}}, 3},
		{"reordered", []arrival{{1, 0, 0}, {3, 320, 40}, {2, 160, 41}, {4, 480, 60}}, 0},
		{"a duplicate offsets a loss (RFC 3550 A.3)", []arrival{{1, 0, 0}, {2, 160, 20}, {2, 160, 21}, {4, 480, 60}}, 0},
		{"wrap", []arrival{{65534, 0, 0}, {65535, 160, 20}, {0, 320, 40}, {1, 480, 60}}, 0},
		{"gap across wrap", []arrival{{65534, 0, 0}, {1, 480, 60}}, 2},
	}
	for _, tt := range tests {
		var s inStats
		feed(&s, 7, tt.pkts)
		if got := s.lost(); got != tt.lost {
			t.Errorf("%s: lost %d, want %d", tt.name, got, tt.lost)
		}
	}
}

func TestLossSumsOverSSRCs(t *testing.T) {
	var s inStats
	feed(&s, 1, []arrival{{1, 0, 0}, {3, 320, 40}})       // 1 lost
	feed(&s, 2, []arrival{{500, 0, 60}, {503, 480, 120}}) // 2 lost after a re-INVITE
	if s.lost() != 3 {
		t.Fatalf("lost %d, want 3", s.lost())
	}
}

func TestJitterRFC3550(t *testing.T) {
	// Perfectly paced: transit constant, jitter 0.
	var s inStats
	var pkts []arrival
	for i := 0; i < 50; i++ {
		pkts = append(pkts, arrival{uint16(i), uint32(i * 160), float64(i * 20)})
	}
	feed(&s, 1, pkts)
	if s.jitter != 0 {
		t.Fatalf("paced stream jitter %v", s.jitter)
	}
	// One packet 20 ms late: D = 160 units, J = 160/16 = 10; the next one is on time again
	// (D = 160 again): J = 10 + (160-10)/16 = 19.375.
	s = inStats{}
	feed(&s, 1, []arrival{{0, 0, 0}, {1, 160, 40}, {2, 320, 40}})
	if s.jitter != 19.375 {
		t.Fatalf("jitter %v units, want 19.375", s.jitter)
	}
	// Alternating ±2 ms (16 units): every D is 32 units after the first; J converges to 32.
	s = inStats{}
	pkts = pkts[:0]
	for i := 0; i < 400; i++ {
		off := 0.0
		if i%2 == 1 {
			off = 4
		}
		pkts = append(pkts, arrival{uint16(i), uint32(i * 160), float64(i*20) + off})
	}
	feed(&s, 1, pkts)
	if s.jitter < 31.99 || s.jitter > 32 {
		t.Fatalf("alternating 4 ms: jitter %v units, want → 32", s.jitter)
	}
	// Published as a duration: 32 units at 8 kHz = 4 ms.
	var c legCounters
	c.publishIn(&s, 172)
	if j := c.snapshot().Jitter; j < 3990*time.Microsecond || j > 4*time.Millisecond {
		t.Fatalf("jitter %v, want ~4ms", j)
	}
}

func TestJitterTimestampWrap(t *testing.T) {
	var s inStats
	feed(&s, 1, []arrival{{0, 0xFFFFFF60, 0}, {1, 0, 20}, {2, 160, 40}})
	if s.jitter != 0 {
		t.Fatalf("timestamp wrap read as jitter: %v", s.jitter)
	}
}

func TestJitterIgnoresTelephoneEvents(t *testing.T) {
	var s inStats
	// Audio, then a 60 ms event (three packets with the event's timestamp), then audio again,
	// all perfectly paced: no jitter, no loss.
	s.update(1, 0, 0, 0, true)
	for i := 1; i <= 3; i++ {
		s.update(1, uint16(i), 160, int64(i*20)*int64(time.Millisecond), false)
	}
	s.update(1, 4, 640, 80*int64(time.Millisecond), true)
	if s.jitter != 0 || s.lost() != 0 {
		t.Fatalf("jitter %v lost %d", s.jitter, s.lost())
	}
}

// TestOutCountedBeforeTheWrite: a leg counts a packet out before writing it (whoever receives
// it finds it counted: TestRelayBothWays read 9 of 10 once, the count lagging the delivery) and
// takes the count back when the write fails.
func TestOutCountedBeforeTheWrite(t *testing.T) {
	var c legCounters
	c.addOut(172)
	c.addOut(172)
	c.undoOut(172) // the second write failed
	if s := c.snapshot(); s.PacketsOut != 1 || s.BytesOut != 172 {
		t.Fatalf("after two sends, one failed: %d packets, %d bytes; want 1, 172", s.PacketsOut, s.BytesOut)
	}
	c.undoOut(172)
	if s := c.snapshot(); s.PacketsOut != 0 || s.BytesOut != 0 {
		t.Fatalf("after both failed: %d packets, %d bytes", s.PacketsOut, s.BytesOut)
	}
}
