// Package route decides what an INVITE is: a feature code, a call to one of our numbers
// that runs a flow, a call to an extension (dialled or through a DID), a call out through a
// trunk, an emergency call, or a refusal with its status. Decide is a pure function of the
// compiled configuration (Table), the trunks' health and the request's identity (Request);
// the B2BUA (package sip) carries the Decision out: it takes limit slots, rings, fails over.
//
// Decide is the one outbound-permission check: a dialled INVITE, a REFER to a number, a
// click-to-dial and a queue callback all ask it (through sip.Server.Decide) whether — and
// through which trunks — a number may be reached on an extension's behalf.
//
// Invariants:
//  1. Only an authenticated extension (Request.User) with Outbound set reaches Kind Trunk;
//     a trunk's request (Request.Trunk) only reaches numbers we own (no relay through us).
//  2. An emergency number reaches Kind Emergency from any authenticated extension, whatever
//     its outbound right, and never from a trunk or an unauthenticated caller.
//  3. A Decision of Kind Trunk or Emergency lists at least one trunk; every other Kind lists
//     none. A Refuse carries a 4xx–6xx status, a reason phrase and a metric cause.
//  4. A Trunk decision lists, in file order, the trunks that are up, have an outbound
//     destination and whose prefixes match the number; matching trunks all down: 503.
//     An Emergency decision ignores prefixes and lists a down first choice last.
//  5. Decide never panics and allocates only the Decision's trunk list.
package route
