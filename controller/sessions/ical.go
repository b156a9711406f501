package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// Bounds on a calendar feed: its size, the instances one event and the whole
// feed may expand to in the window.
const (
	MaxCalendarBytes  = 4 << 20
	MaxEventInstances = 1000
	MaxFeedSessions   = 10000
)

// Why an event was left out of a feed: the reason label of
// siaprapat_calendar_events_skipped_total.
const (
	SkipNoUID            = "no_uid"             // no UID: it cannot keep an id across reads
	SkipBadTime          = "bad_time"           // DTSTART, DTEND, DURATION, RECURRENCE-ID, RDATE or EXDATE unreadable
	SkipUnknownZone      = "unknown_zone"       // a TZID no VTIMEZONE, IANA, Windows or display name resolves
	SkipBadRule          = "bad_rule"           // an RRULE that cannot be read or walks too far
	SkipTooFrequent      = "too_frequent"       // instances less than an hour apart: not meetings
	SkipTooManyInstances = "too_many_instances" // more than MaxEventInstances in the window (the first are kept)
	SkipFeedLimit        = "feed_limit"         // the feed already had MaxFeedSessions sessions in the window
)

// SkipReasons lists every reason an event is skipped for.
func SkipReasons() []string {
	return []string{SkipNoUID, SkipBadTime, SkipUnknownZone, SkipBadRule, SkipTooFrequent, SkipTooManyInstances, SkipFeedLimit}
}

// Skipped is an event left out of a feed, and why.
type Skipped struct {
	UID    string `json:"uid,omitempty"`
	Line   int    `json:"line"`   // the line of its BEGIN:VEVENT
	Reason string `json:"reason"` // one of SkipReasons
	Detail string `json:"detail"` // e.g. unknown time zone "X": ...
}

func (s Skipped) Error() string {
	who := "event " + s.UID
	if s.UID == "" {
		who = "an event without UID"
	}
	return fmt.Sprintf("%s (line %d): %s", who, s.Line, s.Detail)
}

// Expansion is what Expand read from a feed.
type Expansion struct {
	Sessions []Session
	Skipped  []Skipped
	// Repaired says what was tolerated in the feed, one line each (e.g.
	// "line 412: text after END:VCALENDAR is left out").
	Repaired []string
}

// Expand reads an iCalendar feed and returns the sessions of one room that
// overlap [from, to): single events, recurring events (RRULE, RDATE, EXDATE),
// and overridden or cancelled instances (RECURRENCE-ID). Zones are resolved
// as zones says. Times without a zone are read in the calendar's
// X-WR-TIMEZONE (Google, Apple) or else in loc; UTC times of a calendar with
// X-WR-TIMEZONE recur on its wall clock. All-day events and events over
// MaxDuration are not meetings and are left out. Recurrences are expanded
// only where they meet the window, so their cost does not grow with their
// age. Session ids are stable across polls: the same event (the same
// instance of a recurring one) keeps its id, even when it moves. An event
// that cannot be read is skipped and named in Skipped; only a feed that
// cannot be read at all is an error (a *ReadError names the line), or ctx
// ending.
func Expand(ctx context.Context, r io.Reader, site, room, source string, loc *time.Location, from, to time.Time) (x Expansion, err error) {
	// The RRULE library is third-party code reading whatever a feed URL
	// returns; a panic in it must cost this feed, not the controller.
	defer func() {
		if p := recover(); p != nil {
			x, err = Expansion{}, &ReadError{0, fmt.Sprintf("the recurrence reader failed on this feed (%v)", p)}
		}
	}()
	data, err := io.ReadAll(io.LimitReader(r, MaxCalendarBytes+1))
	if err != nil {
		return Expansion{}, fmt.Errorf("read calendar: %w", err)
	}
	if len(data) > MaxCalendarBytes {
		return Expansion{}, &ReadError{0, fmt.Sprintf("larger than %d bytes", MaxCalendarBytes)}
	}
	cal, lines, repaired, err := readCalendar(data)
	if err != nil {
		return Expansion{}, err
	}
	e := &expander{ctx: ctx, site: site, room: room, source: source, floating: loc, from: from, to: to,
		zones: newZones(cal, from, to), lines: lines, budget: maxRuleWalk}
	e.out.Repaired = repaired
	if p := cal.Props.Get("X-WR-TIMEZONE"); p != nil && strings.TrimSpace(p.Value) != "" {
		if z, err := e.zones.resolve(strings.TrimSpace(p.Value)); err == nil {
			e.floating, e.calendarZone = z, z
		} else {
			e.out.Repaired = append(e.out.Repaired, fmt.Sprintf("line %d: X-WR-TIMEZONE: %v; times without a zone are read in %s", lines[cal.Component], err, loc))
		}
	}
	if err := e.run(cal); err != nil {
		return Expansion{}, err
	}
	slices.SortFunc(e.out.Sessions, func(a, b Session) int { return a.Start.Compare(b.Start) })
	return e.out, nil
}

