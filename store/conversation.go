package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Conversation states.
const (
	ConvFlow     = "flow"     // the channel's text flow is talking with the customer
	ConvQueued   = "queued"   // waiting in an ACD queue (a task/ record exists)
	ConvAssigned = "assigned" // an agent accepted it
	ConvClosed   = "closed"   // closed by the agent (wrap-up recorded) or abandoned
)

// Conversation is one thread with a customer on one channel adapter.
type Conversation struct {
	ID       string `json:"id"`
	Customer string `json:"customer"`
	// Adapter is the channel adapter ("webchat", "whatsapp", "sms", …) and Address the
	// customer's handle there, where replies go (a wa_id, a phone number, a visitor id, …).
	Adapter string `json:"adapter"`
	Address string `json:"address"`
	// Route is where replies leave from when the adapter has several (a phone-number-id, a
	// Twilio number, a page id); empty means the adapter's default.
	Route   string `json:"route,omitempty"`
	State   string `json:"state"`
	Queue   string `json:"queue,omitempty"`
	Agent   string `json:"agent,omitempty"`
	Subject string `json:"subject,omitempty"` // email subject
	// Thread is the last email Message-ID of the conversation, which a reply answers.
	Thread string `json:"thread,omitempty"`
	// Vars are what the flow learned (language, choices) and "entry", the number whose flow
	// the conversation went through.
	Vars map[string]string `json:"vars,omitempty"`
	// Priority and Requirements are what the conversation is routed with (the flow's and the
	// adapter's), kept across transfers and restarts; Enqueued is when it last entered a
	// queue.
	Priority     int       `json:"priority,omitempty"`
	Requirements []string  `json:"requirements,omitempty"`
	Enqueued     time.Time `json:"enqueued,omitzero"`
	LastSeq      uint64    `json:"last_seq"`
	WrapUp       string    `json:"wrapup,omitempty"`
	Notes        string    `json:"notes,omitempty"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	Closed       time.Time `json:"closed,omitzero"`
}

// Attachment is a file a message carries; the bytes stay at the provider (URL or media id).
type Attachment struct {
	Type     string `json:"type"` // MIME type
	Size     int64  `json:"size,omitempty"`
	Name     string `json:"name,omitempty"`
	URL      string `json:"url,omitempty"`
	MediaID  string `json:"media_id,omitempty"`
	Rejected string `json:"rejected,omitempty"` // why it was not kept (type or size limit)
}

// Message directions.
const (
	In     = "in"     // from the customer
	Out    = "out"    // from an agent or the flow
	System = "system" // a note in the timeline (transfer, close)
)

// Message is one message of a conversation, numbered by Seq from 1.
type Message struct {
	Conv        string       `json:"conv"`
	Seq         uint64       `json:"seq"`
	Dir         string       `json:"dir"`
	Adapter     string       `json:"adapter"`
	ProviderID  string       `json:"provider_id,omitempty"`
	ClientID    string       `json:"client_id,omitempty"`
	Agent       string       `json:"agent,omitempty"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Email threading: this message's Message-ID and what it answered.
	MessageID string    `json:"message_id,omitempty"`
	InReplyTo string    `json:"in_reply_to,omitempty"`
	Time      time.Time `json:"time"`
	// Status of an outbound message: StatusSending until the provider took it (StatusSent)
	// or the outbox gave up ("failed: …"); Attempts and Error are the deliveries tried so far
	// and the last one's error.
	Status   string `json:"status,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Statuses of an outbound message.
const (
	StatusSending = "sending" // stored, not yet taken by the provider (the outbox holds it)
	StatusSent    = "sent"    // the provider took it
	// A message the outbox gave up on has the status "failed: " and the reason.
)

// QueuedTask is a text contact waiting for (or offered to) an agent, derived from its queued
// conversation in the same batch (channels): a restart re-enqueues every one of them.
type QueuedTask struct {
	Conv         string    `json:"conv"`
	Queue        string    `json:"queue"`
	Channel      string    `json:"channel"` // acd channel: chat, email, social
	Priority     int       `json:"priority,omitempty"`
	Requirements []string  `json:"requirements,omitempty"`
	Enqueued     time.Time `json:"enqueued"`
}

func convKey(id string) []byte             { return []byte("conv/" + id) }
func custConvKey(cust, conv string) []byte { return []byte("custconv/" + cust + "\x00" + conv) }
func msgPrefix(conv string) []byte         { return []byte("msg/" + conv + "\x00") }
func msgKey(conv string, seq uint64) []byte {
	return fmt.Appendf(msgPrefix(conv), "%016x", seq)
}
func taskKey(conv string) []byte { return []byte("task/" + conv) }
func dedupeKey(adapter, providerID string) []byte {
	return []byte("dedupe/" + adapter + "\x00" + providerID)
}
func openKey(adapter, address string) []byte { return []byte("open/" + adapter + "\x00" + address) }
func outboxKey(conv string, seq uint64) []byte {
	return fmt.Appendf([]byte("outbox/"+conv+"\x00"), "%016x", seq)
}
func threadKey(messageID string) []byte { return []byte("thread/" + messageID) }

// MessageRef locates a stored message.
type MessageRef struct {
	Conv string `json:"conv"`
	Seq  uint64 `json:"seq"`
}

// PutConversation writes c, its customer index entry and, while it is not closed, the
// (adapter, address) → open conversation pointer.
func (b *Batch) PutConversation(c Conversation) {
	b.set(convKey(c.ID), c)
	b.set(custConvKey(c.Customer, c.ID), MessageRef{Conv: c.ID})
	if c.State == ConvClosed {
		b.delete(openKey(c.Adapter, c.Address))
	} else {
		b.set(openKey(c.Adapter, c.Address), MessageRef{Conv: c.ID})
	}
}

// PutMessage writes m and, when it has a provider id, the dedupe key for it; an outbound
// message is listed in the outbox (outbox/) exactly while its status is StatusSending.
func (b *Batch) PutMessage(m Message) {
	b.set(msgKey(m.Conv, m.Seq), m)
	if m.ProviderID != "" && m.Dir == In {
		b.set(dedupeKey(m.Adapter, m.ProviderID), MessageRef{Conv: m.Conv, Seq: m.Seq})
	}
	if m.Dir == Out {
		if m.Status == StatusSending {
			b.set(outboxKey(m.Conv, m.Seq), MessageRef{Conv: m.Conv, Seq: m.Seq})
		} else {
			b.delete(outboxKey(m.Conv, m.Seq))
		}
	}
}

// Outbox returns the outbound messages not yet delivered nor given up (StatusSending), in
// conversation and sequence order: what a restart sends again.
func (s *Store) Outbox() ([]MessageRef, error) {
	var out []MessageRef
	err := s.scan([]byte("outbox/"), func(key, val []byte) (bool, error) {
		var r MessageRef
		if err := json.Unmarshal(val, &r); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, r)
		return true, nil
	})
	return out, err
}

// PutDedupe records that a provider's message id was seen (for ids that are not stored as
// messages, such as a web chat client id).
func (b *Batch) PutDedupe(adapter, providerID string, ref MessageRef) {
	b.set(dedupeKey(adapter, providerID), ref)
}

// PutThread maps an email Message-ID to its conversation.
func (b *Batch) PutThread(messageID, conv string) {
	b.set(threadKey(messageID), MessageRef{Conv: conv})
}

// PutTask records a waiting text contact; DeleteTask forgets it.
func (b *Batch) PutTask(t QueuedTask) { b.set(taskKey(t.Conv), t) }

// DeleteTask forgets the waiting text contact of conversation conv.
func (b *Batch) DeleteTask(conv string) { b.delete(taskKey(conv)) }

// Conversation reads one conversation.
func (s *Store) Conversation(id string) (Conversation, bool, error) {
	var c Conversation
	ok, err := s.get(convKey(id), &c)
	return c, ok, err
}

// OpenConversation returns the id of the conversation not yet closed with address on adapter.
func (s *Store) OpenConversation(adapter, address string) (string, bool, error) {
	var r MessageRef
	ok, err := s.get(openKey(adapter, address), &r)
	return r.Conv, ok, err
}

// Thread returns the conversation an email Message-ID belongs to.
func (s *Store) Thread(messageID string) (string, bool, error) {
	var r MessageRef
	ok, err := s.get(threadKey(messageID), &r)
	return r.Conv, ok, err
}

// Seen reports where a provider's message id was stored, if it was.
func (s *Store) Seen(adapter, providerID string) (MessageRef, bool, error) {
	var r MessageRef
	ok, err := s.get(dedupeKey(adapter, providerID), &r)
	return r, ok, err
}

// CustomerConversations lists the conversation ids filed under customer id (not following merges).
func (s *Store) CustomerConversations(cust string) ([]string, error) {
	var out []string
	prefix := []byte("custconv/" + cust + "\x00")
	err := s.scan(prefix, func(key, _ []byte) (bool, error) {
		out = append(out, string(key[len(prefix):]))
		return true, nil
	})
	return out, err
}

// Conversations returns every conversation in key order; state filters when not empty.
func (s *Store) Conversations(state string) ([]Conversation, error) {
	var out []Conversation
	err := s.scan([]byte("conv/"), func(key, val []byte) (bool, error) {
		var c Conversation
		if err := json.Unmarshal(val, &c); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		if state == "" || c.State == state {
			out = append(out, c)
		}
		return true, nil
	})
	return out, err
}

// Messages returns the messages of conv with Seq > after, in order.
func (s *Store) Messages(conv string, after uint64) ([]Message, error) {
	var out []Message
	lower := msgKey(conv, after+1)
	err := s.scan(msgPrefix(conv), func(key, val []byte) (bool, error) {
		if string(key) < string(lower) {
			return true, nil
		}
		var m Message
		if err := json.Unmarshal(val, &m); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, m)
		return true, nil
	})
	return out, err
}

// Message reads one message.
func (s *Store) Message(conv string, seq uint64) (Message, bool, error) {
	var m Message
	ok, err := s.get(msgKey(conv, seq), &m)
	return m, ok, err
}

// Tasks returns every waiting text contact.
func (s *Store) Tasks() ([]QueuedTask, error) {
	var out []QueuedTask
	err := s.scan([]byte("task/"), func(key, val []byte) (bool, error) {
		var t QueuedTask
		if err := json.Unmarshal(val, &t); err != nil {
			return false, fmt.Errorf("store: decode %q: %w", key, err)
		}
		out = append(out, t)
		return true, nil
	})
	return out, err
}
