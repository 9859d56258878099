package channels

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ccswitch/ccswitch/store"
)

// customerFor finds the customer owning any of ids, merging customers that share one
// (automatic linking by phone number or email), or makes one. Claims among ids ("claimed-…",
// what the customer typed) are only added to the record: never looked up, never a reason to
// merge (invariant 7). When records must be written
// (a new customer, a new identity, a merge, a name learnt), puts writes them into a batch and
// the caller holds the customers' lock until that batch is committed (unlock); a known
// customer with nothing new takes no lock, so that its messages do not wait for others.
func (s *Service) customerFor(ids []store.Identity, name string) (c store.Customer, puts func(*store.Batch), unlock func(), err error) {
	if c, ok, err := s.knownCustomer(ids, name); err != nil || ok {
		return c, nil, func() {}, err
	}
	s.custMu.Lock()
	var writes []store.Customer
	c, writes, err = s.resolve(ids, name)
	if err != nil {
		s.custMu.Unlock()
		return c, nil, nil, err
	}
	return c, func(b *store.Batch) {
		for _, w := range writes {
			b.PutCustomer(w)
		}
	}, sync.OnceFunc(s.custMu.Unlock), nil
}

// knownCustomer is the customer who already owns every one of ids, when nothing about them
// would change.
func (s *Service) knownCustomer(ids []store.Identity, name string) (store.Customer, bool, error) {
	var c store.Customer
	proven := slices.DeleteFunc(slices.Clone(ids), store.Identity.Claimed)
	for i, id := range proven {
		cid, ok, err := s.st.CustomerByIdentity(id)
		if err != nil || !ok {
			return c, false, err
		}
		if i == 0 {
			var found bool
			if c, found, err = s.st.Customer(cid); err != nil || !found {
				return c, false, err
			}
		}
		if cid != c.ID || !slices.Contains(c.Identities, id) {
			return c, false, nil
		}
	}
	for _, id := range ids {
		if id.Claimed() && !slices.Contains(c.Identities, id) {
			return c, false, nil
		}
	}
	return c, len(proven) > 0 && (c.Name != "" || name == ""), nil
}

// resolve computes the customer owning ids and the records to write. custMu is held.
func (s *Service) resolve(ids []store.Identity, name string) (store.Customer, []store.Customer, error) {
	var found []store.Customer
	for _, id := range ids {
		if id.Claimed() {
			continue // a hint, never a key: an old store may still index it
		}
		cid, ok, err := s.st.CustomerByIdentity(id)
		if err != nil {
			return store.Customer{}, nil, err
		}
		if !ok {
			continue
		}
		c, ok, err := s.st.Customer(cid)
		if err != nil {
			return store.Customer{}, nil, err
		}
		if ok && !slices.ContainsFunc(found, func(f store.Customer) bool { return f.ID == c.ID }) {
			found = append(found, c)
		}
	}
	var c store.Customer
	var writes []store.Customer
	if len(found) == 0 {
		c = store.Customer{ID: newID("cust"), Name: name, Created: s.now()}
	} else {
		var err error
		if c, writes, err = s.merge(found); err != nil {
			return store.Customer{}, nil, err
		}
	}
	for _, id := range ids {
		if !slices.Contains(c.Identities, id) {
			c.Identities = append(c.Identities, id)
		}
	}
	if c.Name == "" {
		c.Name = name
	}
	return c, append(writes, c), nil
}

// merge folds customers into the oldest of them and returns it (not yet written) with the
// merged records to write.
func (s *Service) merge(cs []store.Customer) (store.Customer, []store.Customer, error) {
	slices.SortFunc(cs, func(x, y store.Customer) int {
		return cmp.Or(x.Created.Compare(y.Created), strings.Compare(x.ID, y.ID))
	})
	surv := cs[0]
	var writes []store.Customer
	for _, c := range cs[1:] {
		for _, id := range c.Identities {
			if !slices.Contains(surv.Identities, id) {
				surv.Identities = append(surv.Identities, id)
			}
		}
		if surv.Name == "" {
			surv.Name = c.Name
		}
		for _, old := range c.Merged {
			oc, ok, err := s.rawCustomer(old)
			if err != nil {
				return store.Customer{}, nil, err
			}
			if ok {
				oc.MergedInto = surv.ID
				writes = append(writes, oc)
			}
		}
		surv.Merged = append(surv.Merged, c.ID)
		surv.Merged = append(surv.Merged, c.Merged...)
		c.MergedInto, c.Merged = surv.ID, nil
		writes = append(writes, c)
		s.log.Info("customers linked", "into", surv.ID, "from", c.ID)
	}
	return surv, writes, nil
}

// rawCustomer reads a customer record without following merges.
func (s *Service) rawCustomer(id string) (store.Customer, bool, error) {
	c, ok, err := s.st.Customer(id)
	if err != nil || !ok {
		return c, ok, err
	}
	if c.ID == id {
		return c, true, nil
	}
	// Customer followed a merge: rebuild the merged record from what the survivor knows.
	return store.Customer{ID: id, MergedInto: c.ID}, true, nil
}

// Link merges customer b into customer a (an agent's decision); both keep their history.
func (s *Service) Link(agent, a, b string) (store.Customer, error) {
	s.custMu.Lock()
	defer s.custMu.Unlock()
	ca, ok, err := s.st.Customer(a)
	if err != nil {
		return store.Customer{}, err
	}
	if !ok {
		return store.Customer{}, fmt.Errorf("channels: link: customer %s: %w", a, ErrNotFound)
	}
	cb, ok, err := s.st.Customer(b)
	if err != nil {
		return store.Customer{}, err
	}
	if !ok {
		return store.Customer{}, fmt.Errorf("channels: link: customer %s: %w", b, ErrNotFound)
	}
	if ca.ID == cb.ID {
		return ca, nil
	}
	surv, writes, err := s.merge([]store.Customer{ca, cb})
	if err != nil {
		return store.Customer{}, err
	}
	batch := s.st.NewBatch()
	defer batch.Close()
	for _, w := range append(writes, surv) {
		batch.PutCustomer(w)
	}
	if err := batch.Commit(); err != nil {
		return store.Customer{}, err
	}
	s.log.Info("customers linked by agent", "agent", agent, "into", surv.ID)
	return surv, nil
}

// Unlink splits customer other back out of survivor (a supervisor's decision, recorded as a),
// under the customers' lock, so a message arriving for either at the same moment cannot
// rewrite the records from before the split.
func (s *Service) Unlink(survivor, other string, a store.Audit) (store.Customer, store.Customer, error) {
	s.custMu.Lock()
	defer s.custMu.Unlock()
	return s.st.Unlink(survivor, other, a)
}
