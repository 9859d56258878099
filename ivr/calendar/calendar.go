package calendar

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ccswitch/ccswitch/config"
)

// State is whether a calendar is open at an instant.
type State uint8

const (
	// Closed: outside the weekly hours, or closed by an override.
	Closed State = iota
	// Open: inside the weekly hours, or opened by an override, or no hours are set.
	Open
	// Holiday: the local day is a holiday (and no override says otherwise).
	Holiday
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case Holiday:
		return "holiday"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Rule is the kind of rule that decided a State.
type Rule uint8

const (
	// RuleAlways: the schedule has no weekly hours, so it is open.
	RuleAlways Rule = iota
	// RuleHours: the weekly hours decided.
	RuleHours
	// RuleHoliday: a holiday applied; Reason.Index is its index in Schedule.Holidays.
	RuleHoliday
	// RuleOverride: an override applied; Reason.Index is its index in Schedule.Overrides.
	RuleOverride
)

func (r Rule) String() string {
	switch r {
	case RuleAlways:
		return "always"
	case RuleHours:
		return "hours"
	case RuleHoliday:
		return "holiday"
	case RuleOverride:
		return "override"
	}
	return fmt.Sprintf("rule(%d)", uint8(r))
}

// Reason says which rule decided a State: for holidays and overrides, which one.
type Reason struct {
	Rule  Rule
	Index int    // into Schedule.Holidays or Schedule.Overrides; 0 otherwise
	Name  string // the holiday's or override's name (its dates when unnamed)
}

func (r Reason) String() string {
	if r.Name == "" {
		return r.Rule.String()
	}
	return r.Rule.String() + " " + r.Name
}

const day = 24 * 60 * 60 // seconds

// horizon bounds NextChange's search: long enough for a yearly holiday on 02-29.
const horizon = 5 * 366 * day

// Calendar is a compiled Schedule. It is immutable and safe for concurrent use. The nil
// *Calendar is always open.
type Calendar struct {
	loc       *time.Location
	hasHours  bool
	week      [7][]span // by time.Weekday; sorted, merged, seconds of the day
	holidays  []holiday
	overrides []override
}

// span is [from, to) in seconds since local midnight.
type span struct{ from, to int64 }

// holiday covers the local days [from, to], as month*100+day when yearly (a range may wrap
// the year end), or as year*10000+month*100+day when dated.
type holiday struct {
	name     string
	yearly   bool
	from, to int
}

// override forces a state over [from, to), in "civil seconds": the local wall-clock reading
// written as if it were UTC seconds since 1970.
type override struct {
	name     string
	from, to int64
	open     bool
}

// New compiles s. It returns every problem it finds, joined (a schedule that passed config validation
// has none, except a dated holiday range that ends before it starts, which config does not
// check).
func New(s config.Schedule) (*Calendar, error) {
	var errs []error
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		errs = append(errs, fmt.Errorf("timezone: unknown time zone %q", s.Timezone))
		loc = time.UTC
	}
	c := &Calendar{loc: loc}
	for i, h := range s.Hours {
		days, err := config.ParseDays(h.Days)
		if err != nil {
			errs = append(errs, fmt.Errorf("hours[%d].days: %w", i, err))
			continue
		}
		for j, r := range h.Open {
			from, to, err := config.ParseClockRange(r)
			if err != nil {
				errs = append(errs, fmt.Errorf("hours[%d].open[%d]: %w", i, j, err))
				continue
			}
			c.hasHours = true
			for d, on := range days {
				if on {
					c.week[d] = append(c.week[d], span{int64(from) * 60, int64(to) * 60})
				}
			}
		}
	}
	for d := range c.week {
		c.week[d] = merge(c.week[d])
	}
	for i, h := range s.Holidays {
		hd, err := newHoliday(h)
		if err != nil {
			errs = append(errs, fmt.Errorf("holidays[%d]: %w", i, err))
			continue
		}
		c.holidays = append(c.holidays, hd)
	}
	for i, o := range s.Overrides {
		from, err1 := config.ParseLocalTime(o.From, time.UTC)
		to, err2 := config.ParseLocalTime(o.To, time.UTC)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("overrides[%d]: %w", i, err))
			continue
		}
		if !to.After(from) {
			errs = append(errs, fmt.Errorf("overrides[%d]: override ends before it starts", i))
			continue
		}
		name := o.Name
		if name == "" {
			name = o.From + "/" + o.To
		}
		c.overrides = append(c.overrides, override{name: name, from: from.Unix(), to: to.Unix(), open: o.Open})
	}
	if len(errs) > 0 {
		for i, err := range errs {
			errs[i] = fmt.Errorf("calendar: %w", err)
		}
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func newHoliday(h config.Holiday) (holiday, error) {
	name := h.Name
	fromS, toS := h.From, h.To
	if h.Date != "" {
		if h.From != "" || h.To != "" {
			return holiday{}, fmt.Errorf("give date, or from and to, not both")
		}
		fromS, toS = h.Date, h.Date
	}
	if name == "" {
		name = fromS
		if toS != fromS {
			name += "/" + toS
		}
	}
	from, err1 := config.ParseDate(fromS)
	to, err2 := config.ParseDate(toS)
	if err := errors.Join(err1, err2); err != nil {
		return holiday{}, err
	}
	if (from.Year == 0) != (to.Year == 0) {
		return holiday{}, fmt.Errorf("from and to must both be yearly or both dated")
	}
	hd := holiday{name: name, yearly: from.Year == 0, from: dateKey(from), to: dateKey(to)}
	if !hd.yearly && hd.to < hd.from {
		return holiday{}, fmt.Errorf("holiday %q ends before it starts", name)
	}
	return hd, nil
}

func dateKey(d config.Date) int { return d.Year*10000 + int(d.Month)*100 + d.Day }

// merge sorts spans and joins those that overlap or touch.
func merge(s []span) []span {
	slices.SortFunc(s, func(a, b span) int { return int(a.from - b.from) })
	out := s[:0]
	for _, x := range s {
		if n := len(out); n > 0 && x.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, x.to)
			continue
		}
		out = append(out, x)
	}
	return out
}

