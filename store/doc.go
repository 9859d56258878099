// Package store keeps ccswitch's durable state in a pebble database: SIP registrations, call
// records and (later) customers, conversations and queued text contacts.
//
// Key layout, one prefix per kind of record (values are JSON, so records can grow fields):
//
//	reg/<aor>\x00<contact>     a location binding (Binding)
//	cdr/<start, 16 hex digits of unix nanos>/<id>   a call record (CallRecord)
//	cust/<id>                  a customer (Customer); merged ones keep MergedInto
//	ident/<kind>\x00<value>    identity → customer (one customer, many identities); never a claim
//	conv/<id>                  a text conversation (Conversation)
//	custconv/<cust>\x00<conv>  conversations filed under a customer
//	open/<adapter>\x00<addr>   the conversation not yet closed with that handle
//	msg/<conv>\x00<seq, 16 hex digits>   a message (Message)
//	dedupe/<adapter>\x00<provider message id>   where a provider's message was stored
//	thread/<Message-ID>        email threading: Message-ID → conversation
//	task/<conv>                a text contact waiting for an agent (QueuedTask)
//	outbox/<conv>\x00<seq>     an outbound message still to deliver (status "sending")
//	secret/<name>              a random key created once (web chat visitor tokens)
//	audit/<time, 16 hex digits of unix nanos>/<random>   who linked or unlinked customers (Audit)
//	usage/<day>\x00<user>      seconds of trunk calls an extension placed that day (sip/limit)
//	callback/<task>            a callback a caller accepted, still to make (Callback)
//	cbcap/<day>\x00<number>    callbacks promised to a number that day (the daily cap)
//	vmail/<task>               a message a caller left to a queue, not completed yet (Voicemail)
//
// Invariants:
//  1. A write that a peer is told about (a registration answered 200, a message acknowledged,
//     a call record, which billing and reports rely on) is synced to disk before Put returns:
//     a crash after the answer loses nothing. Synced writes arriving within a millisecond of
//     each other (registrations, call records) share one sync (group commit); each returns
//     only after that sync.
//  2. Records that nobody was promised are written without a sync; pebble's WAL still orders
//     them, and Close flushes them.
//  3. Keys never contain a byte an AOR or URI can contain as a separator: AORs and contacts are
//     joined with a NUL, which SIP forbids in both.
//  4. An identity the customer only typed (a claim: kind "claimed-…") is kept on the record
//     for agents to search, but never indexed under ident/: no later message can be matched
//     to a customer, or two customers merged, by what someone typed.
package store
