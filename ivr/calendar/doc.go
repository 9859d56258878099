// Package calendar decides whether a number (or a text entry point) is open at an instant,
// from its config.Schedule: weekly ranges, holidays and temporary overrides in an IANA time
// zone.
//
// Every rule is written by the operator in local wall-clock time, and is evaluated that way:
// an instant is first turned into the wall-clock reading of the number's zone, then compared
// with the rules. That gives the DST behaviour operators expect:
//
//  1. A rule never depends on the machine's zone or on time.Now: callers pass the instant.
//  2. Overrides win over holidays, and holidays over weekly hours. Among overrides that cover
//     the same instant, the first one listed wins; likewise for holidays.
//  3. A day with no weekly range is closed; a schedule with no weekly range at all is open
//     (apart from its holidays and overrides).
//  4. On a spring-forward day, wall-clock times in the skipped hour never happen: a range
//     "02:30-04:00" opens at the transition (the clock reads 03:00), a range lying wholly
//     inside the skipped hour does not open that day.
//  5. On a fall-back day, the repeated hour is evaluated twice: a range "02:00-02:30" opens
//     on both passes (the wall clock reads 02:xx both times).
//  6. Holidays cover whole local days, 00:00 to 24:00 of the zone's calendar date. Yearly
//     ranges may wrap the year end ("12-24" to "01-02"); "02-29" only matches leap years.
//  7. NextChange(t) is the first instant after t at which State differs from State(t).
package calendar
