package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/icholy/digest"
)

// Algorithms offered, strongest first (RFC 8760 §2.4: a server offers one challenge per
// algorithm, in order of preference).
const (
	SHA256 = "SHA-256"
	MD5    = "MD5"
)

// Status is the outcome of a credential check.
type Status int

const (
	// Missing: no credentials for our realm; challenge.
	Missing Status = iota
	// OK: the credentials are valid for Result.Username.
	OK
	// Stale: valid response but an expired nonce; challenge again with stale=true.
	Stale
	// Invalid: wrong password, unknown user, replayed nc, malformed or forged nonce. The
	// caller answers 403 and counts a failure for the source.
	Invalid
)

func (s Status) String() string {
	switch s {
	case Missing:
		return "missing"
	case OK:
		return "ok"
	case Stale:
		return "stale"
	}
	return "invalid"
}

// Reasons an Invalid Result carries, for metrics and logs. None of them tells an unknown
// user from a wrong password (invariant 4).
const (
	ReasonCredentials = "credentials"  // wrong password or unknown user
	ReasonURI         = "uri-mismatch" // the digest uri is not the Request-URI (a credential replayed elsewhere)
	ReasonAlgorithm   = "algorithm"    // an algorithm we do not offer (MD5 when only SHA-256 is configured)
	ReasonReplay      = "replay"       // an nc already used, or older than the window, for this nonce
	ReasonMalformed   = "malformed"    // no qop=auth, nc, cnonce or response
)

// Result is what Check learned.
type Result struct {
	Status   Status
	Username string // the claimed username (set for OK; informative otherwise)
	Reason   string // why, when Status is Invalid: one of the Reason constants
}

// account holds the precomputed HA1 of one username (invariant 1).
type account struct {
	md5, sha256 string
}

// Authenticator checks digest credentials against a set of accounts. It is safe for
// concurrent use; SetAccounts may be called at any time (a reload).
type Authenticator struct {
	realm  string
	algs   atomic.Pointer[[]string]
	secret []byte
	macs   sync.Pool // hash.Hash: HMAC-SHA256 keyed with secret
	ttl    time.Duration
	now    func() time.Time

	accounts atomic.Pointer[map[string]account]
	dummy    account // hashed for unknown users (invariant 4)

	seed   maphash.Seed
	shards [64]ncShard
}

type ncShard struct {
	mu   sync.Mutex
	seen map[string]ncEntry
}

// ncEntry is the nc state of one nonce: the highest nc accepted and which of the ncWindow
// values below it were accepted too (bit i: max-i), so that requests sent with nc 1, 2, 3
// may arrive 1, 3, 2 over UDP while each nc is still accepted once only (invariant 3).
type ncEntry struct {
	max     int
	seen    uint64
	expires int64 // unix nanos
}

// ncWindow is how far below the highest nc seen a late nc is still accepted (once).
const ncWindow = 32

// New returns an Authenticator for realm. secret keys the nonce MAC; an empty secret gets a
// random one. ttl is the nonce lifetime (default 5 minutes when 0).
func New(realm string, secret []byte, ttl time.Duration) *Authenticator {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	a := &Authenticator{realm: realm, secret: secret, ttl: ttl, now: time.Now, seed: maphash.MakeSeed()}
	a.algs.Store(&[]string{SHA256, MD5})
	a.dummy = a.hashAccount("\x00unknown", randomHex(16))
	empty := map[string]account{}
	a.accounts.Store(&empty)
	for i := range a.shards {
		a.shards[i].seen = make(map[string]ncEntry)
	}
	return a
}

// SetNow replaces the clock (tests).
func (a *Authenticator) SetNow(now func() time.Time) { a.now = now }

// SetAlgorithms sets the challenges offered, in order (default SHA-256 then MD5, as
// RFC 8760 asks). Some clients (SIPp 3.6, older phones) read only the first challenge and
// know only MD5: offering MD5 alone (or first) is the interoperability escape hatch.
// Unknown names are ignored; an empty list keeps the current order. Safe at any time.
func (a *Authenticator) SetAlgorithms(algs ...string) {
	var out []string
	for _, x := range algs {
		switch strings.ToUpper(x) {
		case SHA256:
			out = append(out, SHA256)
		case MD5:
			out = append(out, MD5)
		}
	}
	if len(out) > 0 {
		a.algs.Store(&out)
	}
}

// Realm returns the realm challenges carry.
func (a *Authenticator) Realm() string { return a.realm }

// SetAccounts replaces the accounts: username → password. Passwords are hashed here and
// not kept (invariant 1).
func (a *Authenticator) SetAccounts(passwords map[string]string) {
	m := make(map[string]account, len(passwords))
	for u, p := range passwords {
		m[u] = a.hashAccount(u, p)
	}
	a.accounts.Store(&m)
}

func (a *Authenticator) hashAccount(user, password string) account {
	return account{
		md5:    hashHex(md5.New(), user, a.realm, password),
		sha256: hashHex(sha256.New(), user, a.realm, password),
	}
}

