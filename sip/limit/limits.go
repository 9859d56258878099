package limit

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccswitch/ccswitch/config"
	"github.com/ccswitch/ccswitch/internal/ratelog"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are what a Limits needs besides the config.
type Options struct {
	// Store keeps the daily minutes across restarts; nil keeps them in memory only.
	Store UsageStore
	// Logger gets the refusal lines (once per limit and key per minute).
	Logger *slog.Logger
	// Registerer gets the metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now); tests freeze it.
	Now func() time.Time
}

// Limits applies the abuse limits of one configuration (replaced on Reload). Safe for
// concurrent use; Run must run for minutes to be counted and idle state swept.
type Limits struct {
	now  func() time.Time
	log  *slog.Logger
	rl   *ratelog.Logger
	m    *metricSet
	src  *Sources
	cfg  atomic.Pointer[compiled]
	busy counter
	rate rates
	mtr  *meter

	exMu  sync.Mutex
	extra []Exempt // sources of ccswitch's own (ExemptSource), kept across reloads
	ex    []Exempt // the configuration's
}

// compiled is one configuration's limits, ready for lookups.
type compiled struct {
	users          map[string]*userLimits
	global         userLimits
	trunks         map[string]int // max calls, 0 = none
	emergency      map[string]bool
	emergencyTrunk string
	loc            *time.Location
}

type userLimits struct {
	maxCalls  int
	rate      float64
	burst     int
	daily     time.Duration
	dest      *policy // nil: any number
	emergency bool
}

// New compiles cfg's limits.
func New(cfg *config.Config, o Options) (*Limits, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("component", "sip.limit")
	l := &Limits{now: o.Now, log: log, rl: ratelog.New(log, time.Minute), m: newMetrics(o.Registerer)}
	l.rl.SetNow(o.Now)
	l.mtr = newMeter(o.Store, func(err error) {
		l.rl.Warn("store", "daily minutes not read or stored", "error", err)
	})
	c, rate, burst, ex, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	l.cfg.Store(c)
	l.ex = ex
	l.src = NewSources(rate, burst, ex, o.Now)
	l.src.dropped = l.m.dropped.Inc
	l.src.onBlock = func(src netip.Addr) {
		l.m.blocks.Inc()
		l.rl.Warn("flood|"+src.String(), "source flooding: its messages are dropped unparsed until it slows down",
			"source", src.String(), "rate", rate, "burst", burst)
	}
	l.m.watch(l.src)
	return l, nil
}

// Reload applies a new configuration's limits; calls in progress keep their slots.
func (l *Limits) Reload(cfg *config.Config) error {
	c, rate, burst, ex, err := compile(cfg)
	if err != nil {
		return err
	}
	l.cfg.Store(c)
	l.exMu.Lock()
	l.ex = ex
	l.src.Set(rate, burst, append(append([]Exempt(nil), ex...), l.extra...))
	l.exMu.Unlock()
	return nil
}

// ExemptSource exempts a source of ccswitch's own (the browser phones' SIP socket, through
// which every browser registers and calls) from the per-source limit, for good: one
// address standing for many phones must not be blocked as a flood.
func (l *Limits) ExemptSource(ap netip.AddrPort) {
	l.exMu.Lock()
	defer l.exMu.Unlock()
	l.extra = append(l.extra, Exempt{Prefix: netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()), Port: ap.Port()})
	l.src.SetExempt(append(append([]Exempt(nil), l.ex...), l.extra...))
}

