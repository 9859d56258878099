// Package store keeps ccswitch's durable state in a pebble database: SIP registrations, call
// records and (later) customers, conversations and queued text contacts.
//
// Key layout, one prefix per kind of record (values are JSON, so records can grow fields):
//
//	reg/<aor>\x00<contact>     a location binding (Binding)
//	cdr/<start, 16 hex digits of unix nanos>/<id>   a call record (CallRecord)
//
// Invariants:
//  1. A write that a peer is told about (a registration answered 200, a message acknowledged)
//     is synced to disk before Put returns: a crash after the answer loses nothing.
//  2. Records that nobody was promised (call records) are written without a sync; pebble's
//     WAL still orders them, and Close flushes them.
//  3. Keys never contain a byte an AOR or URI can contain as a separator: AORs and contacts are
//     joined with a NUL, which SIP forbids in both.
package store
