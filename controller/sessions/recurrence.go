package sessions

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// errTooFrequent is a rule whose instances come less than an hour apart: not
// meetings.
var errTooFrequent = errors.New("RRULE: recurring more often than hourly is not a meeting")

// maxRuleWalk bounds the periods (years, months, weeks, days or hours) the
// rules of one feed may walk. A rule without COUNT starts near the window and
// walks a few; one with COUNT cannot (it would count other instances) and
// walks from its DTSTART: daily from 2000 is about 9,800 periods, hourly
// from 2000 about 235,000, too many.
const maxRuleWalk = 200_000

// periods is about how many periods of a rule lie between a and b.
func periods(freq rrule.Frequency, interval int, a, b time.Time) int {
	if !b.After(a) {
		return 1
	}
	unit := time.Hour
	switch freq {
	case rrule.YEARLY:
		unit = 365 * 24 * time.Hour
	case rrule.MONTHLY:
		unit = 28 * 24 * time.Hour
	case rrule.WEEKLY:
		unit = 7 * 24 * time.Hour
	case rrule.DAILY:
		unit = 24 * time.Hour
	}
	return int(b.Sub(a)/(unit*time.Duration(interval))) + 2
}

// parseRule reads an RRULE value for a recurrence starting at dtstart: its
// UNTIL, when floating or a date, is in dtstart's zone (RFC 5545, 3.3.10).
// It is read as python's dateutil reads it: names in any case, empty parts
// and X- parts ignored.
func parseRule(value string, dtstart time.Time) (rrule.ROption, error) {
	var parts []string
	for _, p := range strings.Split(strings.ToUpper(strings.TrimSpace(value)), ";") {
		if p = strings.TrimSpace(p); p != "" && !strings.HasPrefix(p, "X-") {
			parts = append(parts, p)
		}
	}
	o, err := rrule.StrToROptionInLocation(strings.Join(parts, ";"), dtstart.Location())
	if err != nil {
		return rrule.ROption{}, fmt.Errorf("RRULE %q: %w", clip(value, 80), err)
	}
	if o.Freq > rrule.HOURLY {
		return rrule.ROption{}, errTooFrequent
	}
	return *o, nil
}

// ruleStarts returns the starts a rule gives in [from, to), at most limit
// (more says there were others). A rule without COUNT starts from the first
// of its periods (year, month, week, day or hour, times INTERVAL) that ends
// before the window instead of from dtstart, so an hourly rule from 2000
// costs what one from yesterday costs: each period's instances depend only
// on the period and the rule's BY parts, which are pinned from dtstart
// first. A rule with COUNT is walked from dtstart, spending budget (shared
// by a feed) on each instance before the window.
func ruleStarts(o rrule.ROption, dtstart, from, to time.Time, limit int, budget *int) (out []time.Time, more bool, err error) {
	o.Dtstart = dtstart
	// Nothing past the window is wanted, and a rule that matches nothing
	// (BYMONTH=2;BYMONTHDAY=31) would otherwise walk 290 years of periods.
	if o.Until.IsZero() || o.Until.After(to) {
		o.Until = to
	}
	r, err := rrule.NewRRule(o)
	if err != nil {
		return nil, false, fmt.Errorf("RRULE: %w", err)
	}
	start := dtstart
	if o.Count == 0 {
		if near, ok := nearStart(r, dtstart, from); ok {
			start = near
			pinned := r.Options
			if len(pinned.Byhour) == 0 && o.Freq < rrule.HOURLY {
				pinned.Byhour = []int{dtstart.Hour()}
			}
			if len(pinned.Byminute) == 0 {
				pinned.Byminute = []int{dtstart.Minute()}
			}
			if len(pinned.Bysecond) == 0 {
				pinned.Bysecond = []int{dtstart.Second()}
			}
			pinned.Dtstart = start
			if r, err = rrule.NewRRule(pinned); err != nil {
				return nil, false, fmt.Errorf("RRULE: %w", err)
			}
		}
	}
	// The rule walks every period from start to the window's end, whether
	// or not it matches in it: that is its cost.
	if *budget -= periods(o.Freq, max(o.Interval, 1), start, to); *budget < 0 {
		return nil, false, fmt.Errorf("RRULE: %s from %s walks too many periods to reach the window (at most %d a feed)", o.Freq, dtstart.Format("2006-01-02"), maxRuleWalk)
	}
	next := r.Iterator()
	var prev time.Time
	for {
		t, ok := next()
		if !ok || !t.Before(to) {
			return out, false, nil
		}
		// A wall-clock time skipped by daylight saving time is read as
		// the one after it: the same instant twice.
		if t.Equal(prev) {
			continue
		}
		if !prev.IsZero() && t.Sub(prev) < time.Hour {
			return nil, false, errTooFrequent
		}
		prev = t
		if t.Before(from) {
			continue
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, t)
	}
}

// nearStart returns the start of the rule's period (counted in whole
// INTERVALs from dtstart's) that begins at least two periods before from,
// when that is later than dtstart. Periods are counted on the wall clock of
// dtstart's zone, as the rule's own steps are.
func nearStart(r *rrule.RRule, dtstart, from time.Time) (time.Time, bool) {
	loc := dtstart.Location()
	f := from.In(loc)
	interval := max(r.Options.Interval, 1)
	y, m, d := dtstart.Date()
	h := dtstart.Hour()
	day := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400 }
	civil := func(days int64) (int, time.Month, int) {
		return time.Unix(days*86400, 0).UTC().Date()
	}
	fy, fm, fd := f.Date()
	var start time.Time
	switch r.Options.Freq {
	case rrule.YEARLY:
		k := (fy - 2 - y) / interval * interval
		if k <= 0 {
			return time.Time{}, false
		}
		start = time.Date(y+k, 1, 1, 0, 0, 0, 0, loc)
	case rrule.MONTHLY:
		k := ((fy*12 + int(fm) - 1 - 2) - (y*12 + int(m) - 1)) / interval * interval
		if k <= 0 {
			return time.Time{}, false
		}
		start = time.Date(y, m+time.Month(k), 1, 0, 0, 0, 0, loc)
	case rrule.WEEKLY:
		// The week of dtstart begins on WKST (Monday by default).
		wkst := (r.Options.Wkst.Day() + 1) % 7 // rrule's Monday=0 to time's Sunday=0
		back := (int(dtstart.Weekday()) - wkst + 7) % 7
		week0 := day(y, m, d) - int64(back)
		k := (day(fy, fm, fd) - 14 - week0) / int64(7*interval) * int64(interval)
		if k <= 0 {
			return time.Time{}, false
		}
		cy, cm, cd := civil(week0 + 7*k)
		start = time.Date(cy, cm, cd, 0, 0, 0, 0, loc)
	case rrule.DAILY:
		k := (day(fy, fm, fd) - 2 - day(y, m, d)) / int64(interval) * int64(interval)
		if k <= 0 {
			return time.Time{}, false
		}
		cy, cm, cd := civil(day(y, m, d) + k)
		start = time.Date(cy, cm, cd, 0, 0, 0, 0, loc)
	case rrule.HOURLY:
		hours := func(days int64, h int) int64 { return days*24 + int64(h) }
		k := (hours(day(fy, fm, fd), f.Hour()) - 2 - hours(day(y, m, d), h)) / int64(interval) * int64(interval)
		if k <= 0 {
			return time.Time{}, false
		}
		at := hours(day(y, m, d), h) + k
		cy, cm, cd := civil(at / 24)
		start = time.Date(cy, cm, cd, int(at%24), 0, 0, 0, loc)
	default:
		return time.Time{}, false
	}
	return start, start.After(dtstart)
}
