package store_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// TestVoicemailsSurviveReopen: messages to queues are on disk (invariant 1): a reopened store
// has every one not deleted, oldest recorded first, with all it needs to queue it again and
// play it; a deleted one is gone, and deleting it twice is no error.
func TestVoicemailsSurviveReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	in := []store.Voicemail{
		{Task: "c2#vm", Queue: "support", Priority: 5, Reqs: []string{"language == fr"}, From: "+15550199", DID: "+15550103",
			Language: "fr", Vars: map[string]string{"topic": "order"}, Recorded: t0.Add(time.Minute), Length: 7 * time.Second,
			Recording: "/var/lib/ccswitch/recordings/voicemail-2.wav"},
		{Task: "c1#vm", Queue: "support", From: "+15550198", DID: "+15550103", Recorded: t0, Length: time.Second,
			Recording: "/var/lib/ccswitch/recordings/voicemail-1.wav"},
		{Task: "c3#vm", Queue: "sales", From: "+15550197", Recorded: t0.Add(2 * time.Minute)},
	}
	for _, v := range in {
		if err := st.PutVoicemail(v); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := st.DeleteVoicemail("c3#vm"); err != nil {
			t.Fatal(err)
		}
	}
	// A callback is another kind of record: not listed with the messages, and kept.
	if err := st.PutCallback(store.Callback{Task: "c4", Queue: "support"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, err := st.Voicemails()
	if err != nil || len(got) != 2 {
		t.Fatalf("after reopening: %+v %v", got, err)
	}
	for i, want := range []store.Voicemail{in[1], in[0]} {
		g := got[i]
		if g.Task != want.Task || g.Queue != want.Queue || g.Priority != want.Priority || len(g.Reqs) != len(want.Reqs) ||
			g.From != want.From || g.DID != want.DID || g.Language != want.Language || g.Vars["topic"] != want.Vars["topic"] ||
			!g.Recorded.Equal(want.Recorded) || g.Length != want.Length || g.Recording != want.Recording {
			t.Errorf("message %d: %+v, want %+v", i, g, want)
		}
	}
	if cbs, err := st.Callbacks(); err != nil || len(cbs) != 1 {
		t.Fatalf("callbacks %+v %v", cbs, err)
	}
}
