// Package media anchors the RTP of ccswitch's calls: it owns the RTP port pool, negotiates SDP
// (RFC 3264, PCMU/PCMA/telephone-event), relays and transcodes between the two legs of a B2BUA
// call, plays prompts and hold music, receives and sends DTMF, records, and counts.
//
// # Shape
//
// An Engine (New) owns the port range and the RTP timeout watchdog. Each call is a *Call
// (Engine.NewCall) with up to two legs: LegA faces the caller, LegB the callee. A leg gets one
// UDP socket, bound on Config.IP, and one reader goroutine that relays what it receives to the
// other leg. The SIP layer hands SDP bodies to the Call and sends back the bodies it returns;
// media never sees SIP.
//
// # Call order for the B2BUA
//
// Anchored call (INVITE A → B):
//
//	call, _ := eng.NewCall(media.CallOptions{ID: callID, OnTimeout: byeBoth})
//	offerB, err := call.OfferFromA(inviteA.Body())   // ErrNoCommonCodec → 488, ErrNoPorts → 503
//	// INVITE B with offerB; on 183/200 from B (both may carry the same answer):
//	answerA, err := call.AnswerFromB(respB.Body())   // put answerA in the 183/200 to A
//	// BYE, CANCEL, failure: call.Close()
//
// Re-INVITE (hold, resume, new address or codec) from either leg X with an SDP offer:
//
//	offerY, err := call.OfferFrom(X, reinvite.Body()) // ErrOfferPending → 491
//	// re-INVITE Y with offerY; 2xx from Y:
//	answerX, err := call.AnswerFrom(Y, resp.Body())   // 200 to X with answerX
//	// Y refused (4xx): call.CancelOffer(), and refuse X's re-INVITE.
//
// A re-INVITE or INVITE without SDP (delayed offer) is the same exchange with ccswitch as the
// offerer: offer, _ := call.OfferTo(X, media.SendRecv) goes in the 200 OK; the answer in the
// ACK goes to call.AnswerFrom(X, ack.Body()), which returns nil. A late offer from B (200 OK
// with an offer after an offerless INVITE to B) is OfferFrom(LegB, …), answered by A in its ACK
// with AnswerFrom(LegA, …).
//
// Directions pass through (X sendonly → Y gets sendonly, answers recvonly → X gets recvonly).
// ccswitch sends to a peer only while its SDP says it receives. To hold a leg from ccswitch
// instead (and play music to the other), answer locally: call.AnswerLocal(X, body) (answers
// sendonly with recvonly), or offer: call.OfferTo(Y, media.SendOnly) then AnswerFrom(Y, …),
// which returns nil because there is no offer to answer on the other side.
//
// IVR (ccswitch answers A itself), then bridge to an agent:
//
//	answerA, err := call.AnswerLocal(media.LegA, inviteA.Body()) // 200 OK to A
//	res, err := call.Play(ctx, media.LegA, welcome, media.PlayOptions{BargeIn: true})
//	select { case ev := <-call.DTMF(): … }                        // digits from every source
//	go call.Play(musicCtx, media.LegA, music, media.PlayOptions{Loop: true})
//	offerB, err := call.OfferTo(media.LegB, media.SendRecv)      // INVITE the agent
//	_, err = call.AnswerFromB(agent200.Body())                   // returns nil: A keeps its SDP
//	stopMusic()                                                   // relay A↔B takes over
//
// If the agent picks the other G.711 law, the relay transcodes; nothing changes on leg A.
//
// Digits received on a leg are always delivered on DTMF(); they are relayed as RFC 4733 only
// when the other leg negotiated telephone-event.
//
// SIP INFO DTMF: ev, err := media.ParseDTMFInfo(contentType, body); ev.Leg = X;
// call.InjectDTMF(ev); to pass it on as RFC 4733: call.SendDTMF(ctx, Y, ev.Digit, ev.Duration).
//
// RTP timeout: Config.RTPTimeout > 0 plus CallOptions.OnTimeout(call, leg), called once from
// the engine's watchdog goroutine; send BYE on both legs and call.Close() (from the callback or
// later) but never Engine.Close from inside it.
//
// Recording: call.StartRecording(path) … call.StopRecording() (or Close). Metrics for the call
// record: call.Stats(). Passthrough (trunks that want unanchored media) is decided by the SIP
// layer: it forwards SDP untouched and creates no Call.
//
// # Invariants
//
//  1. A leg's socket, reader goroutine and port belong to its Call; Close closes the sockets,
//     waits for readers, players and the recorder, and only then returns the ports to the
//     pool, which reuses ports in FIFO order. After Close returns no goroutine of the call runs.
//     OnTimeout fires at most once, and not at all once Close has begun (a callback already
//     decided may still be running).
//  2. Each outgoing stream (toward one peer) has one SSRC for the life of the call. Its
//     sequence number rises by one per packet across every change of source — a new SSRC or
//     sequence from the other leg after a re-INVITE, a switch between relay and Play/SendDTMF —
//     and its timestamp advances by the real time elapsed at such a switch (marker bit set).
//     Reordering and gaps of the relayed source are preserved, not hidden.
//  3. Symmetric RTP (latching): packets to a peer go to the address its RTP comes from once a
//     packet has arrived, and to its SDP address before. A latched address is replaced when the
//     peer's SDP address changes or after 2 s of silence from it; until then packets from
//     another source are dropped.
//  4. The relay hot path (leg.handle) neither blocks nor allocates: it rewrites the packet in
//     place in the reader's buffer (header, payload type, G.711 law) and hands copies to the
//     recorder and DTMF consumers with non-blocking sends.
//  5. One DTMFEvent per key press: all RFC 4733 packets of an event share its RTP timestamp,
//     so a digit is delivered on the first packet with a new (SSRC, timestamp) and the
//     updates and the retransmitted end packets are ignored. In-band digits are reported once
//     per tone. A full DTMF() channel drops and counts (Stats.DTMFDropped).
//  6. Recording never slows the relay: frames go through a bounded queue to the recorder's
//     goroutine; a full queue drops the frame and counts it (Stats.RecordingDropped).
//  7. SDP: a leg's o= session id is fixed and its version rises exactly when the content
//     ccswitch sends changes; an answer has the offer's m-lines in order, the ones ccswitch
//     does not relay (video, SRTP, extra audio) with port 0; offers ccswitch makes carry one
//     m=audio line.
//  8. The player paces from the engine Clock against absolute deadlines start+n×20 ms, so a
//     late timer does not delay later frames; more than 200 ms late (starved process), it
//     re-bases instead of bursting.
//  9. RTP timeout: a leg is dead when it has received nothing for Config.RTPTimeout since the
//     later of its last packet and its last negotiation, while its peer's SDP says it sends
//     (sendrecv/sendonly, port not 0). OnTimeout fires once per call.
//
// # Goroutines and locks
//
// Per leg one reader; one recorder goroutine while recording; Play and SendDTMF run in the
// caller's goroutine; one engine watchdog. Lock order: Engine.mu is never held while taking
// Call.mu; Call.mu is never held while taking leg.playMu; outStream.mu is a leaf. The relay
// reads negotiation results through atomic pointers, never Call.mu. All Call methods are safe
// for concurrent use; Play and SendDTMF on the same leg are serialised.
//
// Not done: SRTP; RTCP (the RTCP port RTP+1 is bound but never read, so peers get no ICMP
// errors; RTCP multiplexed on the RTP port is dropped; ccswitch sends no RTCP); ptime other
// than 20 ms for generated audio (relayed packets keep theirs); early-media forking (one B at a
// time); strict source checks (latching trusts the first source, see invariant 3); IPv6 beyond
// parsing and binding.
package media
