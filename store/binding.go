package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Binding is one registered contact of an address of record (RFC 3261 §10).
type Binding struct {
	AOR     string    `json:"aor"`     // "1001": the extension, our domain implied
	Contact string    `json:"contact"` // the Contact URI as registered, without header params
	Expires time.Time `json:"expires"` // absolute expiry
	Q       float64   `json:"q,omitempty"`
	// InstanceID and RegID identify the device across re-registrations (RFC 5626).
	InstanceID string `json:"instance,omitempty"`
	RegID      int    `json:"reg_id,omitempty"`
	CallID     string `json:"call_id"`
	CSeq       uint32 `json:"cseq"`
	// Source and Transport are where the REGISTER came from (its flow): requests to the
	// contact are sent there, never to the Contact's own host.
	Source    string `json:"source,omitempty"`
	Transport string `json:"transport,omitempty"`
	// NAT is set when the contact is behind NAT (its Contact or Via differed from Source, or
	// it asked for rport): it gets keepalive pings.
	NAT       bool      `json:"nat,omitempty"`
	UserAgent string    `json:"ua,omitempty"`
	Updated   time.Time `json:"updated"`
}

func bindingKey(aor, contact string) []byte {
	return []byte("reg/" + aor + "\x00" + contact)
}

// PutBinding stores b, durably (invariant 1), replacing any binding of the same AOR and
// contact. Concurrent synced writes share one sync (group commit, group.go): each returns
// once the write is on disk.
func (s *Store) PutBinding(b Binding) error {
	return s.put(bindingKey(b.AOR, b.Contact), b, true)
}

// DeleteBinding removes one binding, durably and group-committed like PutBinding; deleting
// a missing one is not an error.
func (s *Store) DeleteBinding(aor, contact string) error {
	key := bindingKey(aor, contact)
	if err := s.synced.write(s.db, func(bt *pebble.Batch) error { return bt.Delete(key, nil) }); err != nil {
		return fmt.Errorf("store: delete %q: %w", key, err)
	}
	return nil
}

// Bindings returns every stored binding, expired or not (the caller sweeps), in key order.
func (s *Store) Bindings() ([]Binding, error) {
	var out []Binding
	err := s.scan([]byte("reg/"), func(key, val []byte) (bool, error) {
		var b Binding
		if err := json.Unmarshal(val, &b); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, b)
		return true, nil
	})
	return out, err
}
