package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// Store is an open pebble database. Its methods are safe for concurrent use.
type Store struct {
	db *pebble.DB
	// synced group-commits the synced writes: registrations, call records (group.go).
	synced syncGroup
}

// Open opens (creating if needed) the database in dir.
func Open(dir string) (*Store, error) {
	opts := &pebble.Options{Logger: quietLogger{}}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	return &Store{db: db}, nil
}

// Close flushes and closes the database.
func (s *Store) Close() error {
	if err := s.db.Flush(); err != nil {
		s.db.Close()
		return fmt.Errorf("store: flush: %w", err)
	}
	return s.db.Close()
}

// put writes one JSON record; sync makes it durable before returning (invariant 1), in a
// group commit with the other synced writes of the moment (group.go).
func (s *Store) put(key []byte, v any, sync bool) error {
	val, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %q: %w", key, err)
	}
	if sync {
		err = s.synced.write(s.db, func(b *pebble.Batch) error { return b.Set(key, val, nil) })
	} else {
		err = s.db.Set(key, val, pebble.NoSync)
	}
	if err != nil {
		return fmt.Errorf("store: write %q: %w", key, err)
	}
	return nil
}

func (s *Store) del(key []byte) error {
	if err := s.db.Delete(key, pebble.Sync); err != nil {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	return nil
}

// get decodes the record at key into v; it reports false when there is none.
func (s *Store) get(key []byte, v any) (bool, error) {
	val, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: read %q: %w", key, err)
	}
	defer closer.Close()
	if err := json.Unmarshal(val, v); err != nil {
		return false, fmt.Errorf("store: decode %q: %w", key, err)
	}
	return true, nil
}

// scan calls fn with every value whose key starts with prefix, in key order, until fn
// returns false or an error.
func (s *Store) scan(prefix []byte, fn func(key, val []byte) (bool, error)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("store: scan %q: %w", prefix, err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		more, err := fn(it.Key(), it.Value())
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("store: scan %q: %w", prefix, err)
	}
	return nil
}

// prefixEnd is the smallest key greater than every key starting with prefix.
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// quietLogger sends pebble's informational chatter nowhere and its errors to slog.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	slog.Error(fmt.Sprintf(format, args...), "component", "store")
}
func (quietLogger) Fatalf(format string, args ...any) {
	slog.Error(fmt.Sprintf(format, args...), "component", "store")
	panic(fmt.Sprintf(format, args...))
}
