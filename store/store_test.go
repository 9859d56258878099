package store

import (
	"testing"
	"time"
)

func TestBindingsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, b := range []Binding{
		{AOR: "1001", Contact: "sip:1001@127.0.0.1:5070", Expires: exp, CallID: "a", CSeq: 1},
		{AOR: "1001", Contact: "sip:1001@127.0.0.1:5071", Expires: exp, CallID: "b", CSeq: 2},
		{AOR: "10010", Contact: "sip:10010@127.0.0.1:5072", Expires: exp, CallID: "c", CSeq: 3},
	} {
		if err := s.PutBinding(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteBinding("1001", "sip:1001@127.0.0.1:5071"); err != nil {
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
	got, err := s.Bindings()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d bindings after reopen, want 2: %+v", len(got), got)
	}
	if got[0].AOR != "1001" || got[0].Contact != "sip:1001@127.0.0.1:5070" || !got[0].Expires.Equal(exp) {
		t.Errorf("first binding = %+v", got[0])
	}
	if got[1].AOR != "10010" {
		t.Errorf("second binding = %+v, want AOR 10010 (a prefix of another AOR must not mix)", got[1])
	}
}

func TestCallRecordsInTimeOrder(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i, id := range []string{"c", "a", "b"} {
		r := CallRecord{ID: id, Start: base.Add(time.Duration(2-i) * time.Minute), Code: 200, Cause: "caller-bye"}
		if err := s.PutCallRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CallRecords(base.Add(time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "c" {
		t.Fatalf("records since +1m = %+v, want a then c", got)
	}
	got, err = s.CallRecords(time.Time{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("first record = %+v, want b", got)
	}
}
