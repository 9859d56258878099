package sip

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestSessionTimer: the timer's schedule in a bubble (RFC 4028 §10).
//   - ccswitch refreshes at half the interval, again and again while refreshes succeed; a
//     refused refresh ends the leg;
//   - when the peer refreshes, the leg ends at interval − min(32 s, interval/3) without one;
//     each refresh (reset) starts that wait again;
//   - a stopped timer neither refreshes nor expires.
func TestSessionTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var refreshes, expired atomic.Int32
		ok := atomic.Bool{}
		ok.Store(true)
		newSessionTimer(timerSpec{interval: 90 * time.Second, weRefresh: true},
			func() bool { refreshes.Add(1); return ok.Load() }, func() { expired.Add(1) })
		time.Sleep(44 * time.Second)
		synctest.Wait()
		if refreshes.Load() != 0 {
			t.Fatal("refreshed before half the interval")
		}
		time.Sleep(2 * time.Second) // 46 s
		synctest.Wait()
		if refreshes.Load() != 1 {
			t.Fatalf("%d refreshes at 46 s", refreshes.Load())
		}
		time.Sleep(45 * time.Second) // 91 s
		synctest.Wait()
		if refreshes.Load() != 2 || expired.Load() != 0 {
			t.Fatalf("%d refreshes, %d expiries at 91 s", refreshes.Load(), expired.Load())
		}
		ok.Store(false)
		time.Sleep(45 * time.Second)
		synctest.Wait()
		if refreshes.Load() != 3 || expired.Load() != 1 {
			t.Fatalf("a refused refresh: %d refreshes, %d expiries", refreshes.Load(), expired.Load())
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if refreshes.Load() != 3 || expired.Load() != 1 {
			t.Fatal("the timer went on after the leg ended")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		var expired atomic.Int32
		st := newSessionTimer(timerSpec{interval: 90 * time.Second}, func() bool { t.Error("refreshed the peer's session"); return true },
			func() { expired.Add(1) })
		time.Sleep(50 * time.Second)
		st.reset() // the peer refreshed at 50 s: expiry at 50 + 60
		time.Sleep(59 * time.Second)
		synctest.Wait()
		if expired.Load() != 0 {
			t.Fatal("expired although refreshed")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if expired.Load() != 1 {
			t.Fatal("not expired 60 s after the last refresh (90 s − 30 s)")
		}
		newSessionTimer(timerSpec{interval: 1800 * time.Second}, nil, func() { expired.Add(1) })
		time.Sleep(1767 * time.Second)
		synctest.Wait()
		if expired.Load() != 1 {
			t.Fatal("a 1800 s session expired before 1768 s")
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if expired.Load() != 2 {
			t.Fatal("a 1800 s session did not expire at 1768 s (32 s early)")
		}
		stopped := newSessionTimer(timerSpec{interval: 90 * time.Second}, nil, func() { expired.Add(1) })
		stopped.stop()
		time.Sleep(time.Hour)
		synctest.Wait()
		if expired.Load() != 2 {
			t.Fatal("a stopped timer expired")
		}
	})
}
