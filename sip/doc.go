// Package sip is ccswitch's SIP side: it listens on UDP (IPv4 and IPv6), TCP and TLS, checks
// every datagram before parsing and validates every request,
// authenticates extensions and trunks, keeps registrations (sip/registrar), and runs the
// B2BUA that bridges callers to extensions, DIDs to extensions and extensions to trunks.
//
// Each call is two dialogs: leg A (we are its UAS) and leg B (we are its UAC, with our own
// Call-ID, From tag and Contact; no Record-Route). An INVITE's handler goroutine owns the
// call until leg A has its final response; afterwards the call lives in a map of legs and
// uses no goroutine until a BYE.
//
// Invariants:
//  1. No request reaches a handler without passing validate.Request, and every handler runs
//     under a recover that turns a panic into 500 (Server.panics counts them; tests assert 0).
//  2. No provisional response is sent on leg A after its final response: relays of 18x and
//     the final answer are ordered by call.mu and call.aFinal.
//  3. No call reaches a trunk unless the caller authenticated (407) as an extension with
//     Outbound set (or dialled an emergency number); requests from a trunk's sources only
//     reach numbers we own (no relay). One decision says so: route.Decide (sip/route), which
//     onInvite and Server.Decide (REFER, click-to-dial, callbacks) both call.
//  4. Every call ends in exactly one store.CallRecord (call.end is idempotent), with its
//     legs' media figures read from the anchor before it releases the call, handed to the
//     CallRecorder (the center) or else written to the store.
//  5. Per-call goroutines end with ringing: forks end when answered, failed or CANCELled;
//     an established call holds none. Server.Run returns only after its goroutines stop.
//  6. Only ccswitch's own legs are ever ACKed/BYEd from the unhandled-response path: a live
//     leg B (re-ACK) or a fork that lost (ACK + BYE); other strays are dropped.
//  7. A message from a source over sip.limits.source_rate is dropped by the transport read
//     filter before sipgo parses it (sip/limit, limits.go). Every call's limit slots (a
//     limit.Hold) are released by call.end, so they are released once whatever the path.
//  8. A binding registered over TCP/TLS lives no longer than its connection (flow), and the
//     connection no shorter than the binding: an accepted connection has an idle bound only
//     while no binding and no call holds it (conn.go). Calls to such a binding go over its
//     connection or not at all.
//  9. Every outbound TLS handshake is verified (tls.go): chain against the trunk's CA or the
//     system roots, name against tls_server_name or the dialled host. Every request that had
//     to come over TLS and did not (sips:, require_tls) is refused 403 and counted.
//  10. A registered contact is reached only through its flow: every request of a call to it
//     (INVITE, ACK, BYE, relayed re-INVITEs) goes to the address its REGISTER came from, over
//     that transport, never to its Contact's host, maddr or a Record-Route it answers with;
//     no REGISTER binds a contact on a trunk's address or on ccswitch, comes from a trunk, or
//     is addressed to one (flow.go). Static contacts from the config are resolved as written.
//  11. Every UDP datagram passes the read path (readpath.go) before sipgo parses it; what it
//     cannot accept is answered statelessly (400, 416) or dropped. No behaviour depends on
//     sipgo's log output.
//  12. Every refusal (malformed message, digest failure, lockout, REGISTER refused, NAT
//     keepalive unanswered, routing refusal, trunk failover, failed registration with a
//     carrier) is counted in a ccswitch_sip_* metric and logged through ratelog at most once
//     a minute per key.
//  13. Identity headers (P-Asserted-Identity, Remote-Party-ID, Diversion, History-Info,
//     Privacy) are read only from trunks' requests and removed from every other request
//     before anything reads it (RFC 3325); calls out carry only configured caller IDs.
//  14. A trunk's inbound call is recognised by its source, its digest, or its registration
//     (line token or username) only when it also comes from the registrar's address or the
//     trunk's sources: a token alone is not a trunk.
//  15. Every SDP body that crosses the B2BUA goes through the SDPAnchor, whichever side offers
//     and in whichever message (INVITE, 18x, 2xx, ACK, PRACK, re-INVITE, UPDATE): a delayed
//     offer is B's 2xx offer anchored into ours to A, and A's answer (ACK or PRACK) anchored
//     into B's ACK, which waits for it (offer.go). No party ever sees another's media address.
//  16. One offer/answer exchange per call at a time (call.negotiating): a second one is glare
//     and gets 491, never 488. A 2xx we send to a re-INVITE is retransmitted until its ACK
//     (64·T1, then BYE); the ACK we sent for a 2xx is re-sent, body included, for its
//     retransmissions (unhandledResponse), and kept for 64·T1, as long as they can come.
//  17. A transfer target is routed by decide, the function a dialled INVITE is routed by: a
//     REFER authenticates as the leg's extension, names ccswitch in Refer-To, and gets no
//     more than that extension could dial (transfer.go); Replaces joins only the same
//     extension's own call.
//  18. Session timers and reliable provisionals are per leg (sessiontimer.go, prack.go): a
//     bare UPDATE is answered, never relayed; a leg whose session is not refreshed ends with
//     BYE; a reliable 18x is retransmitted only until its PRACK or the final answer.
//
// Maps: legs (Call-ID|our tag → *Leg), calls (call id → *call), losers (Call-ID → expiry),
// early (Call-ID|our tag of a leg A with reliable provisionals → *reliableA) are sync.Maps; there is no global lock on the call path.
//
// Lock order: call.mu may be held while writing a provisional response on leg A (that is
// what invariant 2 needs); it is never held while waiting on the network otherwise. The
// registrar's shard locks, auth's shard locks and healthMu are leaves, except that the
// registrar calls its subscribers with a shard lock held: natPinger.event then takes
// natPinger.mu (registrar shard → natPinger.mu) and the stream side takes streams.mu
// (events), streams.mu then a flowConn's mu. Neither the pinger nor the stream side calls
// the registrar with natPinger.mu or streams.mu held.
package sip
