// Package auth is ccswitch's server side of SIP digest authentication (RFC 3261 §22,
// RFC 7616 algorithms as used by RFC 8760): challenges, stateless nonces, credential checks
// and throttling of failures per source and username.
//
// Invariants:
//  1. No plaintext secret is kept after SetAccounts: each account holds HA1 per algorithm
//     (MD5 and SHA-256), and responses are compared in constant time.
//  2. Nonces are stateless: hex(issue time) "." hex(random) "." HMAC-SHA-256(secret, realm,
//     time, random). A nonce older than the TTL is answered with stale=true; one with a bad
//     MAC is an unknown nonce (a fresh challenge, not stale).
//  3. Each (nonce, nc) is accepted at most once: per nonce, the highest nc seen and which
//     of the 32 below it were seen are kept until the nonce expires. A lower nc within
//     that window is accepted once (UDP reorders requests that share a nonce); a repeated
//     nc, or one older than the window, is rejected as a replay.
//  4. An unknown user and a wrong password give the same Result (Invalid, Reason
//     credentials) after the same amount of hashing, so the answer does not reveal which
//     accounts exist.
//  5. Credentials are accepted only for the request they were made for: the digest uri
//     must name the Request-URI (SameURI) and the algorithm must be one offered (MD5 is
//     refused when only SHA-256 is configured).
//  6. Throttle counts failures per source and username, and usernames per source: both
//     tables are bounded (MaxUsers per source, 4096 sources per shard).
//
// Lock order: none across types; Authenticator's nc shards and Throttle's shards each take
// only their own mutex.
package auth
