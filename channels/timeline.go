package channels

import (
	"fmt"
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/store"
)

// TimelineItem is one message or call in a customer's history.
type TimelineItem struct {
	Kind    string            `json:"kind"` // message, call
	Conv    string            `json:"conv,omitempty"`
	Adapter string            `json:"adapter,omitempty"`
	Message *store.Message    `json:"message,omitempty"`
	Call    *store.CallRecord `json:"call,omitempty"`
}

func (i TimelineItem) at() int64 {
	if i.Message != nil {
		return i.Message.Time.UnixNano()
	}
	return i.Call.Start.UnixNano()
}

// Timeline is a customer's history across channels, oldest first.
type Timeline struct {
	Customer      store.Customer       `json:"customer"`
	Conversations []store.Conversation `json:"conversations"`
	Items         []TimelineItem       `json:"items"`
}

// Timeline gathers the conversations of customer id and of every customer merged into it, and
// the call records whose caller (or callee) is one of its phone numbers.
func (s *Service) Timeline(id string) (Timeline, error) {
	c, ok, err := s.st.Customer(id)
	if err != nil {
		return Timeline{}, err
	}
	if !ok {
		return Timeline{}, fmt.Errorf("channels: customer %s: %w", id, ErrNotFound)
	}
	t := Timeline{Customer: c, Conversations: []store.Conversation{}, Items: []TimelineItem{}}
	for _, cid := range append([]string{c.ID}, c.Merged...) {
		convs, err := s.st.CustomerConversations(cid)
		if err != nil {
			return t, err
		}
		for _, id := range convs {
			conv, ms, err := s.Conversation(id, 0)
			if err != nil {
				return t, err
			}
			t.Conversations = append(t.Conversations, conv)
			for i := range ms {
				t.Items = append(t.Items, TimelineItem{Kind: "message", Conv: conv.ID, Adapter: conv.Adapter, Message: &ms[i]})
			}
		}
	}
	phones := map[string]bool{}
	for _, id := range c.Identities {
		switch id.Kind {
		case "phone", "sms", "whatsapp":
			if p := Phone(id.Value); p != "" {
				phones[p] = true
			}
		}
	}
	if len(phones) > 0 {
		// A scan of every call record: fine for a desktop lookup at this size; an index by
		// number (cdrnum/) is the next step when the records grow.
		recs, err := s.st.CallRecords(time.Time{}, 0)
		if err != nil {
			return t, err
		}
		for i := range recs {
			if phones[Phone(recs[i].From)] || phones[Phone(recs[i].To)] {
				t.Items = append(t.Items, TimelineItem{Kind: "call", Call: &recs[i]})
			}
		}
	}
	slices.SortStableFunc(t.Items, func(a, b TimelineItem) int {
		switch x, y := a.at(), b.at(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	slices.SortFunc(t.Conversations, func(a, b store.Conversation) int { return a.Created.Compare(b.Created) })
	return t, nil
}
