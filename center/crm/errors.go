package crm

import "errors"

var (
	// ErrDisabled is returned by Lookup when no lookup URL is configured.
	ErrDisabled = errors.New("crm: no lookup_url configured")
	// ErrTooLarge is an answer over MaxBody bytes.
	ErrTooLarge = errors.New("crm: answer too large")
	// ErrNotObject is an answer that is not a JSON object.
	ErrNotObject = errors.New("crm: answer is not a JSON object")
)