// expander expands one feed.
type expander struct {
	ctx                    context.Context
	site, room, source     string
	floating, calendarZone *time.Location
	from, to               time.Time
	zones                  *zones
	lines                  map[*ical.Component]int
	budget                 int // periods the feed's rules may still walk
	out                    Expansion
}

// eventError is why one event is skipped.
type eventError struct {
	reason string
	err    error
}

func (e *eventError) Error() string { return e.err.Error() }

func skip(reason string, format string, args ...any) *eventError {
	return &eventError{reason, fmt.Errorf(format, args...)}
}

type override struct {
	orig       time.Time
	start, end time.Time
	title      string
	organizer  string
	cancelled  bool
	ev         *ical.Component
}

func (e *expander) run(cal *ical.Calendar) error {
	masters := map[string]*ical.Component{}
	overrides := map[string]map[int64]override{} // uid -> original start (unix) -> override
	var uids []string                            // masters, and overrides without one, in feed order
	for _, ev := range cal.Children {
		if ev.Name != ical.CompEvent {
			continue
		}
		uid, _ := ev.Props.Text(ical.PropUID)
		uid = strings.TrimSpace(uid)
		if uid == "" {
			title, _ := describe(ev)
			e.skipped(ev, "", skip(SkipNoUID, "event %q has no UID", title))
			continue
		}
		if ev.Props.Get(ical.PropRecurrenceID) == nil {
			if _, dup := masters[uid]; !dup && overrides[uid] == nil {
				uids = append(uids, uid)
			}
			masters[uid] = ev
			continue
		}
		if allDay(ev) {
			continue
		}
		o, err := e.override(ev)
		if err != nil {
			e.skipped(ev, uid, err)
			continue
		}
		if overrides[uid] == nil {
			overrides[uid] = map[int64]override{}
			if masters[uid] == nil {
				uids = append(uids, uid)
			}
		}
		overrides[uid][o.orig.Unix()] = o
	}
	for _, uid := range uids {
		if err := e.ctx.Err(); err != nil {
			return fmt.Errorf("read calendar: stopped: %w", err)
		}
		ev := masters[uid]
		if len(e.out.Sessions) >= MaxFeedSessions {
			at := ev
			if at == nil {
				for _, o := range overrides[uid] {
					at = o.ev
					break
				}
			}
			e.skipped(at, uid, skip(SkipFeedLimit, "not read: the feed already has %d sessions in the window", MaxFeedSessions))
			continue
		}
		if ev == nil {
			// Instances of a series the feed does not hold (an invitation
			// to one instance): each is a meeting of its own.
			for _, o := range sortedOverrides(overrides[uid]) {
				if !o.cancelled {
					e.add(uid, instanceName(o.orig), o.start, o.end, o.title, o.organizer)
				}
			}
			continue
		}
		if cancelled(ev) || allDay(ev) {
			continue
		}
		if err := e.master(uid, ev, overrides[uid]); err != nil {
			e.skipped(ev, uid, err)
		}
	}
	return nil
}

func (e *expander) skipped(ev *ical.Component, uid string, err error) {
	var ee *eventError
	if !errors.As(err, &ee) {
		ee = &eventError{SkipBadTime, err}
	}
	e.out.Skipped = append(e.out.Skipped, Skipped{UID: clip(uid, 120), Line: e.lines[ev], Reason: ee.reason, Detail: ee.Error()})
}