func compile(cfg *config.Config) (*compiled, float64, int, []Exempt, error) {
	lim := cfg.SIP.Limits
	c := &compiled{
		users:          make(map[string]*userLimits, len(cfg.Users)),
		trunks:         make(map[string]int, len(cfg.Trunks)),
		emergency:      make(map[string]bool, len(cfg.SIP.Emergency)),
		emergencyTrunk: cfg.SIP.EmergencyTrunk,
		loc:            time.UTC,
	}
	if lim.Timezone != "" {
		loc, err := time.LoadLocation(lim.Timezone)
		if err != nil {
			return nil, 0, 0, nil, fmt.Errorf("limit: sip.limits.timezone: %w", err)
		}
		c.loc = loc
	}
	c.global = userLimits{maxCalls: deref(lim.MaxCalls), rate: deref(lim.CallRate), burst: lim.CallBurst,
		daily: time.Duration(lim.DailyMinutes) * time.Minute}
	classes := make(map[string]*config.Class, len(lim.Classes))
	for i := range lim.Classes {
		classes[lim.Classes[i].Name] = &lim.Classes[i]
	}
	var ex []Exempt
	for _, u := range cfg.Users {
		ul := c.global
		var allow, deny []string
		if cl := classes[u.Class]; cl != nil {
			setIf(&ul.maxCalls, cl.MaxCalls)
			setIf(&ul.daily, minutes(cl.DailyMinutes))
			if cl.CallRate != nil {
				ul.rate = *cl.CallRate
			}
			if cl.CallBurst > 0 {
				ul.burst = cl.CallBurst
			}
			allow, deny = append(allow, cl.Allow...), append(deny, cl.Deny...)
		}
		setIf(&ul.maxCalls, u.MaxCalls)
		setIf(&ul.daily, minutes(u.DailyMinutes))
		allow, deny = append(allow, u.Allow...), append(deny, u.Deny...)
		if len(allow)+len(deny) > 0 {
			ul.dest = newPolicy(allow, deny)
		}
		c.users[u.Extension] = &ul
		if u.Contact != "" {
			if ip, port, ok := uriAddr(u.Contact); ok {
				ex = append(ex, Exempt{Prefix: netip.PrefixFrom(ip, ip.BitLen()), Port: port})
			}
		}
	}
	for _, t := range cfg.Trunks {
		c.trunks[t.Name] = t.MaxCalls
		for _, s := range t.Sources {
			p, port, err := config.ParseSource(s)
			if err != nil {
				return nil, 0, 0, nil, fmt.Errorf("limit: trunk %s: %w", t.Name, err)
			}
			ex = append(ex, Exempt{Prefix: netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p.Addr())).Masked(), Port: port})
		}
		for _, o := range t.OutboundURIs() {
			if ip, port, ok := uriAddr(o); ok {
				ex = append(ex, Exempt{Prefix: netip.PrefixFrom(ip, ip.BitLen()), Port: port})
			}
		}
	}
	for _, e := range cfg.SIP.Emergency {
		c.emergency[e] = true
	}
	rate := deref(lim.SourceRate)
	return c, rate, lim.SourceBurst, ex, nil
}

// unmapBits is how many prefix bits an IPv4-mapped IPv6 address spends on its ::ffff: part.
func unmapBits(a netip.Addr) int {
	if a.Is4In6() {
		return 96
	}
	return 0
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func setIf[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}

func minutes(p *int) *time.Duration {
	if p == nil {
		return nil
	}
	d := time.Duration(*p) * time.Minute
	return &d
}

// uriAddr reads the IP literal and port of "sip:user@1.2.3.4:5060;params", "host:port" or
// "1.2.3.4"; a host name is not an address (false).
func uriAddr(s string) (netip.Addr, uint16, bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "sips:"), "sip:")
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, ";?>"); i >= 0 {
		s = s[:i]
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Port(), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), 0, true
	}
	return netip.Addr{}, 0, false
}

// AdmitMessage is the flood limit (Sources.Admit) for sipgo's read filter.
func (l *Limits) AdmitMessage(addr net.Addr, data []byte, stream bool) bool {
	return l.src.Admit(addr, data, stream)
}

// Sources returns the flood limiter.
func (l *Limits) Sources() *Sources { return l.src }

// Emergency reports whether number is an emergency number.
func (l *Limits) Emergency(number string) bool { return l.cfg.Load().emergency[number] }

