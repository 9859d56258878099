// Package ivr runs operators' flows for a contact, the same for a call and for a text
// conversation, after checking the number's calendar.
//
// Compile turns a validated config.Config into Flows once, at load or reload; Flows.Run then
// takes a new contact on a number: closed (by its calendar) it hears the number's
// unavailability prompt and is hung up; open, a plain-target number is handed back to the
// caller (sip rings the target), and a flow number goes through its nodes until the contact
// is answered by an agent, transferred, hung up or gone. Everything the flow does to the
// contact goes through the Interaction interface, which the voice path (sip and media) and
// the text channels implement; calendars live in ivr/calendar.
//
// Invariants (the tests cite them):
//
//  1. ivr imports no ccswitch package but config and, for the skill conditions a flow sets
//     (Requirements, parsed once by Compile), acd's value types: no sip, media, channels,
//     store, and no acd.Engine. Voice and text differ only behind Interaction and in
//     Channel() (TestForbiddenImports).
//  2. Flows and Entry are immutable after Compile; a Run owns its state (variables,
//     requirements, language), so concurrent Runs share nothing mutable
//     (TestConcurrentRuns).
//  3. ivr hangs a contact up at most once, and never after the contact left, was answered or
//     was transferred; an outcome of hangup, unavailable or failed always hung up, except for
//     ErrUnknownNumber, where the contact was not touched (FuzzRun).
//  4. Every run ends: each node visited counts, and MaxQuiet nodes in a row without input from
//     the contact, or MaxSteps nodes in all, stop it with ErrLoop (testdata/loop.txt).
//  5. A number that is closed or on holiday never runs its flow unless the flow has an hours
//     node (then the flow branches itself); the unavailability prompt is the one of the
//     contact's language, else of the number's language, else "en" (testdata/hours.txt).
//  6. A call is never queued where no agent is logged in: the queue node's overflow is
//     taken, or else the unavailability prompt is played (testdata/menu.txt). A text contact
//     is queued all the same: it waits for an agent to log in (testdata/menu.txt).
//  7. Time comes only from Options.Now; nothing in ivr sleeps or starts a goroutine.
//  8. Run never panics on what a contact sends; Compile reports the inconsistencies of an
//     unvalidated config instead of panicking (FuzzRun, TestCompileOddInput).
package ivr