// Challenges returns the WWW-Authenticate / Proxy-Authenticate values to send, one per
// algorithm (SHA-256 first, then MD5, by default), all qop=auth, sharing one fresh nonce.
func (a *Authenticator) Challenges(stale bool) []string {
	nonce := a.newNonce(a.now())
	algs := *a.algs.Load()
	out := make([]string, 0, len(algs))
	for _, alg := range algs {
		c := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// Check verifies the Authorization (or Proxy-Authorization) header values of a request
// with the given method and Request-URI. values are all such headers; the one for our realm
// is used. The credentials' uri must name the Request-URI (RFC 3261 §22.4, RFC 7616 §3.4.6),
// their algorithm must be one we offer, and their nc must not have been used with the nonce.
func (a *Authenticator) Check(method, requestURI string, values []string) Result {
	var cred *digest.Credentials
	for _, v := range values {
		c, err := parseCredentials(v)
		if err != nil {
			continue
		}
		if c.Realm == a.realm {
			cred = c
			break
		}
	}
	if cred == nil {
		return Result{Status: Missing}
	}
	res := Result{Username: cred.Username, Status: Invalid}

	var h hash.Hash
	alg := strings.ToUpper(cred.Algorithm)
	switch alg {
	case "", MD5:
		h = md5.New()
		alg = MD5
	case SHA256:
		h = sha256.New()
	default:
		res.Reason = ReasonAlgorithm
		return res
	}
	if !a.offers(alg) {
		res.Reason = ReasonAlgorithm
		return res
	}
	if cred.QOP != "auth" || cred.Nc <= 0 || cred.Cnonce == "" || cred.Response == "" {
		res.Reason = ReasonMalformed
		return res
	}
	issued, ok := a.verifyNonce(cred.Nonce)
	if !ok {
		return Result{Status: Missing, Username: cred.Username}
	}

	acct, known := (*a.accounts.Load())[cred.Username]
	if !known {
		acct = a.dummy
	}
	ha1 := acct.md5
	if alg == SHA256 {
		ha1 = acct.sha256
	}
	ha2 := hashHex(h, method, cred.URI)
	want := hashHex(h, ha1, cred.Nonce, ncString(cred.Nc), cred.Cnonce, "auth", ha2)
	match := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cred.Response))) == 1
	if !match || !known {
		res.Reason = ReasonCredentials
		return res
	}
	if !SameURI(cred.URI, requestURI) {
		res.Reason = ReasonURI
		return res
	}
	now := a.now()
	if now.Sub(issued) > a.ttl {
		res.Status = Stale
		return res
	}
	if !a.acceptNC(cred.Nonce, cred.Nc, issued.Add(a.ttl), now) {
		res.Reason = ReasonReplay
		return res
	}
	res.Status = OK
	return res
}

// offers reports whether alg is among the algorithms challenged with.
func (a *Authenticator) offers(alg string) bool {
	for _, x := range *a.algs.Load() {
		if x == alg {
			return true
		}
	}
	return false
}

func ncString(nc int) string {
	s := strconv.FormatInt(int64(nc), 16)
	if len(s) < 8 {
		s = strings.Repeat("0", 8-len(s)) + s
	}
	return s
}

// newNonce builds a stateless nonce (invariant 2).
func (a *Authenticator) newNonce(now time.Time) string {
	ts := strconv.FormatInt(now.UnixNano(), 16)
	rnd := randomHex(8)
	return ts + "." + rnd + "." + a.mac(ts, rnd)
}

func (a *Authenticator) mac(ts, rnd string) string {
	// The keyed HMAC is reused (Reset keeps the key): hmac.New per nonce was two SHA-256
	// states and the key pads allocated for every challenge and every check.
	m, _ := a.macs.Get().(hash.Hash)
	if m == nil {
		m = hmac.New(sha256.New, a.secret)
	}
	defer a.macs.Put(m)
	m.Reset()
	var buf [128]byte
	b := append(buf[:0], a.realm...)
	b = append(b, 0)
	b = append(b, ts...)
	b = append(b, 0)
	b = append(b, rnd...)
	m.Write(b)
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:16])
}

// verifyNonce checks the MAC and returns the issue time.
func (a *Authenticator) verifyNonce(n string) (time.Time, bool) {
	ts, rest, ok := strings.Cut(n, ".")
	if !ok {
		return time.Time{}, false
	}
	rnd, sum, ok := strings.Cut(rest, ".")
	if !ok || len(ts) > 16 || len(rnd) != 16 {
		return time.Time{}, false
	}
	if !hmac.Equal([]byte(sum), []byte(a.mac(ts, rnd))) {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(ts, 16, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// acceptNC records nc for nonce and reports whether it was not used before: higher than any
// seen, or within ncWindow below the highest and not seen yet (invariant 3).
func (a *Authenticator) acceptNC(nonce string, nc int, expires, now time.Time) bool {
	sh := &a.shards[maphash.String(a.seed, nonce)%uint64(len(a.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.seen[nonce]
	switch {
	case !ok:
		e = ncEntry{max: nc, seen: 1}
	case nc > e.max:
		if shift := nc - e.max; shift >= 64 {
			e.seen = 1
		} else {
			e.seen = e.seen<<uint(shift) | 1
		}
		e.max = nc
	default:
		d := e.max - nc
		if d >= ncWindow || e.seen&(1<<uint(d)) != 0 {
			return false
		}
		e.seen |= 1 << uint(d)
	}
	e.expires = expires.UnixNano()
	sh.seen[nonce] = e
	// Opportunistic sweep keeps the shard bounded by the nonces of the last TTL.
	if len(sh.seen) > 256 && len(sh.seen)%64 == 0 {
		n := now.UnixNano()
		for k, v := range sh.seen {
			if v.expires < n {
				delete(sh.seen, k)
			}
		}
	}
	return true
}

// Sweep forgets nc state of expired nonces.
func (a *Authenticator) Sweep() {
	n := a.now().UnixNano()
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.Lock()
		for k, v := range sh.seen {
			if v.expires < n {
				delete(sh.seen, k)
			}
		}
		sh.mu.Unlock()
	}
}

func hashHex(h hash.Hash, parts ...string) string {
	h.Reset()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{':'})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
