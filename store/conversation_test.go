package store

import (
	"bytes"
	"testing"
	"time"
)

func TestConversationRecords(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	b := s.NewBatch()
	b.PutCustomer(Customer{ID: "c1", Identities: []Identity{{"whatsapp", "336"}, {"phone", "+336"}}, Created: now})
	b.PutCustomer(Customer{ID: "c0", MergedInto: "c1", Identities: []Identity{{"phone", "+336"}}}) // must not steal +336
	conv := Conversation{ID: "conv-a", Customer: "c1", Adapter: "whatsapp", Address: "336", State: ConvQueued, LastSeq: 12}
	b.PutConversation(conv)
	for seq := uint64(1); seq <= 12; seq++ {
		b.PutMessage(Message{Conv: "conv-a", Seq: seq, Dir: In, Adapter: "whatsapp", ProviderID: "w" + string(rune('a'+seq)), Time: now})
	}
	b.PutTask(QueuedTask{Conv: "conv-a", Queue: "support", Channel: "social"})
	b.PutThread("<m@x>", "conv-a")
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	key1, err := s.Secret("webchat", 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	ms, err := s.Messages("conv-a", 9)
	if err != nil || len(ms) != 3 || ms[0].Seq != 10 || ms[2].Seq != 12 {
		t.Fatalf("messages after 9 = %+v, %v (seq 10+ must sort after 9)", ms, err)
	}
	if ref, ok, _ := s.Seen("whatsapp", "w"+string(rune('a'+5))); !ok || ref.Seq != 5 {
		t.Errorf("dedupe ref = %+v %v", ref, ok)
	}
	if id, ok, _ := s.CustomerByIdentity(Identity{"phone", "+336"}); !ok || id != "c1" {
		t.Errorf("phone owner = %q %v, want c1 (a merged record does not re-point identities)", id, ok)
	}
	if c, ok, _ := s.Customer("c0"); !ok || c.ID != "c1" {
		t.Errorf("merged customer resolves to %+v", c)
	}
	if id, ok, _ := s.OpenConversation("whatsapp", "336"); !ok || id != "conv-a" {
		t.Errorf("open conversation = %q %v", id, ok)
	}
	if id, ok, _ := s.Thread("<m@x>"); !ok || id != "conv-a" {
		t.Errorf("thread = %q %v", id, ok)
	}
	if tasks, _ := s.Tasks(); len(tasks) != 1 || tasks[0].Queue != "support" {
		t.Errorf("tasks = %+v", tasks)
	}
	if key2, _ := s.Secret("webchat", 32); !bytes.Equal(key1, key2) || len(key2) != 32 {
		t.Error("secret changed across a reopen")
	}
	conv.State = ConvClosed
	b = s.NewBatch()
	b.PutConversation(conv)
	b.DeleteTask("conv-a")
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.OpenConversation("whatsapp", "336"); ok {
		t.Error("a closed conversation is still open for its address")
	}
	if tasks, _ := s.Tasks(); len(tasks) != 0 {
		t.Errorf("tasks after delete = %+v", tasks)
	}
	if cs, _ := s.CustomerConversations("c1"); len(cs) != 1 || cs[0] != "conv-a" {
		t.Errorf("customer conversations = %v", cs)
	}
	if cs, _ := s.Customers(); len(cs) != 1 || cs[0].ID != "c1" {
		t.Errorf("customers = %+v (merged ones are not listed)", cs)
	}
}
