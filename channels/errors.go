package channels

import "errors"

// Errors the web layer maps to HTTP statuses.
var (
	// ErrNotFound: no such conversation, customer or offer.
	ErrNotFound = errors.New("not found")
	// ErrNotYours: the conversation is not assigned to (or offered to) this agent.
	ErrNotYours = errors.New("conversation not assigned to this agent")
	// ErrNoAdapter: the conversation's channel is not enabled.
	ErrNoAdapter = errors.New("channel adapter not enabled")
	// ErrBadInput: the request is malformed (empty text, unknown queue).
	ErrBadInput = errors.New("bad input")
	// ErrUndeliverable: an adapter can never send this message (a recipient address that is
	// not safe in a header); the outbox gives it up at once instead of retrying.
	ErrUndeliverable = errors.New("undeliverable")
	// ErrNotQueued: a call was asked for a contact that is not waiting in a queue (CallMe).
	ErrNotQueued = errors.New("no conversation waiting in a queue")
)
