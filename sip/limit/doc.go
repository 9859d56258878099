// Package limit holds the SIP edge's abuse limits: a pike-like flood limit per source address
// applied to raw messages before they are parsed, and per-call limits — concurrent calls per
// extension and per trunk, calls per second per extension, allowed and denied destination
// prefixes, daily minutes per extension — with emergency numbers exempt from all of them.
//
// The sip package owns the wiring: it hands Sources' admission to sipgo's transport read
// filter, opens a Hold for each new call, asks the Hold for each slot the call needs (caller,
// trunk, callee), tells it when the call is answered, and releases it when the call ends.
//
// Invariants:
//  1. A message over its source's budget is dropped before it is parsed: sipgo creates no
//     goroutine, transaction or message for it. Exempt sources (trunk sources and outbound
//     destinations, static contacts) are never counted.
//  2. Memory is bounded under spoofed floods: at most MaxSources sources are tracked; past
//     that, new sources share one bucket until the sweep frees entries.
//  3. Every slot a Hold takes is given back exactly once: Release is idempotent, and the sip
//     package calls it when the call ends (its call record is written), whatever the path.
//  4. An emergency call is never refused by a limit and never cut; it still holds its slots,
//     so other calls see it.
//  5. Minutes of a metered call (an extension's call through a trunk) count from its answer;
//     they are stored at the call's end and every PersistEvery while it lasts, so a restart
//     loses at most that much. A call still up when its extension's cap is reached is ended.
//  6. Every refusal is counted in a metric and logged once per limit and key per minute
//     (internal/ratelog); nothing per message is logged above Debug.
//
// Locking: Sources, the call counter, the rate buckets and the meter each have one mutex; none
// is held while taking another, and none is held while calling back into the sip package.
package limit
