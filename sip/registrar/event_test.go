package registrar

import (
	"fmt"
	"testing"
	"time"
)

func TestEventsComeAndGo(t *testing.T) {
	f := newFixture(t)
	var got []string
	record := func(ev Event) {
		got = append(got, fmt.Sprintf("%s %s %s %d", ev.Kind, ev.Reason, ev.Contact, ev.Bindings))
	}
	f.register("c1", 1, "Contact: <sip:1001@192.0.2.1:5060>;expires=60\r\n")
	cancel := f.r.Subscribe(record)
	defer cancel()
	f.register("c1", 2, "Contact: <sip:1001@192.0.2.1:5060>;expires=60\r\n") // refresh: no event
	f.register("c2", 1, "Contact: <sip:1001@192.0.2.2:5060>;expires=600\r\n")
	f.register("c2", 2, "Contact: <sip:1001@192.0.2.2:5060>;expires=0\r\n")
	f.now = f.now.Add(2 * time.Minute)
	f.r.Sweep()
	f.register("c3", 1, "Contact: <sip:1001@192.0.2.3:5060>;expires=600\r\n")
	if !f.r.Remove("1001", "sip:1001@192.0.2.3:5060", ReasonUnreachable) {
		t.Fatal("Remove: binding not found")
	}
	want := []string{
		"bound present sip:1001@192.0.2.1:5060 1",
		"bound registered sip:1001@192.0.2.2:5060 2",
		"unbound unregistered sip:1001@192.0.2.2:5060 1",
		"unbound expired sip:1001@192.0.2.1:5060 0",
		"bound registered sip:1001@192.0.2.3:5060 1",
		"unbound unreachable sip:1001@192.0.2.3:5060 0",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	if bs, _ := f.st.Bindings(); len(bs) != 0 {
		t.Fatalf("store keeps %d bindings after Remove", len(bs))
	}
}

func TestSubscribeAfterRestartReplays(t *testing.T) {
	f := newFixture(t)
	f.register("c1", 1, "Contact: <sip:1001@192.0.2.1:5060>;expires=600\r\n", "Contact: <sip:1001@192.0.2.2:5060>;expires=600\r\n")
	f.st.Close()
	f.open()
	if err := f.r.Load(); err != nil {
		t.Fatal(err)
	}
	var n int
	cancel := f.r.Subscribe(func(ev Event) {
		if ev.Kind == Bound && ev.Reason == ReasonPresent && ev.AOR == "1001" {
			n++
		}
	})
	cancel()
	cancel() // idempotent
	if n != 2 {
		t.Fatalf("replayed %d bindings after restart, want 2", n)
	}
	f.register("c2", 1, "Contact: <sip:1001@192.0.2.9:5060>;expires=600\r\n")
	if n != 2 {
		t.Fatal("event delivered after cancel")
	}
}

func TestWildcardUnbindsEach(t *testing.T) {
	f := newFixture(t)
	f.register("c1", 1, "Contact: <sip:1001@192.0.2.1:5060>\r\n", "Contact: <sip:1001@192.0.2.2:5060>\r\n")
	var left []int
	defer f.r.Subscribe(func(ev Event) {
		if ev.Kind == Unbound {
			left = append(left, ev.Bindings)
		}
	})()
	f.register("c9", 1, "Contact: *\r\n", "Expires: 0\r\n")
	if fmt.Sprint(left) != "[1 0]" {
		t.Fatalf("wildcard unbinds: %v, want [1 0]", left)
	}
}
