// Package validate checks an incoming SIP request against the rules sipgo's lenient parser
// does not enforce (RFC 3261 §8.2, §16.3, RFC 4475), before any handler sees it, and tells
// the caller which error response to send; and it checks (Datagram) and normalises
// (Normalize) a message's raw bytes before sipgo parses them.
//
// Invariants:
//  1. Request is a pure function of the message and the Policy: no I/O, no allocation
//     on the accept path beyond header lookups.
//  2. The checks run in the order RFC 3261 §8.2 gives (method, then URI scheme, then
//     headers, then extensions), so a message with several faults always gets the same
//     answer.
//  3. Every value Sanitize returns is safe to write into a header: no CR, LF or NUL.
//  4. Datagram and Normalize look at raw bytes, before sipgo parses them (the UDP read
//     path): Datagram refuses what no parser should have to guess about (control bytes,
//     bare CR or LF, header names that are not tokens); Normalize changes only LWS around
//     '=' in parameters, which RFC 3261 allows and sipgo mis-reads.
package validate
