package limit

import (
	"errors"
	"fmt"
	"time"
)

// ErrFlood is what the read filter returns for a stream (TCP/TLS) connection whose source is
// flooding: sipgo then closes the connection, since a stream cannot skip a message unparsed.
var ErrFlood = errors.New("limit: source is flooding")

// Refusal is why a call was not admitted, and the answer the caller gets.
type Refusal struct {
	Code   int    // SIP status: 403, 486 or 503
	Reason string // reason phrase
	// Limit names the limit hit (the metric label): caller_calls, callee_calls, trunk_calls,
	// call_rate, destination, daily_minutes.
	Limit string
	// RetryAfter, when set, goes in a Retry-After header (503 for the call rate).
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("limit: %s: %d %s", r.Limit, r.Code, r.Reason)
}

// The refusals, one per limit. Status codes (README "Secure by default"):
//   - an extension placing a call over its own max_calls: 403 (policy; retrying won't help
//     while its calls last);
//   - an extension placing calls faster than its call_rate: 503 with Retry-After (come back
//     shortly; RFC 3261 §21.5.4);
//   - a trunk at its max_calls, inbound: 503 (the carrier routes the call elsewhere);
//     outbound: the next trunk is tried, and 503 when none is left;
//   - an extension receiving a call at its max_calls: 486 Busy Here;
//   - a destination its rules deny, or its daily minutes spent: 403 with the reason.
func refuseCallerCalls() *Refusal {
	return &Refusal{Code: 403, Reason: "Too Many Calls", Limit: "caller_calls"}
}

func refuseCallRate(retry time.Duration) *Refusal {
	return &Refusal{Code: 503, Reason: "Call Rate Exceeded", Limit: "call_rate", RetryAfter: retry}
}

func refuseTrunkCalls() *Refusal {
	return &Refusal{Code: 503, Reason: "Too Many Calls", Limit: "trunk_calls"}
}

func refuseCalleeCalls() *Refusal {
	return &Refusal{Code: 486, Reason: "Busy Here", Limit: "callee_calls"}
}

func refuseDestination() *Refusal {
	return &Refusal{Code: 403, Reason: "Destination Not Allowed", Limit: "destination"}
}

func refuseMinutes() *Refusal {
	return &Refusal{Code: 403, Reason: "Daily Minutes Exhausted", Limit: "daily_minutes"}
}
