package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Concurrent registrations share syncs (group commit), and every write and delete each
// caller was told about is there after a reopen, in the order each caller made them.
func TestBindingsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			aor := fmt.Sprintf("%d", 2000+w)
			for i := range each {
				c := fmt.Sprintf("sip:%s@127.0.0.1:%d", aor, 6000+i)
				if err := s.PutBinding(Binding{AOR: aor, Contact: c, Expires: exp, CallID: "x", CSeq: uint32(i)}); err != nil {
					errs <- err
					return
				}
				if i%2 == 1 { // every odd contact goes again
					if err := s.DeleteBinding(aor, c); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	writes, rounds := s.synced.writes.Load(), s.synced.rounds.Load()
	if writes != writers*each*3/2 {
		t.Fatalf("%d writes counted, want %d", writes, writers*each*3/2)
	}
	if rounds >= writes {
		t.Errorf("%d syncs for %d concurrent writes: no group commit", rounds, writes)
	}
	t.Logf("%d writes in %d syncs", writes, rounds)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Bindings()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != writers*each/2 {
		t.Fatalf("%d bindings after reopen, want %d", len(got), writers*each/2)
	}
	for _, b := range got {
		var port int
		fmt.Sscanf(b.Contact[len(b.Contact)-4:], "%d", &port)
		if (port-6000)%2 == 1 {
			t.Errorf("deleted binding %s came back", b.Contact)
		}
	}
}
