package center_test

import (
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
)

// TestCallDetailsForWebhooks: a call's webhook events say who called and which number: the
// caller, DID and language it was queued with, while the task lives and for a while after its
// end (the webhooks describe events after the fact); then they are forgotten. Conversations
// and unknown tasks get none here (the channels service describes conversations).
func TestCallDetailsForWebhooks(t *testing.T) {
	e := newEnv(t, testYAML, center.Options{})
	in := center.NewInbox()
	task := acd.Task{ID: "call-1", Queue: "q", Channel: acd.Voice,
		Attributes: map[string]string{"caller": "+4790000001", "did": "+15550103", "language": "fr", "secret": "x"}}
	if err := e.c.Enqueue(e.ctx, task, in); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "conv-1", Queue: "q", Channel: acd.Chat,
		Attributes: map[string]string{"caller": "visitor"}}, center.NewInbox()); err != nil {
		t.Fatal(err)
	}
	e.sync()
	want := map[string]string{"caller": "+4790000001", "did": "+15550103", "language": "fr"}
	check := func(when string, want map[string]string) {
		t.Helper()
		got := e.c.TaskDetails("call-1")
		if len(got) != len(want) {
			t.Fatalf("%s: details %v, want %v", when, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: details %v, want %v", when, got, want)
			}
		}
	}
	check("queued", want)
	if d := e.c.TaskDetails("conv-1"); d != nil {
		t.Errorf("a conversation got call details %v", d)
	}
	if d := e.c.TaskDetails("nope"); d != nil {
		t.Errorf("an unknown task got details %v", d)
	}
	if err := e.c.Cancel(e.ctx, "call-1"); err != nil {
		t.Fatal(err)
	}
	if got := kinds(e.events(in)); got != "task-queued task-abandoned" {
		t.Fatalf("inbox: %s", got)
	}
	e.advance(4 * time.Minute)
	check("4 minutes after the end", want)
	e.advance(2 * time.Minute)
	// The next Enqueue forgets what ended more than 5 minutes ago.
	if err := e.c.Enqueue(e.ctx, acd.Task{ID: "call-2", Queue: "q", Channel: acd.Voice}, center.NewInbox()); err != nil {
		t.Fatal(err)
	}
	check("6 minutes after the end", nil)
}
