package ivr

import "errors"

var (
	// ErrHungUp is returned by an Interaction once the contact has gone (caller hung up,
	// conversation closed). Run then ends with OutcomeAbandoned and no error.
	ErrHungUp = errors.New("ivr: contact hung up")
	// ErrUnknownNumber: Run was given a number that no config entry has.
	ErrUnknownNumber = errors.New("ivr: unknown number")
	// ErrLoop: a flow went round too many nodes without any input from the contact (or too
	// many nodes in all); the contact was hung up.
	ErrLoop = errors.New("ivr: flow loops")
)
