// Package channels brings text contacts (web chat, SMS, WhatsApp, Messenger, Telegram, email)
// into the same ACD as calls: the common inbound Message, conversations and customers, the
// text flow, and the agent-facing conversation Service. Each provider lives in its own
// subpackage (channels/whatsapp, …) and only normalises its wire format to an Inbound and
// sends replies; routing decisions belong to the ACD, reached through the contact center
// (center.Center), the same client calls use.
//
// The Service is split by stage:
//
//	inbox.go         Receive: durable receive, dedupe, customer and conversation found or made
//	conversation.go  the state machine (transition) and the one write of a conversation
//	offers.go        queueing through the center, the engine's events, offers to agents
//	outbox.go        durable delivery with retries and back-off, resumed after a restart
//	ivrflow.go       the text flow (ivr) of a new conversation
//	customers.go     customers across channels, automatic and manual links
//
// Invariants:
//  1. Receive returns only after the message, its dedupe key, its conversation and its
//     customer are synced to the store (one batch): a webhook answers 2xx after Receive, so a
//     crash after the answer loses nothing.
//  2. A provider message id is stored at most once per adapter: a retry returns the first
//     receipt with Duplicate set and changes nothing (a content digest standing for a missing
//     id, only within Inbound.DedupeFor). An email's id is its sender with its Message-ID.
//  3. Every change of a conversation goes through transition, and its every field, its
//     task/ record (exactly while it is queued, with its queue, priority and requirements)
//     and its new messages are written in one synced batch (Service.update): a transferred or
//     restarted conversation keeps what it is routed with. Run re-enqueues every task/ record
//     on start, and puts the conversations agents held back in their queue (the new engine
//     holds nothing, so no agent is left above the capacity it counts).
//  4. Replies leave only for a conversation assigned to the replying agent.
//  5. An outbound message is stored "sending" before any attempt, and stays listed in the
//     outbox until the provider took it or the attempts ran out ("failed: …"; at once when the
//     adapter says it is ErrUndeliverable); messages of one conversation leave in order; a
//     stop leaves the rest "sending", sent at the next start.
//  6. The engine's events of one conversation are applied in order; a conversation the engine
//     refuses is ended with the reason, never left waiting.
//  7. A customer is found or linked automatically only by what the channel proves: the
//     handle replies reach (adapter + From) and the identities the provider vouches for (a
//     WhatsApp id's number, a Telegram user's own shared contact, the address an email is
//     answered at). What a customer types about themselves (an email, a phone or a name in the
//     widget) is a claim: kept as a "claimed-…" hint agents search by, never a key that
//     finds, links or shows a verified customer (store invariant 4). Only an agent links.
//  8. An alphanumeric sender ("Shop123") is its own identity, never a phone number.
//
// Concurrency: what one conversation does is ordered by its lock (keyLocks; a first message
// by its sender's lock, taken before the conversation's); different conversations read,
// decide and commit at once, so one webhook's fsync does not hold the others (pebble groups
// concurrent commits). customers' lock (custMu) is taken, after a conversation's, only by a
// message that changes customer records, until its batch is committed. offers.mu,
// outbox.mu, flowRuns.mu and hub.mu are leaves. Nothing does network I/O while holding a lock.
package channels
