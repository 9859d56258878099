package registrar

import (
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/sip/sipgo/sip"
	"github.com/ccswitch/ccswitch/store"
)

// Limits bound the registration interval and the number of contacts per AOR.
type Limits struct {
	Min, Max, Default time.Duration
	// MaxContacts bounds the live bindings of one AOR (0: no bound); a REGISTER that would
	// add more is refused with 403 and changes nothing.
	MaxContacts int
}

// Contact is a live binding and where to send requests for it.
type Contact struct {
	store.Binding
	// URI is the parsed contact URI: the Request-URI of requests to this contact, never
	// where they are sent.
	URI sip.Uri
	// Dest is the host:port requests to this contact are sent to: the REGISTER's source,
	// over Transport (the binding's flow, invariant 5). It is never resolved from URI.
	Dest string
}

// Registrar keeps bindings in memory, sharded by AOR, backed by the store.
type Registrar struct {
	st     *store.Store
	log    *slog.Logger
	limits atomic.Pointer[Limits]
	now    func() time.Time
	seed   maphash.Seed
	shards [64]shard
	subs   atomic.Pointer[[]*subscriber]
}

type shard struct {
	mu  sync.Mutex
	aor map[string][]*Contact
}

// New returns a Registrar persisting to st (st may be nil in tests: memory only).
func New(st *store.Store, log *slog.Logger, lim Limits) *Registrar {
	r := &Registrar{st: st, log: log, now: time.Now, seed: maphash.MakeSeed()}
	r.SetLimits(lim)
	for i := range r.shards {
		r.shards[i].aor = make(map[string][]*Contact)
	}
	return r
}

// SetLimits replaces the interval bounds (a reload).
func (r *Registrar) SetLimits(lim Limits) {
	if lim.Min <= 0 {
		lim.Min = 60 * time.Second
	}
	if lim.Max <= 0 {
		lim.Max = time.Hour
	}
	if lim.Default <= 0 {
		lim.Default = time.Hour
	}
	r.limits.Store(&lim)
}

// SetNow replaces the clock (tests).
func (r *Registrar) SetNow(now func() time.Time) { r.now = now }

func (r *Registrar) shard(aor string) *shard {
	return &r.shards[maphash.String(r.seed, aor)%uint64(len(r.shards))]
}

// Load reads the stored bindings into memory, dropping expired ones. Call it before serving.
func (r *Registrar) Load() error {
	if r.st == nil {
		return nil
	}
	bs, err := r.st.Bindings()
	if err != nil {
		return fmt.Errorf("registrar: load: %w", err)
	}
	now := r.now()
	for _, b := range bs {
		if !b.Expires.After(now) {
			if err := r.st.DeleteBinding(b.AOR, b.Contact); err != nil {
				return fmt.Errorf("registrar: load: %w", err)
			}
			continue
		}
		c, err := newContact(b)
		if err != nil {
			r.log.Warn("dropping unparsable stored binding", "aor", b.AOR, "contact", b.Contact, "error", err)
			continue
		}
		sh := r.shard(b.AOR)
		sh.aor[b.AOR] = append(sh.aor[b.AOR], c)
	}
	return nil
}

// newContact makes the live form of a binding: requests go to its source (invariant 5).
func newContact(b store.Binding) (*Contact, error) {
	c := &Contact{Binding: b, Dest: b.Source}
	if err := sip.ParseUri(b.Contact, &c.URI); err != nil {
		return nil, err
	}
	if b.Source == "" {
		return nil, fmt.Errorf("binding %s has no source to reach it through", b.Contact)
	}
	if !c.NAT && !sameAddr(c.URI.Host, uriPort(c.URI), b.Source) {
		c.NAT = true // a binding stored before NAT was recorded
	}
	return c, nil
}

// behindNAT reports whether a REGISTER comes from behind NAT (RFC 3581, RFC 5626 §3.5): its
// top Via asks for rport, or its Via sent-by or the contact's host:port is not the packet's
// source.
func behindNAT(req *sip.Request, contact sip.Uri) bool {
	src := req.Source()
	if via := req.Via(); via != nil {
		if via.Params != nil && via.Params.Has("rport") {
			return true
		}
		port := via.Port
		if port == 0 {
			port = 5060
		}
		if !sameAddr(via.Host, port, src) {
			return true
		}
	}
	return !sameAddr(contact.Host, uriPort(contact), src)
}

// sameAddr reports whether host (an IP, IPv6 bracketed or not) and port are the address
// source ("ip:port"). A DNS name is never the same.
func sameAddr(host string, port int, source string) bool {
	ap, err := netip.ParseAddrPort(source)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return false
	}
	return ip.Unmap() == ap.Addr().Unmap() && port == int(ap.Port())
}

func uriPort(u sip.Uri) int {
	if u.Port != 0 {
		return u.Port
	}
	if u.Scheme == "sips" {
		return 5061
	}
	return 5060
}

