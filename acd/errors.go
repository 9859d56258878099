package acd

import "errors"

// Errors returned by the engine. Callers branch on them with errors.Is;
// messages are wrapped with the names and numbers that failed.
var (
	// ErrSyntax reports a condition that ParseCondition cannot parse.
	ErrSyntax = errors.New("syntax error")
	// ErrBadSkillType reports an unknown skill type name.
	ErrBadSkillType = errors.New("unknown skill type")
	// ErrUnknownSkill reports a condition or agent naming an undeclared skill.
	ErrUnknownSkill = errors.New("unknown skill")
	// ErrBadValue reports a skill value or operator that does not fit the skill's type.
	ErrBadValue = errors.New("bad skill value")
	// ErrUnknownQueue reports a queue name that is not configured.
	ErrUnknownQueue = errors.New("unknown queue")
	// ErrUnknownAgent reports an agent ID that is not configured.
	ErrUnknownAgent = errors.New("unknown agent")
	// ErrUnknownTask reports a task ID that is not live (never enqueued, or already ended).
	ErrUnknownTask = errors.New("unknown task")
	// ErrDuplicateTask reports an Enqueue whose task ID is still live.
	ErrDuplicateTask = errors.New("duplicate task")
	// ErrNoReservation reports an Accept or Reject of a reservation that is
	// no longer pending: accepted, rejected, timed out or cancelled before.
	ErrNoReservation = errors.New("no such pending reservation")
	// ErrTaskState reports a command that does not fit the task's state,
	// such as Complete on a task that was not accepted.
	ErrTaskState = errors.New("wrong task state")
	// ErrChannel reports a channel the queue or agent does not serve.
	ErrChannel = errors.New("channel not served")
	// ErrBadConfig reports an invalid definition; New and Apply wrap every
	// violation with it and return them all with errors.Join.
	ErrBadConfig = errors.New("bad configuration")
	// ErrBusy reports that the command ring is full; the command was not
	// submitted. Retry later or shed load.
	ErrBusy = errors.New("acd: command ring full")
	// ErrClosed reports a command submitted after Run returned.
	ErrClosed = errors.New("acd: engine closed")
	// ErrRunning reports a second call to Run.
	ErrRunning = errors.New("acd: engine already running")
)
