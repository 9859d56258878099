package channels

import (
	"context"
	"fmt"
	"strings"

	"github.com/ccswitch/ccswitch/acd"
	"github.com/ccswitch/ccswitch/center"
	"github.com/ccswitch/ccswitch/ivr"
	"github.com/ccswitch/ccswitch/store"
)

// callMeWords are the messages that ask for a call while a conversation waits in a queue.
var callMeWords = []string{"call me", "call me back", "please call me", "appelez-moi", "rappelez-moi"}

// isCallMe reports whether a message asks for a call.
func isCallMe(text string) bool {
	t := strings.Trim(strings.ToLower(strings.TrimSpace(text)), ".!?")
	for _, w := range callMeWords {
		if t == w {
			return true
		}
	}
	return false
}

// callMe asks the voice path (center.RequestCallback) to call the customer of a queued
// conversation back, in its queue at its priority, on the conversation's number when it came
// by SMS or WhatsApp, else on the customer's verified number, never on a typed one (issue 15).
// The conversation stays queued: the first agent to reach the customer, by text or by phone,
// serves it. It returns the callback's task.
func (s *Service) callMe(ctx context.Context, c store.Conversation) (string, error) {
	number := ""
	if c.Adapter == "sms" || c.Adapter == "whatsapp" {
		number = c.Address
	}
	var reqs ivr.Requirements
	for _, r := range c.Requirements {
		if cond, err := acd.ParseCondition(r); err == nil {
			reqs = append(reqs, cond)
		}
	}
	task, err := s.cc.RequestCallback(ctx, center.CallbackRequest{Conversation: c.ID, Customer: c.Customer, Number: number,
		Queue: c.Queue, Priority: c.Priority, Requirements: reqs, Language: c.Vars["language"], Vars: c.Vars})
	if err != nil {
		s.log.Info("call me: no callback", "conversation", c.ID, "error", err)
		return "", err
	}
	s.log.Info("call me: callback queued", "conversation", c.ID, "task", task)
	return task, nil
}

// CallMe is the "call me" a client asks for without a message (the web chat widget's button):
// the open conversation of address on adapter, while it waits in a queue, is called back as
// the keyword would have it (callMe: the verified number only; the request carries none).
// ErrNotQueued when the address has no conversation waiting for an agent.
func (s *Service) CallMe(ctx context.Context, adapter, address string) (string, error) {
	id, ok, err := s.st.OpenConversation(adapter, address)
	if err != nil {
		return "", fmt.Errorf("channels: call me: %w", err)
	}
	if !ok || id == "" {
		return "", fmt.Errorf("channels: call me: %w", ErrNotQueued)
	}
	c, ok, err := s.st.Conversation(id)
	if err != nil {
		return "", fmt.Errorf("channels: call me: %w", err)
	}
	if !ok || c.State != store.ConvQueued {
		return "", fmt.Errorf("channels: call me %s: %w", id, ErrNotQueued)
	}
	return s.callMe(ctx, c)
}
