package channels

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// stepKind names what happens to a conversation.
type stepKind uint8

const (
	stepIn        stepKind = iota + 1 // a customer's message (in)
	stepSay                           // the flow or the greeting says text
	stepReply                         // agent replies text (the conversation must be theirs)
	stepQueue                         // it waits in queue (the flow's queue node, or the adapter's)
	stepAccepted                      // the engine: agent accepted the offer
	stepTransfer                      // agent hands it to queue
	stepRequeued                      // the engine moved it to queue (overflow, transfer)
	stepEnded                         // the engine ended it before an agent took it (reason)
	stepClose                         // agent closes it with wrapup and notes
	stepFlowClose                     // the flow ends it (reason)
	stepResume                        // a restart: an agent held it, the new engine does not
)

// step is one change of a conversation, with what it carries.
type step struct {
	kind   stepKind
	at     time.Time
	agent  string
	text   string
	in     *Inbound
	queue  string
	prio   int // stepQueue: the priority it is routed with (the flow's plus the adapter's)
	reqs   []string
	vars   map[string]string
	lang   string
	wrapup string
	notes  string
	reason string
}

// errNoChange: the step does not apply to the conversation as it is (an acceptance of a
// conversation closed meanwhile, the end of one an agent holds): nothing to write.
var errNoChange = errors.New("no change")

// transition is the conversation state machine: the conversation after step s, and the
// messages s adds (numbered after c.LastSeq). It is a pure function; update persists its
// result, every field of the conversation with its task/ record and its messages, in one
// batch. ErrNotYours refuses an agent's step on a conversation assigned to someone else;
// errNoChange a step that does not apply.
//
//	flow ──queue──▶ queued ──accepted──▶ assigned ──close──▶ closed
//	  │               │  ▲ requeued        │ transfer ──▶ queued (same priority, requirements)
//	  └─flow close──▶ │  └──── resume ─────┘ (a restart)
//	                  └──ended──▶ closed
func transition(c store.Conversation, s step) (store.Conversation, []store.Message, error) {
	if c.Vars == nil {
		c.Vars = map[string]string{}
	} else {
		c.Vars = maps.Clone(c.Vars)
	}
	var msgs []store.Message
	add := func(m store.Message) {
		c.LastSeq++
		m.Conv, m.Seq, m.Adapter, m.Time = c.ID, c.LastSeq, c.Adapter, s.at
		msgs = append(msgs, m)
	}
	note := func(text string) { add(store.Message{Dir: store.System, Agent: s.agent, Text: text}) }
	mine := func() error {
		if c.State != store.ConvAssigned || c.Agent != s.agent {
			return fmt.Errorf("channels: conversation %s: %w", c.ID, ErrNotYours)
		}
		return nil
	}
	if c.State == store.ConvClosed && s.kind != stepIn {
		return c, nil, errNoChange
	}
	switch s.kind {
	case stepIn:
		in := s.in
		if in.Route != "" {
			c.Route = in.Route
		}
		if in.MessageID != "" {
			c.Thread = in.MessageID
		}
		m := store.Message{Dir: store.In, ProviderID: in.ProviderID, Text: in.Text, Attachments: in.Attachments,
			MessageID: in.MessageID, InReplyTo: in.InReplyTo}
		if in.Adapter == "webchat" { // the widget's id is a client id, not the provider's
			m.ProviderID, m.ClientID = "", in.ProviderID
		}
		add(m)
	case stepSay:
		add(store.Message{Dir: store.Out, Text: s.text, Status: store.StatusSending})
	case stepReply:
		if err := mine(); err != nil {
			return c, nil, err
		}
		add(store.Message{Dir: store.Out, Agent: s.agent, Text: s.text, Status: store.StatusSending})
	case stepQueue:
		if c.State != store.ConvFlow {
			return c, nil, errNoChange // queued, assigned or closed already
		}
		for k, v := range s.vars {
			if k != "customer" && k != "channel" { // given to the flow; the conversation has them
				c.Vars[k] = v
			}
		}
		if s.lang != "" {
			c.Vars["language"] = s.lang
		}
		c.State, c.Queue, c.Enqueued = store.ConvQueued, s.queue, s.at
		c.Priority, c.Requirements = s.prio, s.reqs
	case stepAccepted:
		if c.State != store.ConvQueued {
			return c, nil, errNoChange
		}
		c.State, c.Agent = store.ConvAssigned, s.agent
	case stepTransfer:
		if err := mine(); err != nil {
			return c, nil, err
		}
		c.State, c.Agent, c.Queue, c.Enqueued = store.ConvQueued, "", s.queue, s.at
		note("transferred to queue " + s.queue)
	case stepRequeued:
		if c.State != store.ConvQueued || c.Queue == s.queue || s.queue == "" {
			return c, nil, errNoChange
		}
		c.Queue, c.Enqueued = s.queue, s.at
	case stepEnded:
		if c.State != store.ConvQueued {
			return c, nil, errNoChange // an agent took it; the agent closes it
		}
		c.State, c.Closed = store.ConvClosed, s.at
		note("ended: " + s.reason)
	case stepClose:
		if err := mine(); err != nil {
			return c, nil, err
		}
		c.State, c.WrapUp, c.Notes, c.Closed = store.ConvClosed, s.wrapup, s.notes, s.at
		note("closed: " + cmp.Or(s.wrapup, "no wrap-up code"))
	case stepFlowClose:
		c.State, c.Closed = store.ConvClosed, s.at
		note(s.reason)
	case stepResume:
		if c.State != store.ConvAssigned {
			return c, nil, errNoChange
		}
		note("back in queue " + c.Queue + " after a restart (was with " + c.Agent + ")")
		c.State, c.Agent, c.Enqueued = store.ConvQueued, "", s.at
	default:
		return c, nil, fmt.Errorf("channels: step %d: %w", s.kind, ErrBadInput)
	}
	c.Updated = s.at
	return c, msgs, nil
}

// taskOf is the task/ record of a queued conversation: everything it is routed with.
func taskOf(c store.Conversation) store.QueuedTask {
	return store.QueuedTask{Conv: c.ID, Queue: c.Queue, Channel: ACDChannel(c.Adapter), Priority: c.Priority,
		Requirements: c.Requirements, Enqueued: c.Enqueued}
}

// write puts conversation c, its task/ record (while it is queued; deleted otherwise) and its
// new messages into b: the one way a conversation reaches the store.
func write(b *store.Batch, c store.Conversation, msgs []store.Message) {
	for _, m := range msgs {
		b.PutMessage(m)
	}
	if c.State == store.ConvQueued {
		b.PutTask(taskOf(c))
	} else {
		b.DeleteTask(c.ID)
	}
	b.PutConversation(c)
}
