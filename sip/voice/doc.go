// Package voice is the voice path of ccswitch: the sip.App that answers flow numbers with
// media, runs their IVR flow over the call, queues the caller through the contact center
// (center.Center), rings the reserved agent's phone through the B2BUA and bridges the two.
//
// # Wiring
//
// Stack (stack.go) builds the voice side on a center; cmd/ccswitch does:
//
//	cc, err := center.New(cfg, center.Options{Store: st, Logger: log})  // ACD, flows, presence, records
//	vs, err := voice.NewStack(cfg, cc, voice.StackOptions{Logger: log}) // media, anchor, App
//	srv, err := sip.New(cfg, st, log, vs.SIPOptions()...)               // App, anchor, call records
//	vs.Attach(srv)                      // App.SetSIP, Anchor.SetCalls, phones → presence
//	go cc.Run(ctx); go vs.Run(ctx)      // vs.Run closes media once the calls ended
//	srv.Run(ctx)
//	// SIGHUP: cc.Reload(ctx, next); vs.Reload(next); srv.Reload(next)
//
// # A call
//
// ServeCall answers the caller itself (media AnswerLocal on leg A, 200 OK), then runs the
// number's flow (the center's compiled Flows) with the call as its ivr.Interaction: Play
// plays <language>/<name>.wav from media.prompts or the prompts embedded in the binary
// (barge-in by DTMF when the flow allows it), Collect reads the call's DTMF buffer (RFC 4733,
// SIP INFO, in-band), Enqueue queues an acd.Task through the center (ID = the call's ID, "#2"…
// for a later wait in the same call; channel voice; requirements as the flow compiled them)
// and plays "please hold", the position at entry (with announce) and hold music until an
// agent answers. The task's events come to the call's center.Inbox. On each reservation the
// agent's extension is rung (sip Dial, all its contacts) with an offer for leg B (media
// OfferTo), bounded by the reservation's timeout; the answer is Accepted and, once the engine
// confirms, the legs are bridged (media AnswerFromB: the music stops and A↔B relay; sip Bridge
// ties the BYEs; the anchor gets the media call attached so re-INVITEs between the two go
// through it). A busy or unreachable agent is Rejected at once; an agent who does not answer
// is left to the ACD's RONA timeout, whose event CANCELs the ring; either way the task goes
// back in place and the caller keeps hearing music. A caller who hangs up while waiting is
// Cancelled (abandoned) and a ringing agent CANCELled. When a bridged call ends the task is
// Completed (wrap-up). Transfer rings an extension and bridges the same way; Record keeps a
// voicemail WAV under media.recordings. When the call is over the center gets its account
// (center.FlowEnded) for the call record.
//
// # Waiting callers
//
// While a caller waits (hold.go), "please hold" and the position play at entry and, with
// announce, every announce_every the position again (the position at entry less the queue's
// departures since, capped by its size) and the expected wait when the center has an honest
// estimate (center.ExpectedWait, acd's "Expected wait"); hold music fills the rest. From a
// queue node's callback.after (voicemail.after) the options are offered, and again after each
// announcement; a key pressed from the offer on counts (barge-in), one pressed before is
// dropped, and none counts while an agent's phone rings for the caller.
//
// Accepting the callback (callback.go) checks the number (presented, or keyed and allowed;
// callback.denied; callback.daily_cap), stores the promise (store.Callback, synced), hands the
// task, still waiting at its place, to the App's callbacks (center.Rehome), plays the
// confirmation and hangs up. The callbacks follow their tasks through one inbox: an offer is
// accepted at once (the queue's RONA does not apply), the agent previews it (OnPreview, the
// desktop's card and countdown), then ccswitch rings the agent's phone, and once it answered
// calls the customer through sip.Server.DialOut (the outbound decision and limits of a call the
// agent dials; the trunk the call came in on first; the DID as caller ID) and bridges the two
// on the customer's answer. An agent phone that does not answer puts the task back at its place
// (Transfer to its own queue); a customer who does not answer completes the attempt, which is
// tried again after retry_after as a new task ("~2", "~3"), retries times, then given up. A
// callback is not made while the DID's number is closed: it waits for the next opening. At
// start the stored callbacks are queued again, oldest first.
//
// The message option (voicemail.go) records the caller (beep prompt, max_length, # or hang
// up), keeps the WAV (synced) and its record (store.Voicemail, synced), then queues the
// recording as a task of the queue's voice channel, at the queue node's priority and with its
// requirements; its agent gets it at once (OnVoicemail, the desktop's player) and completes it
// with Done (VoicemailDone), or after VoicemailHold. At start the stored messages are queued
// again with the callbacks, oldest first.
//
// # Presence and feature codes
//
// The registrar's binding events are the agents' voice devices: a contact bound for an
// agent's extension is center.DeviceUp, one that goes is DeviceDown, so an agent with
// auto_login is signed in for voice while their phone is registered. An agent toggles ready /
// not ready by dialling FeatureReady (*45) from their own phone (the authenticated extension,
// not the From header), which also logs them in for voice when they were not; FeatureLogout
// (*44) logs them out of voice, which holds against auto_login until the next *45.
//
// # Supervisors
//
// An agent with role supervisor monitors the bridged call of another agent (monitor.go):
// from their phone with FeatureListen, FeatureWhisper or FeatureBarge followed by the agent's
// extension (*461001), or from the wallboard (App.Monitor rings the supervisor's extension
// and joins them once they answer). The supervisor's leg is a media call of its own, joined
// to the agent's call by media's Monitor (the mixer); DTMF 4, 5, 6 switch to listen, whisper,
// barge; the supervisor hanging up leaves, the call ending hangs them up. Anyone else gets
// 403 (and ccswitch_monitor_refused_total{reason="not-supervisor"}); every stretch in one mode
// (who, agent, mode, via, joined, left) goes in the call's record (store.MonitorRecord).
// A supervisor's leg is "a leg", whatever carries it: SupervisorLeg (a media call whose leg A
// faces the supervisor, a Done channel, a Hangup). The phone paths build it from a sip.Leg;
// the browser phone plugs in with App.SetSupervisorDevice.
//
// # Invariants
//
//  1. The engine's events for a task reach the call through its inbox, in order, none
//     dropped; reservation outcomes are matched by reservation ID, so a stale event never
//     acts on a newer ring.
//  2. At most one agent is rung per call at a time; a ring whose reservation ended is
//     CANCELled, and an agent leg answered too late is hung up, never bridged.
//  3. Every task this package enqueues ends in the ACD: Cancel when the caller leaves
//     before an agent answers, Complete after the bridged call ends.
//  4. A call owns its goroutines (rings, hold music, DTMF pump, hang-ups): ServeCall starts
//     them through the call and returns only after all of them ended, and after both legs
//     ended; so when the center gets the flow's account, the SIP records of the call and of
//     every agent leg dialled for it came before. The media call is closed then.
//  5. An agent leg that answers after the ring was given up (caller gone, reservation timed
//     out or cancelled, Accept lost to RONA) gets a BYE; when the caller leaves while an
//     Accept is in flight, Cancel then Complete are submitted, and exactly one applies.
//  6. Stack.Run closes the media engine only after every call the App served has returned,
//     and every supervisor session the wallboard started has ended.
//  7. A supervisor's session ends, and its last stretch is in the call's record, before the
//     call's account goes to the center; one supervisor per call at a time (486 otherwise).
//  8. A task the caller left with a callback is owned by the App's callbacks from the moment
//     it is rehomed: the call no longer cancels or completes it, the events the call had not
//     acted on go with it, and the callbacks end it (Complete after each attempt, Transfer back
//     to its place when the agent's phone fails); the stored promise is deleted only when the
//     callback was made or given up, so a restart in between queues it again.
//  9. A message to a queue is a queued contact: its WAV and its record are on disk before the
//     caller hears goodbye, and the record is deleted only after its agent completed it (Done,
//     or VoicemailHold); a restart before that, even one while an agent held it, queues it
//     again at its queue and priority. One the queue ends untaken (max wait, queue removed)
//     is counted, logged, and kept for the next start.
package voice