// Location is the calendar's time zone, for writing "we open at 09:00" in local time.
func (c *Calendar) Location() *time.Location {
	if c == nil {
		return time.UTC
	}
	return c.loc
}

// State says whether the calendar is open at the instant at, and which rule decided.
func (c *Calendar) State(at time.Time) (State, Reason) {
	if c == nil {
		return Open, Reason{Rule: RuleAlways}
	}
	return c.stateCivil(c.civil(at.Unix()))
}

// civil turns Unix seconds into the wall-clock reading of the calendar's zone, as seconds.
func (c *Calendar) civil(u int64) int64 {
	_, off := time.Unix(u, 0).In(c.loc).Zone()
	return u + int64(off)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (c *Calendar) stateCivil(cv int64) (State, Reason) {
	for i, o := range c.overrides {
		if o.from <= cv && cv < o.to {
			s := Closed
			if o.open {
				s = Open
			}
			return s, Reason{Rule: RuleOverride, Index: i, Name: o.name}
		}
	}
	days := floorDiv(cv, day)
	if len(c.holidays) > 0 {
		y, m, d := time.Unix(days*day, 0).UTC().Date()
		md, ymd := int(m)*100+d, y*10000+int(m)*100+d
		for i, h := range c.holidays {
			if h.match(md, ymd) {
				return Holiday, Reason{Rule: RuleHoliday, Index: i, Name: h.name}
			}
		}
	}
	if !c.hasHours {
		return Open, Reason{Rule: RuleAlways}
	}
	sod := cv - days*day
	wd := (days + 4) % 7 // 1970-01-01 was a Thursday
	if wd < 0 {
		wd += 7
	}
	for _, s := range c.week[wd] {
		if s.from <= sod && sod < s.to {
			return Open, Reason{Rule: RuleHours}
		}
	}
	return Closed, Reason{Rule: RuleHours}
}

func (h holiday) match(md, ymd int) bool {
	if !h.yearly {
		return h.from <= ymd && ymd <= h.to
	}
	if h.from <= h.to {
		return h.from <= md && md <= h.to
	}
	return md >= h.from || md <= h.to // wraps the year end
}

// NextChange returns the first instant after at whose State differs from State(at), in the
// calendar's zone, and false when the state does not change within five years (a schedule
// with no hours, holidays or overrides is open for ever). The instant has whole seconds.
func (c *Calendar) NextChange(at time.Time) (time.Time, bool) {
	if c == nil {
		return time.Time{}, false
	}
	t := at.Unix()
	s0, _ := c.stateCivil(c.civil(t))
	limit := t + horizon
	for t < limit {
		// Within one zone period the offset is constant, so the wall clock moves with the
		// instant and the state can only change at a breakpoint of the rules.
		lt := time.Unix(t, 0).In(c.loc)
		_, off := lt.Zone()
		segEnd := limit
		if _, end := lt.ZoneBounds(); !end.IsZero() && end.Unix() < segEnd {
			segEnd = end.Unix()
		}
		if segEnd <= t { // never stall, whatever the zone data says
			segEnd = min(t+day, limit)
		}
		for cv := t + int64(off); ; {
			b := c.nextBreak(cv)
			if b-int64(off) >= segEnd {
				break
			}
			if s, _ := c.stateCivil(b); s != s0 {
				return time.Unix(b-int64(off), 0).In(c.loc), true
			}
			cv = b
		}
		// At a zone transition the wall clock jumps: the state may change there too.
		t = segEnd
		if t < limit {
			if s, _ := c.stateCivil(c.civil(t)); s != s0 {
				return time.Unix(t, 0).In(c.loc), true
			}
		}
	}
	return time.Time{}, false
}

// nextBreak is the first civil second after cv at which a rule may start or stop applying:
// the next local midnight, a weekly range's start or end, an override's start or end.
func (c *Calendar) nextBreak(cv int64) int64 {
	days := floorDiv(cv, day)
	sod := cv - days*day
	b := (days + 1) * day
	wd := (days + 4) % 7
	if wd < 0 {
		wd += 7
	}
	for _, s := range c.week[wd] {
		if s.from > sod {
			b = min(b, days*day+s.from)
		}
		if s.to > sod {
			b = min(b, days*day+s.to)
		}
	}
	for _, o := range c.overrides {
		if o.from > cv {
			b = min(b, o.from)
		}
		if o.to > cv {
			b = min(b, o.to)
		}
	}
	return b
}
