package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// TestCallbacksSurviveReopen: callbacks and the daily cap per number are on disk: a reopened
// store has them, oldest first; over the cap nothing is counted; a deleted callback is gone.
func TestCallbacksSurviveReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	for _, c := range []store.Callback{
		{Task: "b", Queue: "support", Number: "+15550199", Enqueued: t0.Add(time.Minute), Priority: 3, Reqs: []string{"language == fr"}},
		{Task: "a", Queue: "support", Number: "+15550198", Enqueued: t0},
		{Task: "c", Queue: "sales", Number: "+15550197", Enqueued: t0.Add(2 * time.Minute)},
	} {
		if err := st.PutCallback(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteCallback("c"); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false, false} {
		ok, err := st.TakeCallbackCap("2026-12-04", "+15550199", 2)
		if err != nil || ok != want {
			t.Fatalf("take %d: %v %v, want %v", i+1, ok, err, want)
		}
	}
	if ok, _ := st.TakeCallbackCap("2026-12-05", "+15550199", 2); !ok {
		t.Fatal("the cap is per day")
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cbs, err := st.Callbacks()
	if err != nil || len(cbs) != 2 || cbs[0].Task != "a" || cbs[1].Task != "b" || cbs[1].Priority != 3 || cbs[1].Reqs[0] != "language == fr" {
		t.Fatalf("after reopening: %+v %v", cbs, err)
	}
	if ok, _ := st.TakeCallbackCap("2026-12-04", "+15550199", 2); ok {
		t.Fatal("the cap was reset by reopening")
	}
}
