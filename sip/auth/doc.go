// Package auth is ccswitch's server side of SIP digest authentication (RFC 3261 §22,
// RFC 7616 algorithms as used by RFC 8760): challenges, stateless nonces, credential checks
// and per-source throttling of failures.
//
// Invariants:
//  1. No plaintext secret is kept after SetAccounts: each account holds HA1 per algorithm
//     (MD5 and SHA-256), and responses are compared in constant time.
//  2. Nonces are stateless: hex(issue time) "." hex(random) "." HMAC-SHA-256(secret, realm,
//     time, random). A nonce older than the TTL is answered with stale=true; one with a bad
//     MAC is an unknown nonce (a fresh challenge, not stale).
//  3. Each (nonce, nc) is accepted at most once: the highest nc seen per nonce is kept until
//     the nonce expires, and an nc that is not higher is rejected as a replay.
//  4. An unknown user and a wrong password give the same Result (Invalid) after the same
//     amount of hashing, so the answer does not reveal which accounts exist.
//
// Lock order: none across types; Authenticator's nc shards and Throttle's shards each take
// only their own mutex.
package auth
