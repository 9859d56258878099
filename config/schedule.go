package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The calendar syntax of numbers (and text entry points) is parsed here, once, so that
// `ccswitch check` and the ivr package that evaluates calendars agree on its meaning.

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseDays reads "mon-fri", "sat", "sun,mon", "fri-mon" (wrapping) or "daily" into a set
// indexed by time.Weekday.
func ParseDays(s string) ([7]bool, error) {
	var set [7]bool
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "daily" || s == "all" {
		return [7]bool{true, true, true, true, true, true, true}, nil
	}
	if s == "" {
		return set, fmt.Errorf("empty day list: want e.g. mon-fri, sat, daily")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		from, to, isRange := strings.Cut(part, "-")
		a, ok := weekdays[from]
		if !ok {
			return set, fmt.Errorf("unknown day %q: want mon, tue, wed, thu, fri, sat, sun", from)
		}
		b := a
		if isRange {
			if b, ok = weekdays[to]; !ok {
				return set, fmt.Errorf("unknown day %q: want mon, tue, wed, thu, fri, sat, sun", to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			set[d] = true
			if d == b {
				break
			}
		}
	}
	return set, nil
}

// ParseClockRange reads "09:00-17:30" into minutes since midnight; "24:00" ends a day.
// The end must come after the start: a range over midnight is written as two ranges.
func ParseClockRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok {
		return 0, 0, fmt.Errorf("want a range such as 09:00-17:30, got %q", s)
	}
	if from, err = parseClock(a); err != nil {
		return 0, 0, err
	}
	if to, err = parseClock(b); err != nil {
		return 0, 0, err
	}
	if to <= from {
		return 0, 0, fmt.Errorf("range %q ends before it starts (write a range over midnight as two)", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("want a time such as 09:00, got %q", s)
	}
	return hh*60 + mm, nil
}

// Date is a calendar day; Year 0 means every year.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate reads "2026-12-31" (one day) or "12-25" (every year).
func ParseDate(s string) (Date, error) {
	s = strings.TrimSpace(s)
	layout, yearly := "2006-01-02", false
	if strings.Count(s, "-") == 1 {
		layout, yearly = "01-02", true
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		if yearly && s == "02-29" {
			return Date{Month: time.February, Day: 29}, nil
		}
		return Date{}, fmt.Errorf("want a date such as 2026-12-31 or 12-25 (yearly), got %q", s)
	}
	d := Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
	if yearly {
		d.Year = 0
	}
	return d, nil
}

// ParseLocalTime reads "2026-12-24T18:00" as a wall-clock time in loc.
func ParseLocalTime(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01-02T15:04", strings.TrimSpace(s), loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a local time such as 2026-12-24T18:00, got %q", s)
	}
	return t, nil
}