// EmergencyTrunk names the trunk emergency calls go to first ("": the first outbound trunk).
func (l *Limits) EmergencyTrunk() string { return l.cfg.Load().emergencyTrunk }

// ExtensionCalls returns how many calls ext is in now.
func (l *Limits) ExtensionCalls(ext string) int { return l.busy.get("ext/" + ext) }

// TrunkCalls returns how many calls trunk carries now.
func (l *Limits) TrunkCalls(trunk string) int { return l.busy.get("trunk/" + trunk) }

// Used returns the minutes user has spent today through trunks (calls in progress counted up
// to the last Tick).
func (l *Limits) Used(user string) time.Duration {
	return l.mtr.usedOn(l.day(l.now()), user)
}

func (l *Limits) day(t time.Time) string { return t.In(l.cfg.Load().loc).Format("2006-01-02") }

func (l *Limits) user(c *compiled, ext string) *userLimits {
	if u := c.users[ext]; u != nil {
		return u
	}
	return &c.global
}

// DestinationAllowed reports whether ext's class and own allow/deny prefixes let it call
// number: the destination rule of Hold.Caller, taking nothing (for sip.Server.Decide).
func (l *Limits) DestinationAllowed(ext, number string) bool {
	return l.user(l.cfg.Load(), ext).dest.allowed(number)
}

// Run counts the minutes of calls in progress every second (ending those over their cap) and
// sweeps idle state, until ctx ends; then it stores the minutes counted.
func (l *Limits) Run(ctx context.Context) error {
	l.prune()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			now := l.now()
			l.mtr.flush(l.day(now), now)
			return nil
		case <-t.C:
			l.Tick()
			if n++; n%10 == 0 {
				l.Sweep()
			}
		}
	}
}

// KeepDays is how many days of daily minutes the store keeps.
const KeepDays = 40

// prune drops the daily minutes older than KeepDays, when the store can.
func (l *Limits) prune() {
	p, ok := l.mtr.st.(interface{ PruneDailyUsage(before string) error })
	if !ok {
		return
	}
	if err := p.PruneDailyUsage(l.day(l.now().AddDate(0, 0, -KeepDays))); err != nil {
		l.rl.Warn("store", "old daily minutes not pruned", "error", err)
	}
}

// Tick counts the minutes of answered calls up to now and ends those whose extension reached
// its daily cap. Run calls it every second; tests call it after moving their clock.
func (l *Limits) Tick() {
	c := l.cfg.Load()
	now := l.now()
	cut := l.mtr.tick(l.day(now), now, func(user string) time.Duration { return l.user(c, user).daily })
	for _, h := range cut {
		if h.emergency || !h.cutDone.CompareAndSwap(false, true) {
			continue
		}
		l.m.cut.Inc()
		l.rl.Warn("daily_minutes_cut|"+h.user, "call ended: daily minutes reached", "aor", h.user,
			"daily_minutes", int(l.user(c, h.user).daily/time.Minute))
		if h.cut != nil {
			h.cut()
		}
	}
}

// Sweep forgets sources and rate buckets that are idle again.
func (l *Limits) Sweep() {
	l.src.Sweep()
	c := l.cfg.Load()
	l.rate.sweep(l.now(), func(ext string) (float64, int) {
		u := l.user(c, ext)
		return u.rate, u.burst
	})
}

// Hold returns an empty hold for a new call; cut is called (once, from Run's goroutine) if
// the call must end because its extension's daily minutes ran out.
func (l *Limits) Hold(cut func()) *Hold { return &Hold{l: l, cut: cut} }

// Hold is the set of slots one call holds. The call's owner asks for each slot (Caller,
// Trunk, Callee), calls Answered when it is answered, and Release when it ends (invariant 3).
// Its methods are called from the call's own goroutines, one at a time; Release may race
// with Run's tick, which is safe.
type Hold struct {
	l         *Limits
	cut       func()
	keys      []string
	emergency bool
	user      string    // metered extension, "" when the call is not metered
	counted   time.Time // metered up to (under meter.mu)
	started   atomic.Bool
	released  atomic.Bool
	cutDone   atomic.Bool
}

