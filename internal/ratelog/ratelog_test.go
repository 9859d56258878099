package ratelog

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOncePerKeyPerInterval(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	now := time.Unix(1000, 0)
	l.SetNow(func() time.Time { return now })

	for range 5 {
		l.Warn("pike|10.0.0.1", "flood", "source", "10.0.0.1")
	}
	l.Warn("pike|10.0.0.2", "flood", "source", "10.0.0.2")
	if got := strings.Count(buf.String(), "msg=flood"); got != 2 {
		t.Fatalf("lines = %d, want 2 (one per key):\n%s", got, buf.String())
	}
	now = now.Add(time.Minute)
	buf.Reset()
	if !l.Warn("pike|10.0.0.1", "flood", "source", "10.0.0.1") {
		t.Fatal("not logged after the interval")
	}
	if !strings.Contains(buf.String(), "suppressed=4") {
		t.Fatalf("want suppressed=4 in %q", buf.String())
	}
}

func TestBoundedKeys(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	now := time.Unix(1000, 0)
	l.SetNow(func() time.Time { return now })
	for i := range MaxKeys * 3 {
		l.Warn(fmt.Sprint("k", i), "x")
	}
	if n := len(l.seen); n > MaxKeys+1 {
		t.Fatalf("keys = %d, want at most %d", n, MaxKeys+1)
	}
	// Once the interval passed, old keys are swept and new ones logged again.
	now = now.Add(2 * time.Minute)
	buf.Reset()
	if !l.Warn("fresh", "x") {
		t.Fatal("a new key after the sweep was not logged")
	}
}
