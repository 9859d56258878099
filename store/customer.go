package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Identity is one way to reach a customer: a kind ("phone", "email", "whatsapp", "webchat",
// "telegram", "messenger", "sms") and its value on that kind ("+33612345678", "a@b.example").
type Identity struct {
	Kind  string `json:"kind"`
	Value string `json:"value"`
}

func (i Identity) String() string { return i.Kind + ":" + i.Value }

// ClaimPrefix starts the kind of an identity the customer only typed ("claimed-email",
// "claimed-phone", "claimed-name"): a hint agents search by, never proof of who they are.
const ClaimPrefix = "claimed-"

// Claimed reports whether i is a typed claim (kind "claimed-…"): PutCustomer never indexes a
// claim, so no message is ever matched to a customer by one (invariant 4).
func (i Identity) Claimed() bool { return strings.HasPrefix(i.Kind, ClaimPrefix) }

// Customer is one person across channels. A customer merged into another keeps its record with
// MergedInto set, so old references resolve; the survivor lists it in Merged.
type Customer struct {
	ID         string     `json:"id"`
	Name       string     `json:"name,omitempty"`
	Identities []Identity `json:"identities,omitempty"`
	Merged     []string   `json:"merged,omitempty"`
	MergedInto string     `json:"merged_into,omitempty"`
	Created    time.Time  `json:"created"`
}

func customerKey(id string) []byte { return []byte("cust/" + id) }

func identityKey(id Identity) []byte {
	return []byte("ident/" + id.Kind + "\x00" + id.Value)
}

type identityRecord struct {
	Customer string `json:"customer"`
}

// Customer returns the customer id, following merges to the surviving record.
func (s *Store) Customer(id string) (Customer, bool, error) {
	for range 16 { // merges are flattened on write; the bound only guards against a cycle
		var c Customer
		ok, err := s.get(customerKey(id), &c)
		if err != nil || !ok {
			return Customer{}, ok, err
		}
		if c.MergedInto == "" {
			return c, true, nil
		}
		id = c.MergedInto
	}
	return Customer{}, false, fmt.Errorf("store: customer %s: merge chain too long", id)
}

// CustomerByIdentity returns the id of the customer that owns id (not following merges).
func (s *Store) CustomerByIdentity(id Identity) (string, bool, error) {
	var r identityRecord
	ok, err := s.get(identityKey(id), &r)
	return r.Customer, ok, err
}

// Customers returns every surviving customer, in key order.
func (s *Store) Customers() ([]Customer, error) {
	var out []Customer
	err := s.scan([]byte("cust/"), func(key, val []byte) (bool, error) {
		var c Customer
		if err := json.Unmarshal(val, &c); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		if c.MergedInto == "" {
			out = append(out, c)
		}
		return true, nil
	})
	return out, err
}

// Batch groups writes that must land together (a message, its dedupe key, its conversation and
// its customer); Commit syncs them (invariant 1). A Batch is not safe for concurrent use.
type Batch struct {
	s   *Store
	b   *pebble.Batch
	err error
}

// NewBatch starts an empty batch.
func (s *Store) NewBatch() *Batch { return &Batch{s: s, b: s.db.NewBatch()} }

func (b *Batch) set(key []byte, v any) {
	if b.err != nil {
		return
	}
	val, err := json.Marshal(v)
	if err != nil {
		b.err = fmt.Errorf("store: encode %q: %w", key, err)
		return
	}
	if err := b.b.Set(key, val, nil); err != nil {
		b.err = fmt.Errorf("store: batch %q: %w", key, err)
	}
}

func (b *Batch) delete(key []byte) {
	if b.err != nil {
		return
	}
	if err := b.b.Delete(key, nil); err != nil {
		b.err = fmt.Errorf("store: batch delete %q: %w", key, err)
	}
}

// PutCustomer writes c and, unless c was merged into another, points each of its identities
// but the claims at it.
func (b *Batch) PutCustomer(c Customer) {
	b.set(customerKey(c.ID), c)
	if c.MergedInto != "" {
		return
	}
	for _, id := range c.Identities {
		if id.Claimed() {
			continue // a claim is a hint, never a key (invariant 4)
		}
		b.set(identityKey(id), identityRecord{Customer: c.ID})
	}
}

// Commit applies the batch durably and releases it; the batch is unusable afterwards.
func (b *Batch) Commit() error {
	defer b.Close()
	if b.err != nil {
		return b.err
	}
	if err := b.b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Close releases an uncommitted batch.
func (b *Batch) Close() {
	if b.b != nil {
		b.b.Close()
		b.b = nil
	}
}
