// Package channels brings text contacts (web chat, SMS, WhatsApp, Messenger, Telegram, email)
// into the same ACD as calls: the common inbound Message, conversations and customers, the
// text flow, and the agent-facing conversation Service. Each provider lives in its own
// subpackage (channels/whatsapp, …) and only normalises its wire format to an Inbound and
// sends replies; routing decisions belong to the ACD behind the Router interface.
//
// Invariants:
//  1. Receive returns only after the message, its dedupe key, its conversation and its
//     customer are synced to the store (one batch): a webhook answers 2xx after Receive, so a
//     crash after the answer loses nothing.
//  2. A provider message id is stored at most once per adapter: a retry returns the first
//     receipt with Duplicate set and changes nothing.
//  3. A conversation waiting for an agent has a task/ record from the moment it is queued
//     until an agent accepts it or it ends; Run re-enqueues every such record on start, and
//     puts the conversations agents held back in their queue (the new engine holds nothing,
//     so no agent is left above the capacity it counts).
//  4. Replies leave only for a conversation assigned to the replying agent.
//
// Lock order: Service.mu, then a subscriber's lock (hub.mu). Service.sendMu and Service.evMu
// are leaves (nothing is locked while holding them). Nothing does network I/O while holding
// Service.mu. Outbound messages of one conversation leave in order (one sender per conversation).
package channels