func (e *expander) override(ev *ical.Component) (override, error) {
	orig, err := e.dateTime(ev.Props.Get(ical.PropRecurrenceID), ical.PropRecurrenceID)
	if err != nil {
		return override{}, err
	}
	start, end, err := e.span(ev)
	if err != nil {
		return override{}, err
	}
	title, organizer := describe(ev)
	return override{orig, start, end, title, organizer, cancelled(ev), ev}, nil
}

// master adds the sessions of an event and its overrides.
func (e *expander) master(uid string, ev *ical.Component, overrides map[int64]override) error {
	start, end, err := e.span(ev)
	if err != nil {
		return err
	}
	// A calendar with X-WR-TIMEZONE means its UTC times on its wall clock
	// (as x-wr-timezone, which python's recurring-ical-events applies).
	if e.calendarZone != nil && start.Location() == time.UTC {
		start, end = start.In(e.calendarZone), end.In(e.calendarZone)
	}
	title, organizer := describe(ev)
	dur := end.Sub(start)
	rule := ev.Props.Get(ical.PropRecurrenceRule)
	rdates := ev.Props.Values(ical.PropRecurrenceDates)
	if rule == nil && len(rdates) == 0 {
		e.add(uid, "", start, end, title, organizer)
		return nil
	}
	lo := e.from.Add(-dur)
	// RFC 5545: DTSTART is the first instance, whatever the rule says.
	starts := []time.Time{start}
	if rule != nil {
		o, err := parseRule(rule.Value, start)
		if err != nil {
			if errors.Is(err, errTooFrequent) {
				return skip(SkipTooFrequent, "%v", err)
			}
			return skip(SkipBadRule, "%v", err)
		}
		got, more, err := ruleStarts(o, start, lo, e.to, MaxEventInstances, &e.budget)
		switch {
		case errors.Is(err, errTooFrequent):
			return skip(SkipTooFrequent, "%v", err)
		case err != nil:
			return skip(SkipBadRule, "%v", err)
		case more:
			e.skipped(ev, uid, skip(SkipTooManyInstances, "more than %d instances in the window; only the first %d are kept", MaxEventInstances, MaxEventInstances))
		}
		starts = append(starts, got...)
	}
	for _, p := range rdates {
		ts, err := e.dateTimes(p, ical.PropRecurrenceDates)
		if err != nil {
			return err
		}
		starts = append(starts, ts...)
	}
	excluded := map[int64]bool{}
	exdays := map[string]bool{}
	for _, p := range ev.Props.Values(ical.PropExceptionDates) {
		ts, err := e.dateTimes(p, ical.PropExceptionDates)
		if err != nil {
			return err
		}
		for _, t := range ts {
			if isDateValue(&p) {
				exdays[t.Format("20060102")] = true
			}
			excluded[t.Unix()] = true
		}
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	seen := map[int64]bool{}
	n := 0
	for _, s := range starts {
		if s.Before(lo) || !s.Before(e.to) || seen[s.Unix()] || excluded[s.Unix()] || exdays[s.In(start.Location()).Format("20060102")] {
			continue
		}
		seen[s.Unix()] = true
		if n++; n > MaxEventInstances {
			break
		}
		o, overridden := overrides[s.Unix()]
		switch {
		case overridden && o.cancelled:
		case overridden:
			e.add(uid, instanceName(s), o.start, o.end, o.title, o.organizer)
		default:
			e.add(uid, instanceName(s), s, s.Add(dur), title, organizer)
		}
	}
	// An instance moved into the window from outside it.
	for _, o := range sortedOverrides(overrides) {
		if !seen[o.orig.Unix()] && !o.cancelled {
			e.add(uid, instanceName(o.orig), o.start, o.end, o.title, o.organizer)
		}
	}
	return nil
}

func sortedOverrides(m map[int64]override) []override {
	out := make([]override, 0, len(m))
	for _, o := range m {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b override) int { return a.orig.Compare(b.orig) })
	return out
}

