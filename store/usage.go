package store

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

func usageKey(day, user string) []byte { return []byte("usage/" + day + "\x00" + user) }

// DailyUsage returns the minutes of trunk calls user placed on day ("2006-01-02"), 0 when
// none were stored.
func (s *Store) DailyUsage(day, user string) (time.Duration, error) {
	var secs float64
	if _, err := s.get(usageKey(day, user), &secs); err != nil {
		return 0, err
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// PutDailyUsage stores user's use of day. It is not synced (invariant 2): pebble's WAL orders
// it and Close flushes it; a crash loses at most the last write.
func (s *Store) PutDailyUsage(day, user string, used time.Duration) error {
	return s.put(usageKey(day, user), used.Seconds(), false)
}

// PruneDailyUsage deletes the usage of every day before day.
func (s *Store) PruneDailyUsage(before string) error {
	if err := s.db.DeleteRange([]byte("usage/"), usageKey(before, ""), pebble.NoSync); err != nil {
		return fmt.Errorf("store: prune usage: %w", err)
	}
	return nil
}
