package channels

import (
	"context"
	"fmt"

	"github.com/ccswitch/ccswitch/store"
)

// Receive is the inbox: it stores in durably with its dedupe key, customer and conversation
// in one synced batch (invariant 1), then moves the conversation on: the flow answers, the
// conversation is queued, or its agent sees the message. A provider's retry of a message
// already stored changes nothing (invariant 2). Messages of one sender are stored in order;
// messages of different senders are stored at once.
func (s *Service) Receive(ctx context.Context, in Inbound) (Receipt, error) {
	if in.Adapter == "" || in.From == "" {
		return Receipt{}, fmt.Errorf("channels: receive: %w: adapter and from are required", ErrBadInput)
	}
	if in.Time.IsZero() {
		in.Time = s.now()
	}
	unlock := s.convs.lock("from/" + in.Adapter + "\x00" + in.From)
	defer unlock()
	if in.ProviderID != "" {
		ref, seen, err := s.st.Seen(in.Adapter, in.ProviderID)
		if err != nil {
			return Receipt{}, err
		}
		if seen && in.DedupeFor > 0 {
			// A digest, not an id: the same text long after is the customer writing it again.
			if m, ok, err := s.st.Message(ref.Conv, ref.Seq); err == nil && ok && s.now().Sub(m.Time) > in.DedupeFor {
				seen = false
			}
		}
		if seen {
			s.meters.duplicates.WithLabelValues(in.Adapter).Inc()
			c, _, _ := s.st.Conversation(ref.Conv)
			return Receipt{Conv: ref.Conv, Seq: ref.Seq, Customer: c.Customer, Duplicate: true}, nil
		}
	}
	id, err := s.conversationOf(in)
	if err != nil {
		return Receipt{}, err
	}
	isNew := id == ""
	if isNew {
		id = newID("conv")
	}
	unlockConv := s.convs.lock(id)
	defer unlockConv()

	ids := append([]store.Identity{{Kind: in.Adapter, Value: in.From}}, in.Identities...)
	for _, cl := range in.Claims {
		if cl.Kind != "" && cl.Value != "" {
			if !cl.Claimed() {
				cl.Kind = store.ClaimPrefix + cl.Kind
			}
			ids = append(ids, cl)
		}
	}
	cust, putCustomers, unlockCustomers, err := s.customerFor(ids, in.Name)
	if err != nil {
		return Receipt{}, err
	}
	defer unlockCustomers()

	var c store.Conversation
	if isNew {
		c = store.Conversation{ID: id, Customer: cust.ID, Adapter: in.Adapter, Address: in.From, Route: in.Route,
			State: store.ConvFlow, Subject: in.Subject, Created: in.Time, Vars: map[string]string{}}
	} else if c, _, err = s.st.Conversation(id); err != nil {
		return Receipt{}, err
	}
	steps := []step{{kind: stepIn, in: &in, at: in.Time}}
	entry := ""
	if isNew {
		// A new conversation goes through its entry's flow (started after the commit), or
		// straight to its queue: that decision is in the same batch, so a crash cannot leave
		// a conversation meant for a queue without its task/ record.
		r := s.route(in.Adapter)
		if r.Greeting != "" && !in.Automatic {
			steps = append(steps, step{kind: stepSay, text: r.Greeting, at: in.Time})
		}
		if !in.Automatic {
			entry = s.flows.entryFor(in)
		}
		if entry == "" {
			steps = append(steps, step{kind: stepQueue, queue: s.defaultQueue(in.Adapter), prio: r.Priority, at: in.Time})
		}
	}
	c, msgs, err := s.apply(c, steps...)
	if err != nil {
		return Receipt{}, err
	}
	if entry != "" {
		c.Vars["entry"] = entry
	}
	received := msgs[0]
	threaded := false
	if in.MessageID != "" {
		if _, threaded, err = s.st.Thread(in.MessageID); err != nil {
			return Receipt{}, err
		}
	}
	err = s.commit(c, msgs, func(b *store.Batch) {
		if putCustomers != nil {
			putCustomers(b)
		}
		if in.MessageID != "" && !threaded {
			b.PutThread(in.MessageID, c.ID) // a Message-ID already known keeps its conversation
		}
		if in.Adapter == "webchat" && in.ProviderID != "" { // a client id: not kept by PutMessage
			b.PutDedupe(in.Adapter, in.ProviderID, store.MessageRef{Conv: c.ID, Seq: received.Seq})
		}
	})
	if err != nil {
		return Receipt{}, fmt.Errorf("channels: receive %s %s: %w", in.Adapter, in.ProviderID, err)
	}
	unlockCustomers()
	s.meters.in.WithLabelValues(in.Adapter).Inc()
	if isNew && c.State == store.ConvQueued {
		s.offers.enqueue(c, nil)
	}
	s.after(c, msgs)
	if !isNew && c.State == store.ConvQueued && isCallMe(in.Text) {
		s.callMe(ctx, c) // "call me": a callback keeping the place (callme.go); logged there
	}
	if c.State == store.ConvFlow {
		if !isNew && s.flows.input(c.ID, in.Text) {
			// the flow reads it
		} else if entry != "" {
			s.flows.start(c, entry)
		}
	}
	return Receipt{Conv: c.ID, Seq: received.Seq, Customer: cust.ID}, nil
}

// conversationOf finds the conversation in belongs to: the email thread it answers, or the
// open conversation with its sender on its adapter; "" for a new one.
func (s *Service) conversationOf(in Inbound) (string, error) {
	var refs []string
	if in.Adapter == "email" {
		refs = append([]string{in.InReplyTo}, in.References...)
	}
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		id, ok, err := s.st.Thread(ref)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		if s.open(id) && s.sentBy(id, in) {
			return id, nil
		}
		break
	}
	if in.Adapter == "email" {
		return "", nil
	}
	id, ok, err := s.st.OpenConversation(in.Adapter, in.From)
	if err != nil || !ok || !s.open(id) {
		return "", err
	}
	return id, nil
}

// sentBy reports whether in comes from conversation id's customer: its own address, or an
// email identity of the same customer (one an agent linked). A reply quoting someone else's
// Message-ID starts a conversation of its own (email invariant 2).
func (s *Service) sentBy(id string, in Inbound) bool {
	c, ok, err := s.st.Conversation(id)
	if err != nil || !ok {
		return false
	}
	if c.Address == in.From {
		return true
	}
	cid, ok, err := s.st.CustomerByIdentity(store.Identity{Kind: in.Adapter, Value: in.From})
	if err != nil || !ok {
		return false
	}
	sender, ok, err := s.st.Customer(cid)
	if err != nil || !ok {
		return false
	}
	owner, ok, err := s.st.Customer(c.Customer) // both followed to the surviving record
	return err == nil && ok && sender.ID == owner.ID
}

// open reports whether conversation id exists and is not closed.
func (s *Service) open(id string) bool {
	c, ok, _ := s.st.Conversation(id)
	return ok && c.State != store.ConvClosed
}
