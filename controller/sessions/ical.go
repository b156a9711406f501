package sessions

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Jakarta, Asia/Pontianak, Asia/Makassar, Asia/Jayapura on any machine

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Bounds on a calendar feed: its size, the nesting of its components, the
// instances one event and the whole feed may expand to. Rules that recur
// more often than hourly are not meetings.
const (
	MaxCalendarBytes  = 4 << 20
	maxNesting        = 8
	MaxEventInstances = 1000
	MaxFeedSessions   = 10000
)

// Expand reads an iCalendar feed and returns the sessions of one room that
// overlap [from, to): single events, recurring events (RRULE, RDATE, EXDATE),
// and overridden or cancelled instances (RECURRENCE-ID). Times without a zone
// are read in loc. All-day events and events over MaxDuration are not
// meetings and are left out. Session ids are stable across polls: the same
// event (the same instance of a recurring one) keeps its id, even when it
// moves. An event that cannot be read is skipped and named in skipped; only
// an unreadable feed is an error.
func Expand(r io.Reader, site, room, source string, loc *time.Location, from, to time.Time) (out []Session, skipped []error, err error) {
	// The iCalendar and RRULE parsers are third-party code reading whatever
	// a feed URL returns; one that panics (go-ical does on "0;0=", found by
	// FuzzExpand) must cost this feed, not the controller.
	defer func() {
		if p := recover(); p != nil {
			out, skipped, err = nil, nil, fmt.Errorf("read calendar: the iCalendar parser failed on this feed (%v): is it an iCalendar file?", p)
		}
	}()
	return expandFeed(r, site, room, source, loc, from, to)
}

func expandFeed(r io.Reader, site, room, source string, loc *time.Location, from, to time.Time) (out []Session, skipped []error, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCalendarBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read calendar: %w", err)
	}
	if len(data) > MaxCalendarBytes {
		return nil, nil, fmt.Errorf("read calendar: larger than %d bytes", MaxCalendarBytes)
	}
	if err := checkNesting(data); err != nil {
		return nil, nil, err
	}
	cal, err := ical.NewDecoder(strings.NewReader(string(data))).Decode()
	if err != nil {
		return nil, nil, fmt.Errorf("read calendar: %w", err)
	}
	type override struct {
		start, end time.Time
		title      string
		organizer  string
		cancelled  bool
	}
	masters := map[string]ical.Event{}
	overrides := map[string]map[int64]override{} // uid -> original start (unix) -> override
	var uids []string
	for _, ev := range cal.Events() {
		uid, _ := ev.Props.Text(ical.PropUID)
		if uid == "" {
			title, _ := describe(ev)
			skipped = append(skipped, fmt.Errorf("event %q has no UID", title))
			continue
		}
		if rid := ev.Props.Get(ical.PropRecurrenceID); rid != nil {
			orig, err := rid.DateTime(loc)
			if err != nil {
				skipped = append(skipped, fmt.Errorf("event %s: RECURRENCE-ID: %w", uid, err))
				continue
			}
			start, end, err := span(ev, loc)
			if err != nil {
				skipped = append(skipped, fmt.Errorf("event %s: %w", uid, err))
				continue
			}
			if overrides[uid] == nil {
				overrides[uid] = map[int64]override{}
			}
			title, organizer := describe(ev)
			overrides[uid][orig.Unix()] = override{start, end, title, organizer, cancelled(ev)}
			continue
		}
		if _, dup := masters[uid]; !dup {
			uids = append(uids, uid)
		}
		masters[uid] = ev
	}
	// instance names one occurrence: the original start of a recurring
	// event's instance, or nothing for a single event (so it keeps its id
	// when it moves).
	add := func(uid, instance string, start, end time.Time, title, organizer string) {
		if !end.After(start) || end.Sub(start) > MaxDuration || !end.After(from) || !start.Before(to) || len(out) >= MaxFeedSessions {
			return
		}
		h := sha256.Sum256([]byte(source + "\x00" + uid + "\x00" + instance))
		out = append(out, Session{
			ID: "ics-" + hex.EncodeToString(h[:10]), Site: site, Room: room,
			Title: title, Organizer: organizer, Start: start, End: end, Source: source,
		})
	}
	for _, uid := range uids {
		ev := masters[uid]
		if cancelled(ev) || allDay(ev) {
			continue
		}
		start, end, err := span(ev, loc)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("event %s: %w", uid, err))
			continue
		}
		title, organizer := describe(ev)
		dur := end.Sub(start)
		set, err := recurrence(ev, start, loc)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("event %s: %w", uid, err))
			continue
		}
		if set == nil {
			add(uid, "", start, end, title, organizer)
			continue
		}
		instance := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
		starts, more := instances(set, from.Add(-dur), to)
		if more {
			skipped = append(skipped, fmt.Errorf("event %s: more than %d instances in the window; only the first %d are kept", uid, MaxEventInstances, MaxEventInstances))
		}
		seen := map[int64]bool{}
		for _, s := range starts {
			seen[s.Unix()] = true
			o, overridden := overrides[uid][s.Unix()]
			switch {
			case overridden && o.cancelled:
			case overridden:
				add(uid, instance(s), o.start, o.end, o.title, o.organizer)
			default:
				add(uid, instance(s), s, s.Add(dur), title, organizer)
			}
		}
		// An instance moved into the window from outside it.
		for orig, o := range overrides[uid] {
			if !seen[orig] && !o.cancelled {
				add(uid, instance(time.Unix(orig, 0)), o.start, o.end, o.title, o.organizer)
			}
		}
	}
	slices.SortFunc(out, func(a, b Session) int { return a.Start.Compare(b.Start) })
	return out, skipped, nil
}