// Lookup returns the live contacts of aor, highest q first.
func (r *Registrar) Lookup(aor string) []Contact {
	sh := r.shard(aor)
	now := r.now()
	sh.mu.Lock()
	list := sh.aor[aor]
	out := make([]Contact, 0, len(list))
	for _, c := range list {
		if c.Expires.After(now) {
			out = append(out, *c)
		}
	}
	sh.mu.Unlock()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Q > out[j].Q })
	return out
}

// Count returns the number of bindings in memory (live or not yet swept).
func (r *Registrar) Count() int {
	n := 0
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for _, l := range sh.aor {
			n += len(l)
		}
		sh.mu.Unlock()
	}
	return n
}

// Sweep removes expired bindings from memory and store.
func (r *Registrar) Sweep() {
	now := r.now()
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for aor, list := range sh.aor {
			keep := list[:0]
			var gone []*Contact
			for _, c := range list {
				if c.Expires.After(now) {
					keep = append(keep, c)
					continue
				}
				gone = append(gone, c)
				if r.st != nil {
					if err := r.st.DeleteBinding(aor, c.Contact); err != nil {
						r.log.Warn("sweep: delete binding", "aor", aor, "error", err)
					}
				}
			}
			for _, c := range gone {
				r.emit(Unbound, ReasonExpired, aor, c, len(keep), now)
			}
			if len(keep) == 0 {
				delete(sh.aor, aor)
			} else {
				sh.aor[aor] = keep
			}
		}
		sh.mu.Unlock()
	}
}

// Register applies req (already authenticated for aor) and returns the response to send.
func (r *Registrar) Register(req *sip.Request, aor string) *sip.Response {
	lim := *r.limits.Load()
	now := r.now()
	callID := req.CallID().Value()
	cseq := req.CSeq().SeqNo

	headerExpires := -1
	if e := req.GetHeader("Expires"); e != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(e.Value()), 10, 32)
		if err != nil {
			return sip.NewResponseFromRequest(req, 400, "Bad Expires", nil)
		}
		headerExpires = int(n)
	}

	contacts := req.GetHeaders("Contact")
	type change struct {
		uri     string
		parsed  sip.Uri
		expires int
		q       float64
		inst    string
		regID   int
	}
	var changes []change
	wildcard := false
	for _, h := range contacts {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			return sip.NewResponseFromRequest(req, 400, "Bad Contact", nil)
		}
		if ch.Address.Wildcard {
			wildcard = true
			continue
		}
		if s := ch.Address.Scheme; s != "sip" && s != "sips" {
			return sip.NewResponseFromRequest(req, 400, "Bad Contact", nil)
		}
		if ch.Address.Headers != nil && ch.Address.Headers.Length() > 0 {
			// RFC 4475 §3.1.2.? regbadct: header parameters in a contact are not bindable.
			return sip.NewResponseFromRequest(req, 400, "Bad Contact", nil)
		}
		exp := headerExpires
		if v, ok := ch.Params.Get("expires"); ok {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return sip.NewResponseFromRequest(req, 400, "Bad Contact Expires", nil)
			}
			exp = int(n)
		}
		if exp < 0 {
			exp = int(lim.Default / time.Second)
		}
		if exp > 0 && time.Duration(exp)*time.Second < lim.Min {
			res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(lim.Min/time.Second))))
			return res
		}
		if time.Duration(exp)*time.Second > lim.Max {
			exp = int(lim.Max / time.Second)
		}
		c := change{uri: ch.Address.String(), parsed: ch.Address, expires: exp, q: 0}
		if v, ok := ch.Params.Get("q"); ok {
			q, err := strconv.ParseFloat(v, 64)
			if err != nil || q < 0 || q > 1 {
				return sip.NewResponseFromRequest(req, 400, "Bad Contact q", nil)
			}
			c.q = q
		}
		c.inst, _ = ch.Params.Get("+sip.instance")
		if v, ok := ch.Params.Get("reg-id"); ok {
			c.regID, _ = strconv.Atoi(v)
		}
		changes = append(changes, c)
	}
	if wildcard && (len(contacts) != 1 || headerExpires != 0) {
		return sip.NewResponseFromRequest(req, 400, "Invalid Wildcard Contact", nil)
	}

	ua := ""
	if h := req.GetHeader("User-Agent"); h != nil {
		ua = h.Value()
	}

	sh := r.shard(aor)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.aor[aor]

	if wildcard {
		// §10.3 step 6: remove every binding unless one has the same Call-ID and a
		// CSeq not lower.
		for _, c := range list {
			if c.CallID == callID && c.CSeq >= cseq {
				return sip.NewResponseFromRequest(req, 500, "Out Of Order", nil)
			}
		}
		for i, c := range list {
			if err := r.deleteStored(aor, c.Contact); err != nil {
				sh.aor[aor] = list[i:]
				return r.storeFailed(req, err)
			}
			r.emit(Unbound, ReasonUnregistered, aor, c, live(list[i+1:], now), now)
		}
		delete(sh.aor, aor)
		return r.ok(req, nil, now)
	}

	if lim.MaxContacts > 0 && len(changes) > 0 {
		// The AOR's live contacts once this request applied: refused when that is above
		// the bound and more than it has now (a lowered bound does not refuse refreshes).
		after := make(map[string]bool, len(list)+len(changes))
		for _, c := range list {
			if c.Expires.After(now) {
				after[c.Contact] = true
			}
		}
		before := len(after)
		for _, ch := range changes {
			after[ch.uri] = ch.expires > 0
		}
		n := 0
		for _, live := range after {
			if live {
				n++
			}
		}
		if n > lim.MaxContacts && n > before {
			r.log.Debug("too many contacts", "aor", aor, "contacts", n, "max", lim.MaxContacts)
			return sip.NewResponseFromRequest(req, 403, "Too Many Contacts", nil)
		}
	}

	for _, ch := range changes {
		idx := -1
		for i, c := range list {
			if c.Contact == ch.uri {
				idx = i
				break
			}
		}
		if idx >= 0 {
			old := list[idx]
			if old.CallID == callID && old.CSeq >= cseq {
				return sip.NewResponseFromRequest(req, 500, "Out Of Order", nil)
			}
		}
		if ch.expires == 0 {
			if idx >= 0 {
				if err := r.deleteStored(aor, ch.uri); err != nil {
					return r.storeFailed(req, err)
				}
				gone := list[idx]
				list = append(list[:idx], list[idx+1:]...)
				sh.aor[aor] = list
				r.emit(Unbound, ReasonUnregistered, aor, gone, live(list, now), now)
			}
			continue
		}
		b := store.Binding{
			AOR: aor, Contact: ch.uri, Expires: now.Add(time.Duration(ch.expires) * time.Second),
			Q: ch.q, InstanceID: ch.inst, RegID: ch.regID, CallID: callID, CSeq: cseq,
			Source: req.Source(), Transport: strings.ToLower(req.Transport()), NAT: behindNAT(req, ch.parsed),
			UserAgent: ua, Updated: now,
		}
		c, err := newContact(b)
		if err != nil {
			return sip.NewResponseFromRequest(req, 400, "Bad Contact", nil)
		}
		if r.st != nil {
			if err := r.st.PutBinding(b); err != nil {
				return r.storeFailed(req, err)
			}
		}
		fresh := idx < 0 || !list[idx].Expires.After(now)
		if idx >= 0 {
			list[idx] = c
		} else {
			list = append(list, c)
		}
		sh.aor[aor] = list
		if fresh {
			r.emit(Bound, ReasonRegistered, aor, c, live(list, now), now)
		}
	}
	if len(list) == 0 {
		delete(sh.aor, aor)
	} else {
		sh.aor[aor] = list
	}
	return r.ok(req, list, now)
}

