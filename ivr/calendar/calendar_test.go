package calendar

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has installed

	"github.com/ccswitch/ccswitch/config"
)

func mustNew(t *testing.T, s config.Schedule) *Calendar {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func daily(tz string, ranges ...string) config.Schedule {
	return config.Schedule{Timezone: tz, Hours: []config.Hours{{Days: "daily", Open: ranges}}}
}

func monday(tz string, ranges ...string) config.Schedule {
	return config.Schedule{Timezone: tz, Hours: []config.Hours{{Days: "mon", Open: ranges}}}
}

func office(tz string) config.Schedule {
	return config.Schedule{Timezone: tz, Hours: []config.Hours{
		{Days: "mon-fri", Open: []string{"09:00-12:30", "13:30-17:00"}},
		{Days: "sat", Open: []string{"10:00-12:00"}},
	}}
}

// TestState evaluates schedules at instants written in UTC, so each case checks the conversion
// to local wall-clock time as well as the rules (invariants 2-6).
func TestState(t *testing.T) {
	holidays := config.Schedule{
		Timezone: "America/New_York",
		Hours:    []config.Hours{{Days: "daily", Open: []string{"00:00-24:00"}}},
		Holidays: []config.Holiday{
			{Name: "christmas", Date: "12-25"},
			{Name: "year end", From: "12-28", To: "01-02"},
			{Name: "inventory", From: "2026-08-10", To: "2026-08-14"},
			{Date: "2027-03-01"},
			{Name: "leap", Date: "02-29"},
		},
		Overrides: []config.Override{
			{Name: "new year party", From: "2026-12-31T18:00", To: "2027-01-01T02:00", Open: true},
			{Name: "staff meeting", From: "2026-11-30T10:00", To: "2026-11-30T11:30"},
		},
	}
	tests := []struct {
		name  string
		sched config.Schedule
		at    string
		want  State
		why   string
	}{
		// UTC: several ranges a day, a closed day, the whole day.
		{"utc morning", office("UTC"), "2026-11-23T09:00:00Z", Open, "hours"},
		{"utc before open", office("UTC"), "2026-11-23T08:59:59Z", Closed, "hours"},
		{"utc lunch", office("UTC"), "2026-11-23T12:30:00Z", Closed, "hours"},
		{"utc afternoon", office("UTC"), "2026-11-23T13:30:00Z", Open, "hours"},
		{"utc end is exclusive", office("UTC"), "2026-11-23T17:00:00Z", Closed, "hours"},
		{"utc saturday", office("UTC"), "2026-11-28T11:00:00Z", Open, "hours"},
		{"utc sunday", office("UTC"), "2026-11-29T11:00:00Z", Closed, "hours"},
		{"whole day start", daily("UTC", "00:00-24:00"), "2026-11-23T00:00:00Z", Open, "hours"},
		{"whole day end", daily("UTC", "00:00-24:00"), "2026-11-23T23:59:59Z", Open, "hours"},
		{"no hours", config.Schedule{Timezone: "UTC"}, "2026-11-23T03:00:00Z", Open, "always"},
		{"empty zone is utc", office(""), "2026-11-23T09:00:00Z", Open, "hours"},

		// Kolkata, +05:30 all year: 09:00 IST is 03:30 UTC.
		{"kolkata opens", office("Asia/Kolkata"), "2026-11-23T03:30:00Z", Open, "hours"},
		{"kolkata before", office("Asia/Kolkata"), "2026-11-23T03:29:59Z", Closed, "hours"},
		{"kolkata closes", office("Asia/Kolkata"), "2026-11-23T11:30:00Z", Closed, "hours"},
		// Monday 01:00 IST is still Sunday in UTC.
		{"kolkata weekday is local", monday("Asia/Kolkata", "00:30-02:00"), "2026-11-22T19:30:00Z", Open, "hours"},
		{"kolkata sunday evening", monday("Asia/Kolkata", "00:30-02:00"), "2026-11-22T18:30:00Z", Closed, "hours"},

		// Paris: 09:00 is 08:00 UTC in winter, 07:00 UTC in summer.
		{"paris winter", office("Europe/Paris"), "2026-11-23T08:00:00Z", Open, "hours"},
		{"paris winter before", office("Europe/Paris"), "2026-11-23T07:59:59Z", Closed, "hours"},
		{"paris summer", office("Europe/Paris"), "2026-06-22T07:00:00Z", Open, "hours"},
		{"paris summer before", office("Europe/Paris"), "2026-06-22T06:59:59Z", Closed, "hours"},

		// Paris spring forward, Sunday 2026-03-29 02:00 CET -> 03:00 CEST at 01:00 UTC.
		{"paris gap range before", daily("Europe/Paris", "02:30-04:00"), "2026-03-29T00:59:59Z", Closed, "hours"},
		{"paris gap range opens at jump", daily("Europe/Paris", "02:30-04:00"), "2026-03-29T01:00:00Z", Open, "hours"},
		{"paris gap range closes 04:00 CEST", daily("Europe/Paris", "02:30-04:00"), "2026-03-29T02:00:00Z", Closed, "hours"},
		{"paris range inside gap never opens", daily("Europe/Paris", "02:00-02:30"), "2026-03-29T01:00:00Z", Closed, "hours"},

		// Paris fall back, Sunday 2026-10-25 03:00 CEST -> 02:00 CET at 01:00 UTC: 02:xx twice.
		{"paris repeated first pass", daily("Europe/Paris", "02:00-02:30"), "2026-10-25T00:15:00Z", Open, "hours"},
		{"paris repeated between", daily("Europe/Paris", "02:00-02:30"), "2026-10-25T00:45:00Z", Closed, "hours"},
		{"paris repeated second pass", daily("Europe/Paris", "02:00-02:30"), "2026-10-25T01:15:00Z", Open, "hours"},
		{"paris repeated after", daily("Europe/Paris", "02:00-02:30"), "2026-10-25T01:30:00Z", Closed, "hours"},

		// New York spring forward 2026-03-08 02:00 EST -> 03:00 EDT at 07:00 UTC.
		{"ny gap before", daily("America/New_York", "02:15-03:30"), "2026-03-08T06:59:59Z", Closed, "hours"},
		{"ny gap opens at jump", daily("America/New_York", "02:15-03:30"), "2026-03-08T07:00:00Z", Open, "hours"},
		{"ny gap closes", daily("America/New_York", "02:15-03:30"), "2026-03-08T07:30:00Z", Closed, "hours"},
		// New York fall back 2026-11-01 02:00 EDT -> 01:00 EST at 06:00 UTC: 01:xx twice.
		{"ny repeated first", daily("America/New_York", "01:30-02:00"), "2026-11-01T05:45:00Z", Open, "hours"},
		{"ny repeated between", daily("America/New_York", "01:30-02:00"), "2026-11-01T06:15:00Z", Closed, "hours"},
		{"ny repeated second", daily("America/New_York", "01:30-02:00"), "2026-11-01T06:45:00Z", Open, "hours"},
		{"ny friday edt", office("America/New_York"), "2026-10-30T13:00:00Z", Open, "hours"},
		{"ny monday est not yet", office("America/New_York"), "2026-11-02T13:00:00Z", Closed, "hours"},
		{"ny monday est", office("America/New_York"), "2026-11-02T14:00:00Z", Open, "hours"},

		// Sydney (southern hemisphere): DST ends 2026-04-05 03:00 AEDT -> 02:00 AEST at
		// 2026-04-04 16:00 UTC, and starts 2026-10-04 02:00 AEST -> 03:00 AEDT at 2026-10-03
		// 16:00 UTC.
		{"sydney repeated first", daily("Australia/Sydney", "02:30-03:00"), "2026-04-04T15:45:00Z", Open, "hours"},
		{"sydney repeated between", daily("Australia/Sydney", "02:30-03:00"), "2026-04-04T16:15:00Z", Closed, "hours"},
		{"sydney repeated second", daily("Australia/Sydney", "02:30-03:00"), "2026-04-04T16:45:00Z", Open, "hours"},
		{"sydney gap opens at jump", daily("Australia/Sydney", "02:30-04:00"), "2026-10-03T16:00:00Z", Open, "hours"},
		{"sydney gap before", daily("Australia/Sydney", "02:30-04:00"), "2026-10-03T15:59:59Z", Closed, "hours"},
		{"sydney saturday aest", office("Australia/Sydney"), "2026-09-26T00:00:00Z", Open, "hours"}, // 10:00 AEST
		{"sydney saturday aedt", office("Australia/Sydney"), "2026-10-09T23:00:00Z", Open, "hours"}, // 10:00 AEDT
		{"sydney saturday aedt early", office("Australia/Sydney"), "2026-10-09T22:59:59Z", Closed, "hours"},

		// Holidays are local days: Christmas in New York starts at 05:00 UTC.
		{"christmas eve evening", holidays, "2026-12-25T04:59:59Z", Open, "hours"},
		{"christmas", holidays, "2026-12-25T05:00:00Z", Holiday, "holiday christmas"},
		{"christmas yearly", holidays, "2031-12-25T12:00:00Z", Holiday, "holiday christmas"},
		{"year end wraps before", holidays, "2026-12-28T04:59:59Z", Open, "hours"},
		{"year end wraps december", holidays, "2026-12-29T12:00:00Z", Holiday, "holiday year end"},
		{"year end wraps january", holidays, "2027-01-02T12:00:00Z", Holiday, "holiday year end"},
		{"year end wraps after", holidays, "2027-01-03T05:00:00Z", Open, "hours"},
		{"dated range", holidays, "2026-08-12T12:00:00Z", Holiday, "holiday inventory"},
		{"dated range other year", holidays, "2027-08-12T12:00:00Z", Open, "hours"},
		{"unnamed one-off", holidays, "2027-03-01T12:00:00Z", Holiday, "holiday 2027-03-01"},
		{"leap day", holidays, "2028-02-29T12:00:00Z", Holiday, "holiday leap"},
		{"not a leap year", holidays, "2027-03-01T04:00:00Z", Open, "hours"}, // Feb 28 23:00 EST

		// Overrides win over everything.
		{"open override on a holiday", holidays, "2027-01-01T02:00:00Z", Open, "override new year party"}, // Dec 31 21:00
		{"open override ends", holidays, "2027-01-01T07:00:00Z", Holiday, "holiday year end"},
		{"closed override in hours", holidays, "2026-11-30T15:00:00Z", Closed, "override staff meeting"},
		{"closed override end", holidays, "2026-11-30T16:30:00Z", Open, "hours"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.sched)
			got, why := c.State(utc(t, tc.at))
			if got != tc.want || why.String() != tc.why {
				t.Errorf("State(%s) = %v (%v), want %v (%s)", tc.at, got, why, tc.want, tc.why)
			}
		})
	}
}