// maxSteps bounds the instances walked to reach the window (hourly for ten
// years is 87,600).
const maxSteps = 200_000

// instances walks a recurrence from its start and returns the instances in
// [from, to), at most MaxEventInstances; more says there were others.
func instances(set *rrule.Set, from, to time.Time) (out []time.Time, more bool) {
	next := set.Iterator()
	for range maxSteps {
		t, ok := next()
		if !ok || !t.Before(to) {
			return out, false
		}
		if t.Before(from) {
			continue
		}
		if len(out) == MaxEventInstances {
			return out, true
		}
		out = append(out, t)
	}
	return out, true
}

// checkNesting refuses a feed whose components nest deeper than a calendar's
// do (VCALENDAR > VEVENT > VALARM), before the recursive decoder sees it.
func checkNesting(data []byte) error {
	depth := 0
	for _, line := range strings.Split(string(data), "\n") {
		switch l := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(l, "BEGIN:"):
			if depth++; depth > maxNesting {
				return fmt.Errorf("read calendar: components nested deeper than %d", maxNesting)
			}
		case strings.HasPrefix(l, "END:"):
			depth--
		}
	}
	return nil
}

// recurrence builds the event's recurrence set; nil when it does not recur.
func recurrence(ev ical.Event, start time.Time, loc *time.Location) (*rrule.Set, error) {
	var opt *rrule.ROption
	if p := ev.Props.Get(ical.PropRecurrenceRule); p != nil {
		// A floating UNTIL is in the event's zone, not UTC (RFC 5545 3.3.10).
		o, err := rrule.StrToROptionInLocation(p.Value, start.Location())
		if err != nil {
			return nil, fmt.Errorf("RRULE: %w", err)
		}
		if o.Freq > rrule.HOURLY || len(o.Bysecond) > 0 || (o.Freq == rrule.HOURLY && len(o.Byminute) > 1) {
			return nil, fmt.Errorf("RRULE: recurring more often than hourly is not a meeting")
		}
		opt = o
	}
	rdates := ev.Props.Values(ical.PropRecurrenceDates)
	if opt == nil && len(rdates) == 0 {
		return nil, nil
	}
	set := &rrule.Set{}
	if opt != nil {
		opt.Dtstart = start
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, fmt.Errorf("RRULE: %w", err)
		}
		set.RRule(r)
	} else {
		set.RDate(start)
	}
	set.DTStart(start)
	for _, list := range []struct {
		name string
		add  func(time.Time)
	}{{ical.PropExceptionDates, set.ExDate}, {ical.PropRecurrenceDates, set.RDate}} {
		for _, p := range ev.Props.Values(list.name) {
			// One property may carry several comma-separated values.
			for _, v := range strings.Split(p.Value, ",") {
				one := p
				one.Value = strings.TrimSpace(v)
				t, err := one.DateTime(loc)
				if err != nil {
					return nil, fmt.Errorf("%s %q: %w", list.name, v, err)
				}
				list.add(t)
			}
		}
	}
	return set, nil
}

func span(ev ical.Event, loc *time.Location) (time.Time, time.Time, error) {
	start, err := ev.DateTimeStart(loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("DTSTART: %w", err)
	}
	end, err := ev.DateTimeEnd(loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("DTEND: %w", err)
	}
	return start, end, nil
}

func describe(ev ical.Event) (title, organizer string) {
	title, _ = ev.Props.Text(ical.PropSummary)
	if title = strings.TrimSpace(title); title == "" {
		title = "(no title)"
	}
	if len(title) > MaxTitle {
		title = title[:MaxTitle]
	}
	if p := ev.Props.Get(ical.PropOrganizer); p != nil {
		organizer = p.Params.Get(ical.ParamCommonName)
		if organizer == "" {
			organizer = strings.TrimPrefix(strings.ToLower(p.Value), "mailto:")
		}
	}
	if len(organizer) > MaxTitle {
		organizer = organizer[:MaxTitle]
	}
	return title, organizer
}

func cancelled(ev ical.Event) bool {
	st, _ := ev.Props.Text(ical.PropStatus)
	return strings.EqualFold(st, "CANCELLED")
}

func allDay(ev ical.Event) bool {
	p := ev.Props.Get(ical.PropDateTimeStart)
	return p != nil && (p.ValueType() == ical.ValueDate || len(p.Value) == len("20060102"))
}
