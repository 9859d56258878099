package webchat

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ccswitch/ccswitch/channels"
)

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7", "::ffff:192.0.2.7": "192.0.2.7", "2001:db8::1": "2001:db8::/64",
		"2001:db8::ffff:1": "2001:db8::/64", "2001:db8:0:1::1": "2001:db8:0:1::/64",
	} {
		if got := addrKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("addrKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestBucketsRefillAndForget (invariant 2): an address's new conversations come back at the
// configured rate, a limit changed by a reload applies to known addresses, and idle addresses
// are forgotten only once forgetting gives nothing back.
func TestBucketsRefillAndForget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := channels.WebChatLimits{}.WithDefaults()
		al := newAddrLimits()
		for i := range 10 {
			if !al.conversation("a", l) {
				t.Fatalf("conversation %d refused", i+1)
			}
		}
		if al.conversation("a", l) || !al.conversation("b", l) {
			t.Fatal("11th of a taken, or b held back by a")
		}
		time.Sleep(6 * time.Second) // 10 a minute: one more after 6 s
		if !al.conversation("a", l) || al.conversation("a", l) {
			t.Fatal("after 6 s: want exactly one more")
		}
		l.ConversationsPerMinute = 60 // a reload: applies from the address's next message
		al.conversation("a", l)
		time.Sleep(time.Second)
		if !al.conversation("a", l) {
			t.Fatal("the reloaded rate (60 a minute) not applied to a known address")
		}
		release, ok := al.open("c", l)
		if !ok {
			t.Fatal("open refused")
		}
		time.Sleep(2 * time.Minute)
		al.mu.Lock()
		al.sweep(l, time.Now())
		_, haveA := al.m["a"]
		_, haveC := al.m["c"]
		al.mu.Unlock()
		if haveA || !haveC {
			t.Fatalf("after the sweep: a kept %v (idle: want forgotten), c kept %v (open socket: want kept)", haveA, haveC)
		}
		release()
	})
}