// Remove drops one binding before its expiry (reason: ReasonUnreachable when keepalives go
// unanswered, ReasonFlowClosed when its connection closed) and reports whether it existed.
func (r *Registrar) Remove(aor, contact, reason string) bool {
	sh := r.shard(aor)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.aor[aor]
	for i, c := range list {
		if c.Contact != contact {
			continue
		}
		if err := r.deleteStored(aor, contact); err != nil {
			r.log.Warn("remove binding: store", "aor", aor, "error", err)
		}
		list = append(list[:i], list[i+1:]...)
		if len(list) == 0 {
			delete(sh.aor, aor)
		} else {
			sh.aor[aor] = list
		}
		now := r.now()
		r.emit(Unbound, reason, aor, c, live(list, now), now)
		return true
	}
	return false
}

func (r *Registrar) deleteStored(aor, contact string) error {
	if r.st == nil {
		return nil
	}
	return r.st.DeleteBinding(aor, contact)
}

func (r *Registrar) storeFailed(req *sip.Request, err error) *sip.Response {
	r.log.Error("registrar: store write failed", "error", err)
	res := sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", "5"))
	return res
}

// ok builds the 200 listing every live binding with its remaining time (§10.3 step 8).
func (r *Registrar) ok(req *sip.Request, list []*Contact, now time.Time) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, c := range list {
		left := int(c.Expires.Sub(now).Round(time.Second) / time.Second)
		if left <= 0 {
			continue
		}
		h := &sip.ContactHeader{Address: c.URI}
		h.Params = sip.NewParams()
		h.Params.Add("expires", strconv.Itoa(left))
		if c.Q > 0 {
			h.Params.Add("q", strconv.FormatFloat(c.Q, 'f', -1, 64))
		}
		res.AppendHeader(h)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(http1123)))
	return res
}

const http1123 = "Mon, 02 Jan 2006 15:04:05 GMT"
