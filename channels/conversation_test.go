package channels

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// TestTransition walks the conversation state machine (invariant 3): each row is a
// conversation, a step, and what comes out: the state, the fields that matter, the messages
// added (direction and text), or the error.
func TestTransition(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	conv := func(state, agent string) store.Conversation {
		return store.Conversation{ID: "c", Adapter: "whatsapp", State: state, Agent: agent, Queue: "support", LastSeq: 3,
			Priority: 5, Requirements: []string{"language == fr"}, Vars: map[string]string{"entry": "+1555"}}
	}
	in := &Inbound{Adapter: "whatsapp", ProviderID: "w1", Text: "hello", Route: "PN2"}
	for _, tc := range []struct {
		name  string
		c     store.Conversation
		s     step
		state string
		check func(store.Conversation) string // "" when right
		msgs  string                          // "dir:text|…"
		err   error
	}{
		{"a message in a flow", conv(store.ConvFlow, ""), step{kind: stepIn, in: in}, store.ConvFlow,
			func(c store.Conversation) string { return want(c.Route == "PN2", "route taken from the message") }, "in:hello", nil},
		{"a message to a closed conversation is still stored", conv(store.ConvClosed, ""), step{kind: stepIn, in: in}, store.ConvClosed, nil, "in:hello", nil},
		{"the flow queues it: priority and requirements kept", conv(store.ConvFlow, ""),
			step{kind: stepQueue, queue: "sales", prio: 7, reqs: []string{"vip"}, vars: map[string]string{"topic": "x", "channel": "no"}, lang: "fr"},
			store.ConvQueued, func(c store.Conversation) string {
				return want(c.Queue == "sales" && c.Priority == 7 && slices.Equal(c.Requirements, []string{"vip"}) && c.Vars["topic"] == "x" &&
					c.Vars["channel"] == "" && c.Vars["language"] == "fr" && c.Enqueued.Equal(at), "queue, priority, requirements, vars")
			}, "", nil},
		{"queued twice: no change", conv(store.ConvQueued, ""), step{kind: stepQueue, queue: "sales"}, "", nil, "", errNoChange},
		{"accepted", conv(store.ConvQueued, ""), step{kind: stepAccepted, agent: "alice"}, store.ConvAssigned,
			func(c store.Conversation) string { return want(c.Agent == "alice", "agent") }, "", nil},
		{"accepted after it was closed: no change", conv(store.ConvClosed, ""), step{kind: stepAccepted, agent: "alice"}, "", nil, "", errNoChange},
		{"reply by its agent", conv(store.ConvAssigned, "alice"), step{kind: stepReply, agent: "alice", text: "hi"}, store.ConvAssigned,
			nil, "out:hi", nil},
		{"reply by another agent", conv(store.ConvAssigned, "alice"), step{kind: stepReply, agent: "bob", text: "hi"}, "", nil, "", ErrNotYours},
		{"reply to a queued conversation", conv(store.ConvQueued, ""), step{kind: stepReply, agent: "alice", text: "hi"}, "", nil, "", ErrNotYours},
		{"transfer keeps priority and requirements", conv(store.ConvAssigned, "alice"), step{kind: stepTransfer, agent: "alice", queue: "sales"},
			store.ConvQueued, func(c store.Conversation) string {
				return want(c.Queue == "sales" && c.Agent == "" && c.Priority == 5 && slices.Equal(c.Requirements, []string{"language == fr"}),
					"queue sales, no agent, priority and requirements kept")
			}, "system:transferred to queue sales", nil},
		{"transfer by another agent", conv(store.ConvAssigned, "alice"), step{kind: stepTransfer, agent: "bob", queue: "sales"}, "", nil, "", ErrNotYours},
		{"overflow moves a waiting one", conv(store.ConvQueued, ""), step{kind: stepRequeued, queue: "general"}, store.ConvQueued,
			func(c store.Conversation) string {
				return want(c.Queue == "general" && c.Priority == 5, "queue general")
			}, "", nil},
		{"the engine ends a waiting one", conv(store.ConvQueued, ""), step{kind: stepEnded, reason: "task-abandoned"}, store.ConvClosed,
			func(c store.Conversation) string { return want(c.Closed.Equal(at), "closed time") }, "system:ended: task-abandoned", nil},
		{"the engine's end of one an agent holds: no change", conv(store.ConvAssigned, "alice"), step{kind: stepEnded}, "", nil, "", errNoChange},
		{"closed by its agent", conv(store.ConvAssigned, "alice"), step{kind: stepClose, agent: "alice", wrapup: "sold", notes: "n"}, store.ConvClosed,
			func(c store.Conversation) string {
				return want(c.WrapUp == "sold" && c.Notes == "n", "wrap-up and notes")
			}, "system:closed: sold", nil},
		{"closed by the flow", conv(store.ConvFlow, ""), step{kind: stepFlowClose, reason: "bye"}, store.ConvClosed, nil, "system:bye", nil},
		{"a restart puts a held one back", conv(store.ConvAssigned, "alice"), step{kind: stepResume}, store.ConvQueued,
			func(c store.Conversation) string {
				return want(c.Agent == "" && c.Queue == "support" && c.Priority == 5, "back in support without agent")
			}, "system:back in queue support after a restart (was with alice)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.at = at
			before := tc.c
			got, msgs, err := transition(tc.c, tc.s)
			if tc.err != nil || err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if got.State != tc.state {
				t.Fatalf("state %s, want %s", got.State, tc.state)
			}
			if tc.check != nil {
				if bad := tc.check(got); bad != "" {
					t.Fatalf("%s: %+v", bad, got)
				}
			}
			var ms []string
			for i, m := range msgs {
				if m.Seq != before.LastSeq+uint64(i)+1 || m.Conv != "c" || !m.Time.Equal(at) {
					t.Fatalf("message %d numbered %d, conv %s, time %v", i, m.Seq, m.Conv, m.Time)
				}
				ms = append(ms, m.Dir+":"+m.Text)
				if m.Dir == store.Out && m.Status != store.StatusSending {
					t.Fatalf("outbound message stored as %q, want sending", m.Status)
				}
			}
			if g := strings.Join(ms, "|"); g != tc.msgs {
				t.Fatalf("messages %q, want %q", g, tc.msgs)
			}
			if got.LastSeq != before.LastSeq+uint64(len(msgs)) {
				t.Fatalf("last seq %d after %d messages from %d", got.LastSeq, len(msgs), before.LastSeq)
			}
			if before.Vars["topic"] != "" {
				t.Fatal("transition changed its input's vars")
			}
		})
	}
}

func want(ok bool, what string) string {
	if ok {
		return ""
	}
	return what
}

// TestRetryBackoff: attempts are spaced Base, then doubling, up to Max.
func TestRetryBackoff(t *testing.T) {
	r := Retry{Attempts: 8, Base: time.Second, Max: 10 * time.Second}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, r.backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("backoff %v, want %v", got, want)
	}
}

func TestPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+33 6 12 34 56 78": "+33612345678", "0033-6-12.34(56)78": "+0033612345678", "tel:+15550001111": "+15550001111",
		"15550001111": "+15550001111", "Shop123": "", "Bank123": "", "BANK-123": "", "1-2-3x": "", "12": "",
		"+1234567890123456": "", "": "", "++123": "", "123+": "", "sip:123@host": "", "１２３": "",
	} {
		if got := Phone(in); got != want {
			t.Errorf("Phone(%q) = %q, want %q", in, got, want)
		}
	}
}
