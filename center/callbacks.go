package center

import (
	"context"
	"fmt"

	"github.com/ccswitch/ccswitch/ivr"
)

// CallbackRequest is a text contact asking to be called (a "call me" keyword or the web chat
// widget's button): the voice path calls the customer back like a caller who accepted a
// callback, at the same priority in the queue.
type CallbackRequest struct {
	// Conversation asks; its ID names the callback's task.
	Conversation string
	// Customer is the conversation's customer; Number one of its verified channel numbers
	// (an SMS or WhatsApp identity): any other number is refused. "" takes the customer's
	// first verified number.
	Customer, Number string
	Queue            string
	Priority         int
	Requirements     ivr.Requirements
	Language         string
	Vars             map[string]string
}

// Callbacker places the callbacks text contacts ask for (the voice path).
type Callbacker interface {
	RequestCallback(ctx context.Context, r CallbackRequest) (task string, err error)
}

type callbackerBox struct{ c Callbacker }

// SetCallbacker names who places callbacks (voice.Stack.Attach sets the voice App).
func (c *Center) SetCallbacker(cb Callbacker) { c.callbacker.Store(&callbackerBox{cb}) }

// RequestCallback asks the voice path to call a text contact back (see CallbackRequest); it
// returns the callback's task. ErrNoCallbacks when no voice path is attached.
func (c *Center) RequestCallback(ctx context.Context, r CallbackRequest) (string, error) {
	b := c.callbacker.Load()
	if b == nil || b.c == nil {
		return "", fmt.Errorf("center: callback for %s: %w", r.Conversation, ErrNoCallbacks)
	}
	return b.c.RequestCallback(ctx, r)
}