// instanceName names one occurrence: the original start of a recurring
// event's instance ("" for a single event, so it keeps its id when it moves).
func instanceName(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (e *expander) add(uid, instance string, start, end time.Time, title, organizer string) {
	if !end.After(start) || end.Sub(start) > MaxDuration || !end.After(e.from) || !start.Before(e.to) || len(e.out.Sessions) >= MaxFeedSessions {
		return
	}
	h := sha256.Sum256([]byte(e.source + "\x00" + uid + "\x00" + instance))
	e.out.Sessions = append(e.out.Sessions, Session{
		ID: "ics-" + hex.EncodeToString(h[:10]), Site: e.site, Room: e.room,
		Title: title, Organizer: organizer, Start: start, End: end, Source: e.source,
	})
}

// span returns an event's start and end: DTEND, or DTSTART plus DURATION,
// or DTSTART (no length: not a meeting).
func (e *expander) span(ev *ical.Component) (start, end time.Time, err error) {
	p := ev.Props.Get(ical.PropDateTimeStart)
	if p == nil {
		return start, end, skip(SkipBadTime, "no DTSTART")
	}
	if start, err = e.dateTime(p, ical.PropDateTimeStart); err != nil {
		return start, end, err
	}
	if p := ev.Props.Get(ical.PropDateTimeEnd); p != nil {
		end, err = e.dateTime(p, ical.PropDateTimeEnd)
		return start, end, err
	}
	if p := ev.Props.Get(ical.PropDuration); p != nil {
		d, err := p.Duration()
		if err != nil {
			return start, end, skip(SkipBadTime, "DURATION %q: %v", clip(p.Value, 40), err)
		}
		return start, start.Add(d), nil
	}
	return start, start, nil
}

// dateTimes reads every value of an RDATE or EXDATE property (comma
// separated; a PERIOD's start).
func (e *expander) dateTimes(p ical.Prop, name string) ([]time.Time, error) {
	var out []time.Time
	for _, v := range strings.Split(p.Value, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		one := p
		one.Value, _, _ = strings.Cut(v, "/")
		t, err := e.dateTime(&one, name)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// dateTime reads a DATE-TIME (or DATE) value: UTC with a Z, in its TZID's
// zone, or floating.
func (e *expander) dateTime(p *ical.Prop, name string) (time.Time, error) {
	v := strings.ToUpper(strings.TrimSpace(p.Value))
	loc := e.floating
	if tzid := strings.TrimSpace(p.Params.Get(ical.PropTimezoneID)); tzid != "" && !strings.HasSuffix(v, "Z") && !isDateValue(p) {
		z, err := e.zones.resolve(tzid)
		if err != nil {
			return time.Time{}, skip(SkipUnknownZone, "%s: %v", name, err)
		}
		loc = z
	}
	var t time.Time
	var err error
	switch {
	case isDateValue(p):
		t, err = time.ParseInLocation("20060102", v, loc)
	case strings.HasSuffix(v, "Z"):
		t, err = time.Parse("20060102T150405Z", v)
	default:
		t, err = time.ParseInLocation("20060102T150405", v, loc)
	}
	if err != nil {
		return time.Time{}, skip(SkipBadTime, "%s %q: want a date-time such as 20261201T090000", name, clip(p.Value, 40))
	}
	return t, nil
}

func isDateValue(p *ical.Prop) bool {
	return p.ValueType() == ical.ValueDate || len(strings.TrimSpace(p.Value)) == len("20060102")
}

func describe(ev *ical.Component) (title, organizer string) {
	title, _ = ev.Props.Text(ical.PropSummary)
	if title = strings.TrimSpace(strings.ToValidUTF8(title, "\uFFFD")); title == "" {
		title = "(no title)"
	}
	if len(title) > MaxTitle {
		title = strings.ToValidUTF8(title[:MaxTitle], "")
	}
	if p := ev.Props.Get(ical.PropOrganizer); p != nil {
		organizer = p.Params.Get(ical.ParamCommonName)
		if organizer == "" {
			organizer = strings.TrimPrefix(strings.ToLower(p.Value), "mailto:")
		}
	}
	organizer = strings.ToValidUTF8(organizer, "\uFFFD")
	if len(organizer) > MaxTitle {
		organizer = strings.ToValidUTF8(organizer[:MaxTitle], "")
	}
	return title, organizer
}

func cancelled(ev *ical.Component) bool {
	st, _ := ev.Props.Text(ical.PropStatus)
	return strings.EqualFold(strings.TrimSpace(st), "CANCELLED")
}

func allDay(ev *ical.Component) bool {
	p := ev.Props.Get(ical.PropDateTimeStart)
	return p != nil && isDateValue(p)
}
