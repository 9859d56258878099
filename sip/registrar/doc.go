// Package registrar is ccswitch's location service: it applies REGISTER requests to the
// bindings of an address of record (RFC 3261 §10.3) and answers who is reachable where.
//
// The caller (package sip) has already validated and authenticated the request, and has
// checked that the authenticated user owns the AOR; Register only applies §10.3 steps 5–8.
//
// Invariants:
//  1. A binding is answered 200 only after store.PutBinding (synced) returned: a crash
//     after the answer loses no registration. Removals are persisted before the answer too.
//  2. For one AOR, REGISTERs are applied one at a time (the AOR's shard lock is held from
//     reading the bindings until the store write), so Call-ID/CSeq ordering (§10.3 step 7)
//     holds under concurrent retransmissions and refreshes.
//  3. Lookup never returns an expired binding; Sweep deletes them from memory and store.
//  4. Every binding that comes (Bound) or goes (Unbound: unregistered, expired, removed as
//     unreachable or with its closed flow) is one Event to every subscriber, in order per
//     AOR, emitted under the shard lock after the store write; Subscribe first replays the
//     live bindings, so a subscriber misses none and sees none twice (event.go). A refresh of
//     a live binding is not an event.
//  5. A binding is reached only through its flow: Contact.Dest is the address the REGISTER
//     came from and Transport the transport it came over; the contact URI is only the
//     Request-URI. (Vetting the contact against trunks and ccswitch itself is the caller's
//     job, before Register.)
//  6. An AOR holds at most Limits.MaxContacts live bindings: a REGISTER that would add more
//     is refused with 403 before anything changes.
//
// Lock order: one shard mutex at a time (Subscribe takes all of them, in index order); the
// store and subscribers' callbacks are called with it held (that is what makes invariants 2
// and 4 hold), nothing else is.
package registrar
