package store

import (
	"crypto/rand"
	"fmt"
)

func secretKey(name string) []byte { return []byte("secret/" + name) }

// Secret returns the random key stored under name, creating n random bytes the first time, so
// tokens signed with it (web chat visitors) stay valid across restarts. Call it at start-up,
// not concurrently for the same name.
func (s *Store) Secret(name string, n int) ([]byte, error) {
	var key []byte
	ok, err := s.get(secretKey(name), &key)
	if err != nil || ok {
		return key, err
	}
	key = make([]byte, n)
	rand.Read(key)
	if err := s.put(secretKey(name), key, true); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	return key, nil
}