// TestNextChange walks the changes of a schedule from an instant: each one must be where the
// state flips (invariant 7), including at DST transitions.
func TestNextChange(t *testing.T) {
	tests := []struct {
		name  string
		sched config.Schedule
		from  string
		want  []string // successive changes, UTC
	}{
		{"utc office week", office("UTC"), "2026-11-27T16:00:00Z", []string{
			"2026-11-27T17:00:00Z", "2026-11-28T10:00:00Z", "2026-11-28T12:00:00Z", "2026-11-30T09:00:00Z",
		}},
		{"whole days merge", config.Schedule{Hours: []config.Hours{{Days: "mon-wed", Open: []string{"00:00-24:00"}}}},
			"2026-11-23T10:00:00Z", []string{"2026-11-26T00:00:00Z", "2026-11-30T00:00:00Z"}},
		{"kolkata", office("Asia/Kolkata"), "2026-11-23T00:00:00Z", []string{
			"2026-11-23T03:30:00Z", "2026-11-23T07:00:00Z", "2026-11-23T08:00:00Z", "2026-11-23T11:30:00Z",
		}},
		{"paris spring gap", daily("Europe/Paris", "02:30-04:00"), "2026-03-28T23:00:00Z", []string{
			"2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z", "2026-03-30T00:30:00Z",
		}},
		{"paris range inside gap skips the day", daily("Europe/Paris", "02:00-02:30"), "2026-03-28T23:00:00Z", []string{
			"2026-03-30T00:00:00Z", "2026-03-30T00:30:00Z",
		}},
		{"paris fall back twice", daily("Europe/Paris", "02:00-02:30"), "2026-10-24T23:00:00Z", []string{
			"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:00:00Z",
		}},
		{"ny spring", daily("America/New_York", "02:15-03:30"), "2026-03-08T05:00:00Z", []string{
			"2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:15:00Z",
		}},
		{"ny fall back", daily("America/New_York", "01:30-02:00"), "2026-11-01T05:00:00Z", []string{
			"2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z", "2026-11-02T06:30:00Z",
		}},
		{"sydney fall back", daily("Australia/Sydney", "02:30-03:00"), "2026-04-04T15:00:00Z", []string{
			"2026-04-04T15:30:00Z", "2026-04-04T16:00:00Z", "2026-04-04T16:30:00Z", "2026-04-04T17:00:00Z", "2026-04-05T16:30:00Z",
		}},
		{"sydney spring", daily("Australia/Sydney", "02:30-04:00"), "2026-10-03T12:00:00Z", []string{
			"2026-10-03T16:00:00Z", "2026-10-03T17:00:00Z", "2026-10-04T15:30:00Z",
		}},
		{"weekend holiday then monday", config.Schedule{
			Timezone: "Europe/Paris",
			Hours:    []config.Hours{{Days: "mon-fri", Open: []string{"09:00-17:00"}}},
			Holidays: []config.Holiday{{Date: "12-25"}, {Date: "01-01"}},
		}, "2026-12-24T16:30:00Z", []string{
			"2026-12-24T23:00:00Z", // holiday starts at local midnight
			"2026-12-25T23:00:00Z", // back to closed (a Saturday)
			"2026-12-28T08:00:00Z",
		}},
		{"override", config.Schedule{
			Timezone:  "Europe/Paris",
			Hours:     []config.Hours{{Days: "mon-fri", Open: []string{"09:00-17:00"}}},
			Overrides: []config.Override{{From: "2026-12-24T12:00", To: "2026-12-24T20:00", Open: false}},
		}, "2026-12-24T08:00:00Z", []string{"2026-12-24T11:00:00Z", "2026-12-25T08:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := mustNew(t, tc.sched)
			at := utc(t, tc.from)
			for _, w := range tc.want {
				before, _ := c.State(at)
				next, ok := c.NextChange(at)
				if !ok || !next.Equal(utc(t, w)) {
					t.Fatalf("NextChange(%s) = %s, %v; want %s", at.UTC().Format(time.RFC3339), next.UTC().Format(time.RFC3339), ok, w)
				}
				if after, _ := c.State(next); after == before {
					t.Fatalf("state at %s is still %v", w, after)
				}
				if mid, _ := c.State(next.Add(-time.Second)); mid != before {
					t.Fatalf("state changed before %s: %v", w, mid)
				}
				at = next
			}
		})
	}
}

