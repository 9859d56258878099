// Package webphone is the agents' browser phone: it terminates a browser's WebRTC media in
// ccswitch and presents each browser to the SIP side as one more phone of the agent's
// extension.
//
// # Shape
//
// A Gateway (New) owns three sockets shared by every browser: the ICE UDP mux (config
// webrtc.port, on media.ip; ICE-lite host candidates name media.public_ip when set, else
// media.ip), and a SIP user agent on the address of ccswitch's own UDP listener (port 0). A
// desktop's WebSocket opens a Line (Gateway.Line); "phone.connect" on it REGISTERs the agent's
// extension (digest, its users[].secret) with a contact of its own, so ccswitch's registrar,
// the voice path's presence (center.DeviceUp/DeviceDown through registrar events), forking,
// RONA (CANCEL), hang-up (BYE) and call records treat the browser exactly as a desk phone.
// Click-to-dial is an INVITE from that extension to ccswitch: the dialled-call path, with its
// outbound permission, limits and routing, decides; this package checks nothing itself.
//
// # The media seam
//
// A browser leg (Leg) is a pion PeerConnection (ICE-lite, DTLS-SRTP, one G.711 law, no
// transcoding) joined to a plain RTP socket on media.ip. That socket is what ccswitch's media
// engine sees as the leg's RTP peer: the SDP the Leg answers or offers on the SIP side names it,
// so a browser leg is bridged, recorded, mixed and DTMF-detected by media.Call like any anchored
// RTP leg (LegB of the agent's call), with no change to media.
//
// # Invariants
//
//  1. A Line holds at most one registration and one call at a time; a second INVITE to a busy
//     browser gets 486, an INVITE for a contact no Line holds gets 404.
//  2. Every call of a Line ends when the Line closes (WebSocket gone): BYE when answered, 480
//     while ringing, CANCEL while dialling; then the registration is removed (Expires: 0).
//  3. A Leg sends RTP to ccswitch only from its socket and takes RTP only from the media
//     address of ccswitch (strict source; others dropped and counted); its outgoing stream has
//     one SSRC and a sequence number rising by one per packet, across audio and RFC 4733 digits.
//  4. On hold, the Leg sends silence in place of the browser's audio (the caller's RTP timeout
//     does not fire) and forwards nothing to the browser.
//  5. Close of a Leg closes the PeerConnection and the RTP socket and returns after its two
//     pumps (browser → RTP, RTP → browser) have ended.
//  6. The SIP socket serves only ccswitch's SIP address (its IP): anyone else gets 403, counted
//     (ccswitch_webphone_failures_total{reason="stranger"}) and logged once a minute. A contact
//     user is "wp-" and 72 random bits; bindings with that prefix left by a dead process are
//     removed at start (cmd/ccswitch).
//
// # Goroutines and locks
//
// The Gateway runs the SIP server (Run); each SIP request gets sipgo's goroutine; a Line has a
// registration refresher; a Leg has two pumps. Lock order: Gateway.mu, then Line.mu; Leg.outMu
// is a leaf.
package webphone
