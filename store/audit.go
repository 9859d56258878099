package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNotLinked: Unlink was asked to split customers that are not linked.
var ErrNotLinked = errors.New("customers not linked")

// Audit is one record of who did what to customer records (a supervisor linking or
// unlinking two customers), kept under audit/<time>/<random>.
type Audit struct {
	Time   time.Time `json:"time"`
	Agent  string    `json:"agent"`
	Action string    `json:"action"` // link, unlink
	// Customer is the surviving record, Other the one merged into it or split from it.
	Customer string `json:"customer"`
	Other    string `json:"other"`
}

func auditKey(a Audit) []byte {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Appendf(nil, "audit/%016x/%s", a.Time.UnixNano(), hex.EncodeToString(b))
}

// PutAudit writes an audit record durably (invariant 1).
func (s *Store) PutAudit(a Audit) error { return s.put(auditKey(a), a, true) }

// Audits returns the newest audit records first, at most limit (0: all).
func (s *Store) Audits(limit int) ([]Audit, error) {
	var out []Audit
	err := s.scan([]byte("audit/"), func(key, val []byte) (bool, error) {
		var a Audit
		if err := json.Unmarshal(val, &a); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, a)
		return true, nil
	})
	slices.Reverse(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

// Unlink splits customer other back out of survivor, which it was merged into: other gets
// back the identities it had when it was merged (they point at it again) and its own
// conversations; survivor loses them. The audit record a is written in the same batch.
// Customers merged into other before it was merged stay with survivor.
func (s *Store) Unlink(survivor, other string, a Audit) (Customer, Customer, error) {
	var surv, oth Customer
	ok, err := s.get(customerKey(survivor), &surv)
	if err != nil {
		return surv, oth, err
	}
	if !ok || surv.MergedInto != "" {
		return surv, oth, fmt.Errorf("store: unlink: customer %s: %w", survivor, ErrNotLinked)
	}
	ok, err = s.get(customerKey(other), &oth)
	if err != nil {
		return surv, oth, err
	}
	if !ok || oth.MergedInto != surv.ID || !slices.Contains(surv.Merged, other) {
		return surv, oth, fmt.Errorf("store: unlink: customer %s not linked into %s: %w", other, survivor, ErrNotLinked)
	}
	surv.Merged = slices.DeleteFunc(surv.Merged, func(id string) bool { return id == other })
	surv.Identities = slices.DeleteFunc(surv.Identities, func(id Identity) bool { return slices.Contains(oth.Identities, id) })
	oth.MergedInto = ""
	b := s.NewBatch()
	b.PutCustomer(surv)
	b.PutCustomer(oth)
	b.set(auditKey(a), a)
	return surv, oth, b.Commit()
}
