package limit

import (
	"math"
	"strings"
	"sync"
	"time"
)

// counter counts the calls in progress per key ("ext/1001", "trunk/carrier").
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

// acquire takes one slot of key if fewer than max are taken (max 0: no limit; the call is
// still counted, so that a limit set by a reload sees it).
func (c *counter) acquire(key string, max int, force bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[string]int)
	}
	if !force && max > 0 && c.n[key] >= max {
		return false
	}
	c.n[key]++
	return true
}

func (c *counter) release(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[key] <= 1 {
		delete(c.n, key)
		return
	}
	c.n[key]--
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// rates are token buckets of calls placed per extension.
type rates struct {
	mu sync.Mutex
	m  map[string]*bucket
}

// take spends one call of ext's bucket (rate per second, burst deep). When it is empty it
// reports how long until the next call is allowed.
func (r *rates) take(ext string, rate float64, burst int, now time.Time) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	b := float64(max(burst, 1))
	t := now.UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*bucket)
	}
	k := r.m[ext]
	if k == nil {
		k = &bucket{tokens: b, last: t}
		r.m[ext] = k
	}
	if el := t - k.last; el > 0 {
		k.tokens = min(b, k.tokens+float64(el)/1e9*rate)
		k.last = t
	}
	k.tokens = min(k.tokens, b) // a reload may have lowered the burst
	if k.tokens >= 1 {
		k.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - k.tokens) / rate * float64(time.Second)))
	return false, wait
}

// sweep forgets buckets that are full again.
func (r *rates) sweep(now time.Time, full func(ext string) (rate float64, burst int)) {
	t := now.UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	for ext, k := range r.m {
		rate, burst := full(ext)
		if rate <= 0 || k.tokens+float64(t-k.last)/1e9*rate >= float64(max(burst, 1)) {
			delete(r.m, ext)
		}
	}
}

// policy is a compiled set of allowed and denied number prefixes: the longest matching
// prefix decides, deny wins a tie, and with any allow prefix a number matching none is denied.
type policy struct {
	rules    []rule // longest prefix first
	anyAllow bool
}

type rule struct {
	prefix string
	allow  bool
}

func newPolicy(allow, deny []string) *policy {
	p := &policy{}
	for _, a := range allow {
		p.rules = append(p.rules, rule{prefix: strings.TrimPrefix(a, "+"), allow: true})
		p.anyAllow = true
	}
	for _, d := range deny {
		p.rules = append(p.rules, rule{prefix: strings.TrimPrefix(d, "+")})
	}
	// Longest first; at equal length deny first.
	sortRules(p.rules)
	return p
}

func sortRules(rs []rule) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && less(rs[j], rs[j-1]); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func less(a, b rule) bool {
	if len(a.prefix) != len(b.prefix) {
		return len(a.prefix) > len(b.prefix)
	}
	return !a.allow && b.allow
}

// allowed reports whether number may be dialled.
func (p *policy) allowed(number string) bool {
	if p == nil {
		return true
	}
	n := strings.TrimPrefix(number, "+")
	for _, r := range p.rules {
		if strings.HasPrefix(n, r.prefix) {
			return r.allow
		}
	}
	return !p.anyAllow
}
