// Package crm looks the customer of an offer up in the operator's CRM (config `crm:`) and
// hands the answer's fields to whoever shows the offer (the agent's customer card).
//
// A lookup is GET lookup_url?channel=…&handle=…[&phone=…][&email=…][&customer=…] with the
// optional auth header; the answer is a JSON object, of which the string and number members
// are kept, in document order.
//
// Fetch (asynchronous, for offers) queues a lookup for Run's workers; Lookup (synchronous) is
// what a worker runs and what tests call.
//
// Invariants:
//
//  1. An offer never waits for the CRM: Fetch never blocks (a full queue drops the lookup,
//     counted in ccswitch_crm_dropped_total and logged at most once a minute), and its
//     deliver function is called later, on a worker, only with a card that was found.
//  2. A lookup is bounded: Timeout per request, MaxBody bytes of answer (a larger one is an
//     error), MaxFields fields of at most MaxName and MaxValue characters.
//  3. Answers (found, or 404 not found) are cached for CacheTTL in an LRU of CacheSize
//     entries; errors are not cached. A Reload that changes the URL or the auth clears it.
//  4. The auth value is sent, never logged.
//
// Lock order: Client.mu (settings and cache) only; never held during a request.
package crm
