package center_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/store"
)

func exported(t *testing.T, path string) []store.CallRecord {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []store.CallRecord
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r store.CallRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// A flow call answered by an agent: its record is written once every part is in (invariant
// 5), whatever their order: the caller's SIP record, the agent leg dialled for it, the flow's
// account and the end of the agent's wrap-up. It has the agent, queue, wait, talk and
// wrap-up times, the disposition and both legs' media figures; it is stored and exported.
func TestCallRecordJoinsItsParts(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the center stopped (cleanups run last first)
	export := filepath.Join(dir, "calls.jsonl")
	reg := prometheus.NewRegistry()
	e := newEnv(t, testYAML+"call_records: {export: "+export+"}\n", center.Options{Store: st, Registerer: reg})
	written := func() []store.CallRecord {
		recs, err := st.CallRecords(time.Time{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}

	must(t, e.c.DeviceUp("a1", "sip:a@phone"))
	e.sync()
	in := center.NewInbox()
	must(t, e.c.Enqueue(e.ctx, acd.Task{ID: "X", Queue: "q", Channel: acd.Voice}, in))
	e.sync()
	e.advance(3 * time.Second) // rung for 3 s
	var offer acd.Event
	for _, ev := range in.Take() {
		if ev.Kind == acd.EventReservationCreated {
			offer = ev
		}
	}
	must(t, e.c.Accept(e.ctx, offer.Reservation))
	e.sync()
	e.advance(40 * time.Second) // 40 s of talk
	must(t, e.c.Complete(e.ctx, "X"))
	e.sync()

	start := t0
	e.c.CallEnded(store.CallRecord{ID: "Y", Parent: "X", Direction: "dial", From: "+15550100", To: "1001", Start: start.Add(time.Second),
		Code: 200, Cause: "callee-bye", Legs: []store.LegRecord{{Role: "b", CallID: "y@sip", Start: start.Add(time.Second)}}})
	e.c.CallEnded(store.CallRecord{ID: "X", Flow: "demo", Direction: "inbound", From: "+15550100", To: "+15550103", Start: start,
		Code: 200, Cause: "caller-bye", Legs: []store.LegRecord{{Role: "a", CallID: "x@sip", Start: start}}})
	// The flow's media (the voice path owns it): the caller's leg and the agent's it bridged.
	e.c.FlowEnded(center.FlowRecord{Call: "X", Flow: "demo", Outcome: "answered", Vars: map[string]string{"language": "fr"}, Tasks: []string{"X"},
		CallerMedia: center.LegMedia{Packets: 2100, Lost: 1, JitterMs: 2}, AgentMedia: center.LegMedia{Packets: 2000, Lost: 3, JitterMs: 4}, AgentCall: "Y"})
	e.sync()
	if recs := written(); len(recs) != 0 {
		t.Fatalf("record written before the wrap-up ended: %+v", recs)
	}
	e.advance(5 * time.Second) // the queue's wrap-up
	recs := written()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.ID != "X" || r.Agent != "a1" || r.Queue != "q" || r.Disposition != "answered" || r.Flow != "demo" || r.Vars["language"] != "fr" {
		t.Fatalf("record %+v", r)
	}
	if r.WaitMs != 3000 || r.TalkMs != 40000 || r.WrapUpMs != 5000 {
		t.Fatalf("wait/talk/wrap-up %d/%d/%d ms, want 3000/40000/5000", r.WaitMs, r.TalkMs, r.WrapUpMs)
	}
	if len(r.Legs) != 2 || r.Legs[0].Role != "a" || r.Legs[1].Role != "b" || r.Legs[1].Lost != 3 || r.Legs[0].Jitter != 2 {
		t.Fatalf("legs %+v", r.Legs)
	}
	if ex := exported(t, export); len(ex) != 1 || ex[0].ID != "X" || ex[0].Agent != "a1" {
		t.Fatalf("export %+v", ex)
	}
	if n := testutil.ToFloat64(counterOf(t, reg, "ccswitch_media_leg_packets_lost_total", "b")); n != 3 {
		t.Fatalf("lost packets counted on leg b: %v", n)
	}

	// A direct call (no flow) is written at once; an abandoned flow call when its task ends.
	e.c.CallEnded(store.CallRecord{ID: "D", Direction: "internal", Start: start.Add(time.Minute), Code: 486, Cause: "busy"})
	e.sync()
	must(t, e.c.Enqueue(e.ctx, acd.Task{ID: "Z", Queue: "other", Channel: acd.Voice}, in))
	e.sync()
	e.advance(7 * time.Second)
	e.c.CallEnded(store.CallRecord{ID: "Z", Flow: "demo", Start: start.Add(2 * time.Minute), Code: 200, Cause: "caller-bye"})
	e.c.FlowEnded(center.FlowRecord{Call: "Z", Flow: "demo", Outcome: "abandoned", Tasks: []string{"Z"}})
	e.sync()
	if len(written()) != 2 {
		t.Fatal("the abandoned call's record waits for its task")
	}
	must(t, e.c.Cancel(e.ctx, "Z"))
	e.sync()
	recs = written()
	if len(recs) != 3 || recs[1].Disposition != "busy" || recs[2].Disposition != "abandoned" || recs[2].WaitMs != 7000 || recs[2].Queue != "other" {
		t.Fatalf("records %+v", recs)
	}
}

// A record whose parts never all come is written when the sweeper gives up waiting
// (invariant 5), not before: the center in a synctest bubble, on the real clock (virtual).
func TestCallRecordTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		export := filepath.Join(t.TempDir(), "calls.jsonl")
		cfg, err := config.Parse("test.yaml", []byte(testYAML+"call_records: {export: "+export+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		c, err := center.New(cfg, center.Options{RecordTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		// A flow call whose flow never reports.
		c.CallEnded(store.CallRecord{ID: "F", Flow: "demo", Start: time.Now(), Code: 200, Cause: "caller-bye"})
		time.Sleep(time.Minute)
		synctest.Wait()
		if b, _ := os.ReadFile(export); len(b) != 0 {
			t.Fatalf("written before the timeout: %s", b)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if ex := exported(t, export); len(ex) != 1 || ex[0].ID != "F" {
			t.Fatalf("export after the timeout: %+v", ex)
		}
		cancel()
		<-done
	})
}

func counterOf(t *testing.T, reg *prometheus.Registry, name, role string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "role" && lp.GetValue() == role {
					return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
				}
			}
		}
	}
	t.Fatalf("no %s{role=%q}", name, role)
	return nil
}