func (h *Hold) refuse(r *Refusal, key string, args ...any) *Refusal {
	h.l.m.refused.WithLabelValues(r.Limit).Inc()
	h.l.rl.Warn(r.Limit+"|"+key, "call refused by a limit", append([]any{"limit", r.Limit, "code", r.Code}, args...)...)
	return r
}

// Caller admits a call placed by extension ext to number (outbound: through a trunk): its
// call rate, then for outbound calls its destination rules and daily minutes, then its
// concurrent calls. On refusal the caller answers r.Code and releases the hold.
func (h *Hold) Caller(ext, number string, outbound bool) *Refusal {
	c := h.l.cfg.Load()
	u := h.l.user(c, ext)
	now := h.l.now()
	if ok, wait := h.l.rate.take(ext, u.rate, u.burst, now); !ok {
		return h.refuse(refuseCallRate(wait), ext, "aor", ext, "call_rate", u.rate)
	}
	if outbound {
		if !u.dest.allowed(number) {
			return h.refuse(refuseDestination(), ext, "aor", ext, "number", number)
		}
		if u.daily > 0 && h.l.mtr.usedOn(h.l.day(now), ext) >= u.daily {
			return h.refuse(refuseMinutes(), ext, "aor", ext, "daily_minutes", int(u.daily/time.Minute))
		}
		h.user = ext
	}
	if !h.take("ext/"+ext, u.maxCalls, false) {
		return h.refuse(refuseCallerCalls(), ext, "aor", ext, "max_calls", u.maxCalls)
	}
	return nil
}

// Emergency admits an emergency call from ext: nothing is refused and nothing is metered,
// but the call holds ext's slot (invariant 4).
func (h *Hold) Emergency(ext string) {
	h.emergency = true
	h.user = ""
	h.l.m.emergency.Inc()
	h.take("ext/"+ext, 0, true)
}

// Trunk takes a slot of trunk; false when it is at its max_calls (the caller answers 503 to
// an inbound call, or tries the next trunk for an outbound one). Emergency calls always get one.
func (h *Hold) Trunk(trunk string) bool {
	max := h.l.cfg.Load().trunks[trunk]
	if h.take("trunk/"+trunk, max, h.emergency) {
		return true
	}
	h.refuse(refuseTrunkCalls(), trunk, "trunk", trunk, "max_calls", max)
	return false
}

// TrunkFull is the refusal for a call no trunk could take because each was at its max_calls.
func TrunkFull() *Refusal { return refuseTrunkCalls() }

// Callee takes a slot of the extension a call rings; 486 when it is at its max_calls.
func (h *Hold) Callee(ext string) *Refusal {
	u := h.l.user(h.l.cfg.Load(), ext)
	if h.take("ext/"+ext, u.maxCalls, h.emergency) {
		return nil
	}
	return h.refuse(refuseCalleeCalls(), ext, "aor", ext, "max_calls", u.maxCalls)
}

func (h *Hold) take(key string, max int, force bool) bool {
	if h.released.Load() {
		return false
	}
	if !h.l.busy.acquire(key, max, force) {
		return false
	}
	h.keys = append(h.keys, key)
	return true
}

// Answered starts counting the minutes of a metered call (one placed through a trunk).
func (h *Hold) Answered() {
	if h == nil || h.user == "" || !h.started.CompareAndSwap(false, true) {
		return
	}
	h.l.mtr.start(h, h.l.now())
}

// Release gives back every slot and stores the call's minutes; later calls do nothing.
func (h *Hold) Release() {
	if h == nil || !h.released.CompareAndSwap(false, true) {
		return
	}
	if h.user != "" {
		now := h.l.now()
		h.l.mtr.stop(h, h.l.day(now), now)
	}
	for _, k := range h.keys {
		h.l.busy.release(k)
	}
}

// RetryAfter formats a Retry-After value in whole seconds (at least 1).
func RetryAfter(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1))
}
