// Package hook delivers signed JSON events of calls and conversations (offer, accept, end,
// wrapup) to the operator's endpoints (config `webhooks:`).
//
// The engine's events come in through ACDEvent (an acd.Sink function), on the engine's
// goroutine; Run owns every other goroutine: one fan-out that describes each event (Details)
// and hands it to the endpoints that subscribed to its type, and one sender per endpoint that
// POSTs its events in order, retrying with back-off.
//
// Invariants:
//
//  1. Nothing here blocks the caller of ACDEvent or Publish: the intake and every endpoint's
//     queue are bounded, and an event that finds one full is dropped, counted
//     (ccswitch_hook_dropped_total) and logged at most once a minute per endpoint.
//  2. Every request carries X-Ccswitch-Timestamp (Unix seconds) and X-Ccswitch-Signature:
//     sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)); each attempt is signed anew, so
//     a receiver may refuse timestamps older than a few minutes (replays) and dedupe on the
//     event id, which stays the same across attempts.
//  3. One endpoint's events are sent in the order they were published, one at a time; an
//     attempt is bounded by the endpoint's timeout, an event by its attempts (2xx: delivered;
//     4xx other than 408 and 429: refused at once; anything else: retried after 1s, 2s, 4s…
//     at most 1m apart).
//  4. A slow or failing endpoint delays only its own events.
//  5. Reload keeps the queued events of an endpoint whose settings changed (they are signed
//     with the new secret); those of a removed endpoint are dropped and counted.
//
// Lock order: Dispatcher.mu only; never held while sending.
package hook
