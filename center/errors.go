package center

import "errors"

// Errors of the center's own; the engine's (acd.ErrUnknownQueue, acd.ErrChannel,
// acd.ErrClosed…) come back wrapped as they are.
var (
	// ErrUnknownAgent reports an agent id that is not configured.
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrDuplicateTask reports an Enqueue whose task id is still live (it has an inbox).
	ErrDuplicateTask = errors.New("duplicate task")
	// ErrNoInbox reports an Enqueue without an Inbox for the task's events.
	ErrNoInbox = errors.New("no inbox")
	// ErrUnknownTask reports a Rehome of a task that is not live.
	ErrUnknownTask = errors.New("unknown task")
	// ErrNoCallbacks reports a RequestCallback with no voice path to place it.
	ErrNoCallbacks = errors.New("no voice path for callbacks")
)