func TestNextChangeNever(t *testing.T) {
	c := mustNew(t, config.Schedule{Timezone: "Europe/Paris"})
	if next, ok := c.NextChange(utc(t, "2026-11-23T10:00:00Z")); ok {
		t.Errorf("always-open calendar changes at %v", next)
	}
	var nilCal *Calendar
	if s, why := nilCal.State(time.Time{}); s != Open || why.Rule != RuleAlways {
		t.Errorf("nil calendar: %v %v", s, why)
	}
	if _, ok := nilCal.NextChange(time.Time{}); ok {
		t.Errorf("nil calendar changes")
	}
}

// TestNextChangeInLocalZone: the instant is returned in the calendar's zone, ready for
// "we open at 09:00".
func TestNextChangeInLocalZone(t *testing.T) {
	c := mustNew(t, office("Australia/Sydney"))
	next, ok := c.NextChange(utc(t, "2026-11-22T12:00:00Z")) // Sunday 23:00 AEDT
	if !ok || next.Format("Mon 15:04 MST") != "Mon 09:00 AEDT" {
		t.Errorf("next = %v", next)
	}
}

func TestNewErrors(t *testing.T) {
	_, err := New(config.Schedule{
		Timezone:  "Europe/Pari",
		Hours:     []config.Hours{{Days: "someday", Open: []string{"9-5"}}, {Days: "mon", Open: []string{"17:00-09:00"}}},
		Holidays:  []config.Holiday{{Date: "13-45"}, {From: "2026-12-31", To: "2026-12-01"}, {From: "12-24", To: "2027-01-02"}, {}},
		Overrides: []config.Override{{From: "2026-12-24T18:00", To: "2026-12-24T17:00"}, {From: "x", To: "y"}},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`timezone: unknown time zone "Europe/Pari"`, "hours[0].days", "hours[1].open[0]", "holidays[0]",
		"holidays[1]: holiday", "holidays[2]: from and to", "holidays[3]", "overrides[0]: override ends", "overrides[1]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// FuzzNew: a schedule that config did not validate never makes New, State or NextChange panic.
func FuzzNew(f *testing.F) {
	f.Add("Europe/Paris", "mon-fri", "09:00-17:00", "12-24", "01-02", "2026-12-24T18:00", "2026-12-24T20:00", int64(1790000000))
	f.Add("", "daily", "00:00-24:00", "02-29", "", "", "", int64(-5))
	f.Fuzz(func(t *testing.T, tz, days, rng, hfrom, hto, ofrom, oto string, at int64) {
		c, err := New(config.Schedule{
			Timezone:  tz,
			Hours:     []config.Hours{{Days: days, Open: []string{rng}}},
			Holidays:  []config.Holiday{{From: hfrom, To: hto}, {Date: hfrom}},
			Overrides: []config.Override{{From: ofrom, To: oto}},
		})
		if err != nil {
			return
		}
		at %= 1 << 40 // years 1935-2004 around the epoch and beyond, not the end of time
		tm := time.Unix(at, 0)
		s, _ := c.State(tm)
		if next, ok := c.NextChange(tm); ok {
			if !next.After(tm) {
				t.Fatalf("NextChange(%v) = %v, not after", tm, next)
			}
			if s2, _ := c.State(next); s2 == s {
				t.Fatalf("NextChange(%v) = %v, state still %v", tm, next, s)
			}
		}
	})
}
