package store

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestUnlinkAndAudit: a customer merged into another comes back with its identities (they
// point at it again); what is not linked cannot be unlinked; audit records survive a reopen,
// newest first.
func TestUnlinkAndAudit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	ann := Identity{Kind: "whatsapp", Value: "33600000001"}
	mail := Identity{Kind: "email", Value: "ann@example.com"}
	later := Identity{Kind: "phone", Value: "+33600000009"} // learnt by the survivor after the merge
	b := s.NewBatch()
	b.PutCustomer(Customer{ID: "c1", Name: "Ann", Identities: []Identity{ann, mail, later}, Merged: []string{"c2"}, Created: t0})
	b.PutCustomer(Customer{ID: "c2", Name: "Ann M", Identities: []Identity{mail}, MergedInto: "c1", Created: t0.Add(time.Minute)})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAudit(Audit{Time: t0.Add(time.Hour), Agent: "bob", Action: "link", Customer: "c1", Other: "c2"}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{{"c1", "c3"}, {"c2", "c1"}, {"c1", "c1"}, {"nope", "c2"}} {
		if _, _, err := s.Unlink(bad[0], bad[1], Audit{}); !errors.Is(err, ErrNotLinked) {
			t.Errorf("Unlink(%s, %s) = %v, want ErrNotLinked", bad[0], bad[1], err)
		}
	}
	surv, other, err := s.Unlink("c1", "c2", Audit{Time: t0.Add(2 * time.Hour), Agent: "bob", Action: "unlink", Customer: "c1", Other: "c2"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(surv.Identities, mail) || len(surv.Merged) != 0 || other.MergedInto != "" || !slices.Equal(other.Identities, []Identity{mail}) {
		t.Fatalf("after unlink: %+v, %+v", surv, other)
	}
	s.Close()
	if s, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for id, want := range map[Identity]string{ann: "c1", later: "c1", mail: "c2"} {
		if got, _, _ := s.CustomerByIdentity(id); got != want {
			t.Errorf("%s belongs to %s, want %s", id, got, want)
		}
	}
	if c, ok, _ := s.Customer("c2"); !ok || c.ID != "c2" {
		t.Errorf("c2 resolves to %+v", c)
	}
	as, err := s.Audits(0)
	if err != nil || len(as) != 2 || as[0].Action != "unlink" || as[1].Action != "link" || !as[0].Time.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("audits = %+v, %v", as, err)
	}
	if as, _ := s.Audits(1); len(as) != 1 || as[0].Action != "unlink" {
		t.Errorf("audits(1) = %+v", as)
	}
}
