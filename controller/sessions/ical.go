package sessions

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Jakarta, Asia/Pontianak, Asia/Makassar, Asia/Jayapura on any machine

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// MaxCalendarBytes bounds a calendar feed.
const MaxCalendarBytes = 8 << 20

// Expand reads an iCalendar feed and returns the sessions of one room that
// overlap [from, to): single events, recurring events (RRULE, RDATE, EXDATE),
// and overridden or cancelled instances (RECURRENCE-ID). Times without a zone
// are read in loc. All-day events and events over MaxDuration are not
// meetings and are left out. Session ids are stable across polls: the same
// instance of the same event keeps its id.
func Expand(r io.Reader, site, room, source string, loc *time.Location, from, to time.Time) ([]Session, error) {
	cal, err := ical.NewDecoder(io.LimitReader(r, MaxCalendarBytes)).Decode()
	if err != nil {
		return nil, fmt.Errorf("read calendar: %w", err)
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
			return nil, fmt.Errorf("read calendar: an event has no UID")
		}
		if rid := ev.Props.Get(ical.PropRecurrenceID); rid != nil {
			orig, err := rid.DateTime(loc)
			if err != nil {
				return nil, fmt.Errorf("event %s: RECURRENCE-ID: %w", uid, err)
			}
			start, end, err := span(ev, loc)
			if err != nil {
				return nil, fmt.Errorf("event %s: %w", uid, err)
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
	var out []Session
	add := func(uid string, orig, start, end time.Time, title, organizer string) {
		if !end.After(start) || end.Sub(start) > MaxDuration || !end.After(from) || !start.Before(to) {
			return
		}
		h := sha256.Sum256([]byte(source + "\x00" + uid + "\x00" + orig.UTC().Format(time.RFC3339)))
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
			return nil, fmt.Errorf("event %s: %w", uid, err)
		}
		title, organizer := describe(ev)
		dur := end.Sub(start)
		starts := []time.Time{start}
		if set, err := recurrence(ev, start, loc); err != nil {
			return nil, fmt.Errorf("event %s: %w", uid, err)
		} else if set != nil {
			starts = set.Between(from.Add(-dur), to, true)
		}
		for _, s := range starts {
			o, overridden := overrides[uid][s.Unix()]
			switch {
			case overridden && o.cancelled:
			case overridden:
				add(uid, s, o.start, o.end, o.title, o.organizer)
			default:
				add(uid, s, s, s.Add(dur), title, organizer)
			}
		}
	}
	return out, nil
}

// recurrence builds the event's recurrence set; nil when it does not recur.
func recurrence(ev ical.Event, start time.Time, loc *time.Location) (*rrule.Set, error) {
	opt, err := ev.Props.RecurrenceRule()
	if err != nil {
		return nil, err
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
