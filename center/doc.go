// Package center is the contact center between the protocols and the queue engine: the one
// client of the ACD for calls and text alike, the one owner of agent presence, and the ledger
// of call records.
//
//	sip/voice ─┐                       ┌─ acd.Engine (routing decisions)
//	channels ──┼─▶ center.Center ──────┼─ ivr.Flows (compiled here, shared)
//	web ───────┘   client · presence   └─ store (call records)
//	               records · metrics
//
// # The ACD client
//
// Center owns the acd.Engine: New builds it from the configuration, Run runs it, Reload
// applies a new configuration to it (tasks already waiting get the new queue rules), and
// Snapshot reads its last published figures. Voice and text submit the same typed commands:
// Enqueue (an acd.Task whose requirements were parsed when the flows were compiled, never per
// enqueue), Accept, Reject, Cancel, Complete, EndWrapUp and Transfer. A command never fails
// because the engine is busy: when the engine's ring is full, the caller waits for room
// (acd.Engine.WaitRoom) until its context ends. Every event of a task goes to the Inbox named
// at Enqueue, in engine order, until the task's wrap-up ends (or it ends without one): no
// other task's events, nothing dropped, and never a block of the engine.
// Observers of every event (the signed event webhooks, center/hook) are added with AddSink:
// they run on the engine goroutine and must not block.
// Rehome sends a live task's events to another inbox (a caller who accepted a callback hands
// the task, at its place, to the voice path's callbacks). ExpectedWait estimates a waiting
// contact's wait from the queue's recent handle times (acd "Expected wait"), which the center
// keeps from the engine's events (waits.go). RequestCallback passes a text contact's "call me"
// to the voice path that SetCallbacker named.
//
// # Presence
//
// Center alone decides whether an agent is signed in, on which channels, and whether ready.
// An agent is signed in for voice while one of their voice devices is up (DeviceUp: a
// registered phone, later a browser phone) and they have auto_login, or after an explicit
// voice login (VoiceLogin: *45, the desktop's "log in to voice") until an explicit voice
// logout (VoiceLogout: *44, the desktop's "log out of voice"), which beats auto_login until
// the next explicit login. An agent is signed in for text while a desktop session is open
// (SessionOpened, SessionClosed). Ready or not ready, with a free-text reason, is one state
// whoever sets it (SetReady, ToggleReady, the engine's RONA); an agent who signs in from
// nothing starts ready when a phone or an explicit login brought them, not ready ("logged
// in") when a desktop did. Every change is a Presence value given to the watchers
// (WatchPresence): the desktop and the wallboard.
//
// # Call records
//
// The SIP side hands over the record of each SIP call it ends (CallEnded, with the media
// figures of its legs); the voice path hands over how a flow call went (FlowEnded: flow,
// variables, the ACD tasks it waited in, the agent legs it dialled); the engine's events give
// each voice task's queue, agent, wait, talk and wrap-up times. A record is written once, when
// all its parts are in (store, synced), and appended to the JSON-lines export
// (call_records.export); a dialled agent leg is folded into the call it served.
//
// # Goroutines
//
// Run runs three goroutines and returns after all of them stopped: the engine, the presence
// owner, and the records' sweeper. The engine's Sink (dispatch) runs on the engine goroutine
// and never blocks: it appends to inboxes, to the presence owner's queue and to the ledger,
// and hands the event to the sinks added with AddSink (which must not block either).
// Every exported method may be called from any goroutine. DeviceUp, DeviceDown,
// SessionOpened, SessionClosed, VoiceLogin, VoiceLogout and SetReady queue an input for the
// presence owner and return at once (they may be called where blocking is forbidden, such as
// a registrar subscription); Sync waits until the inputs queued before it have reached the
// engine and the engine has published them.
//
// # Invariants
//
// Tests cite these numbers.
//
//  1. Every command submitted while the engine runs is submitted exactly once: a full ring
//     makes the caller wait, never drops the command nor retries it by sleeping.
//  2. A task's events reach exactly the Inbox it was enqueued with, in engine order, from
//     its first event to its last (EventWrapUpEnded, EventTaskAbandoned, EventTaskTimedOut,
//     or the failure of its enqueue); a failed Accept or Reject reaches the inbox of the task
//     whose reservation it named.
//  3. An agent is signed in on the voice channel exactly when (auto_login and a device up and
//     no explicit voice logout since the last explicit login) or an explicit voice login is
//     in force; on the text channels exactly when a desktop session is open. Nothing else
//     signs an agent in or out (TestPresenceTable).
//  4. The engine's view follows the presence owner's: after Sync, the snapshot shows each
//     agent offline exactly when it is signed in on no channel, and signed in
//     (acd.AgentStatus.Channels) on exactly the channels of invariant 3.
//  5. A call record is written once, after every part named for it is in, or when the
//     sweeper gives up waiting (RecordTimeout) or Run ends: then with the parts it has.
//
// Lock order: Center.routes, presence.mu and ledger.mu are leaves; no lock is held while
// submitting to the engine or calling a watcher.
package center
