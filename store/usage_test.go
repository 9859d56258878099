package store

import (
	"testing"
	"time"
)

func TestDailyUsageSurvivesReopenAndPrunes(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		day, user string
		used      time.Duration
	}{
		{"2026-11-01", "1001", time.Minute},
		{"2026-11-02", "1001", 90 * time.Second},
		{"2026-11-02", "10010", time.Hour},
	} {
		if err := s.PutDailyUsage(u.day, u.user, u.used); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check := func(day, user string, want time.Duration) {
		t.Helper()
		got, err := s.DailyUsage(day, user)
		if err != nil || got != want {
			t.Errorf("DailyUsage(%s, %s) = %v, %v; want %v", day, user, got, err, want)
		}
	}
	check("2026-11-02", "1001", 90*time.Second)
	check("2026-11-02", "10010", time.Hour) // a user that is another's prefix does not mix
	check("2026-11-03", "1001", 0)
	if err := s.PruneDailyUsage("2026-11-02"); err != nil {
		t.Fatal(err)
	}
	check("2026-11-01", "1001", 0)
	check("2026-11-02", "1001", 90*time.Second)
}
