package sessions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func TestExpand_RecurringEventsAcrossIndonesianZones(t *testing.T) {
	f, err := os.Open("testdata/feed.ics")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	jakarta, _ := time.LoadLocation("Asia/Jakarta")
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	x, err := Expand(context.Background(), f, "kalbar", "aula", "calendar:kalbar/aula", jakarta, from, from.AddDate(0, 3, 0))
	if err != nil || len(x.Skipped) > 0 || len(x.Repaired) > 0 {
		t.Fatal(err, x.Skipped, x.Repaired)
	}
	got := x.Sessions
	var lines []string
	for _, s := range got {
		lines = append(lines, fmt.Sprintf("%s %s %q %s", s.Start.UTC().Format(time.RFC3339), s.End.Sub(s.Start), s.Title, s.Organizer))
	}
	want := []string{
		// Weekly on Monday 09:00 WIB (UTC+7): 30 Nov, 7 Dec moved to 13:00, 14 Dec
		// excluded (EXDATE), 21 Dec cancelled, 28 Dec. 10:00 WITA (UTC+8), 90
		// minutes. Daily at 08:00 WIT (UTC+9), twice. One in UTC. The all-day
		// holiday is not a meeting.
		`2026-11-30T02:00:00Z 1h0m0s "Rapat mingguan" Sekretariat Daerah`,
		`2026-12-01T02:00:00Z 1h30m0s "Koordinasi Sulsel" `,
		`2026-12-01T23:00:00Z 30m0s "Apel pagi" `,
		`2026-12-02T23:00:00Z 30m0s "Apel pagi" `,
		`2026-12-03T02:00:00Z 2h0m0s "Rapat nasional" `,
		`2026-12-07T06:00:00Z 1h30m0s "Rapat mingguan (dipindah)" `,
		`2026-12-28T02:00:00Z 1h0m0s "Rapat mingguan" Sekretariat Daerah`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range got {
		if err := s.Validate(); err != nil || !strings.HasPrefix(s.ID, "ics-") {
			t.Errorf("session %+v: %v", s, err)
		}
	}

	// The same feed read again gives the same ids, so alerts keep their keys.
	f.Seek(0, 0)
	again, _ := Expand(context.Background(), f, "kalbar", "aula", "calendar:kalbar/aula", jakarta, from, from.AddDate(0, 3, 0))
	for i := range got {
		if again.Sessions[i].ID != got[i].ID {
			t.Errorf("id of %s changed between reads", got[i].Start)
		}
	}
}

func ics(events ...string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + strings.Join(events, "") + "END:VCALENDAR\r\n"
}

func event(lines ...string) string {
	return "BEGIN:VEVENT\r\n" + strings.Join(lines, "\r\n") + "\r\nEND:VEVENT\r\n"
}

func expand(t *testing.T, feed string, loc *time.Location, from, to time.Time) ([]Session, []Skipped) {
	t.Helper()
	x, err := Expand(context.Background(), strings.NewReader(feed), "s", "r", "calendar:s/r", loc, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return x.Sessions, x.Skipped
}

func TestExpand_BadEventsAreSkippedWithAReason(t *testing.T) {
	feed := ics(
		event("SUMMARY:no uid", "DTSTART:20261201T010000Z", "DTEND:20261201T020000Z"),
		event("UID:mars", "SUMMARY:x", "DTSTART;TZID=Mars/Olympus:20261201T010000", "DTEND;TZID=Mars/Olympus:20261201T020000"),
		event("UID:fast", "SUMMARY:x", "DTSTART:20261201T010000Z", "DTEND:20261201T010001Z", "RRULE:FREQ=SECONDLY"),
		event("UID:minutes", "SUMMARY:x", "DTSTART:20261201T010000Z", "DTEND:20261201T010030Z", "RRULE:FREQ=HOURLY;BYMINUTE=0,15,30,45"),
		event("UID:daily-minutes", "SUMMARY:x", "DTSTART:20261201T010000Z", "DTEND:20261201T010500Z", "RRULE:FREQ=DAILY;BYHOUR=9,10;BYMINUTE=0,10,20"),
		event("UID:badrule", "SUMMARY:x", "DTSTART:20261201T010000Z", "DTEND:20261201T020000Z", "RRULE:FREQ=FORTNIGHTLY"),
		event("UID:baddate", "SUMMARY:x", "DTSTART:2026-12-01T01:00:00Z", "DTEND:20261201T020000Z"),
		event("UID:good", "SUMMARY:good", "DTSTART:20261201T010000Z", "DTEND:20261201T020000Z"),
	)
	got, skipped := expand(t, feed, time.UTC, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(got) != 1 || got[0].Title != "good" {
		t.Errorf("kept %+v", got)
	}
	var msgs []string
	for _, e := range skipped {
		msgs = append(msgs, e.Reason+" "+e.Error())
	}
	want := []string{
		`no_uid an event without UID (line 3): event "no uid" has no UID`,
		`unknown_zone event mars (line 8): DTSTART: unknown time zone "Mars/Olympus": no VTIMEZONE of that TZID in the feed, and no IANA, Windows (CLDR 48) or display name`,
		"too_frequent event fast (line 14): RRULE: recurring more often than hourly is not a meeting",
		"too_frequent event minutes (line 21): RRULE: recurring more often than hourly is not a meeting",
		"too_frequent event daily-minutes (line 28): RRULE: recurring more often than hourly is not a meeting",
		`bad_rule event badrule (line 35): RRULE "FREQ=FORTNIGHTLY": undefined frequency: FORTNIGHTLY`,
		`bad_time event baddate (line 42): DTSTART "2026-12-01T01:00:00Z": want a date-time such as 20261201T090000`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

func TestExpand_FloatingUntilIsInTheEventsZone(t *testing.T) {
	jayapura, _ := time.LoadLocation("Asia/Jayapura")
	// Daily at 08:00 WIT, until 07:00 WIT on 3 Dec: the 3 Dec instance is out.
	feed := ics(event("UID:apel", "SUMMARY:Apel", "DTSTART:20261201T080000", "DTEND:20261201T083000", "RRULE:FREQ=DAILY;UNTIL=20261203T070000"))
	got, _ := expand(t, feed, jayapura, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if len(got) != 2 {
		t.Errorf("%d instances, want 2 (1 and 2 Dec): %+v", len(got), got)
	}
}

func TestExpand_InstanceMovedIntoTheWindowAndMovedSingleEventKeepIDs(t *testing.T) {
	from := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 7)
	// Weekly on Mondays; last Monday's (30 Nov) instance was postponed to 9 Dec.
	feed := ics(
		event("UID:w", "SUMMARY:Mingguan", "DTSTART:20261130T020000Z", "DTEND:20261130T030000Z", "RRULE:FREQ=WEEKLY;COUNT=2"),
		event("UID:w", "RECURRENCE-ID:20261130T020000Z", "SUMMARY:Mingguan (ditunda)", "DTSTART:20261209T020000Z", "DTEND:20261209T030000Z"),
		event("UID:one", "SUMMARY:Sekali", "DTSTART:20261210T020000Z", "DTEND:20261210T030000Z"),
	)
	got, _ := expand(t, feed, time.UTC, from, to)
	var titles []string
	for _, s := range got {
		titles = append(titles, s.Title)
	}
	if strings.Join(titles, ",") != "Mingguan (ditunda),Sekali" {
		t.Fatalf("got %v, want the postponed instance and the single event (7 Dec is outside the window)", titles)
	}
	moved := strings.Replace(feed, "DTSTART:20261210T020000Z\r\nDTEND:20261210T030000Z", "DTSTART:20261211T020000Z\r\nDTEND:20261211T030000Z", 1)
	again, _ := expand(t, moved, time.UTC, from, to)
	if again[1].ID != got[1].ID || again[1].Start.Day() != 11 {
		t.Errorf("the moved single event changed id: %s -> %s (%v)", got[1].ID, again[1].ID, again[1].Start)
	}
}

func TestExpand_BadCalendarSaysLineAndWhy(t *testing.T) {
	deep := strings.Repeat("BEGIN:VCALENDAR\r\n", 20)
	truncated := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261201T010000Z\r\n"
	for _, c := range []struct{ feed, want string }{
		{"not a calendar", `read calendar: line 1: want BEGIN:VCALENDAR, got "not a calendar": is this an iCalendar file?`},
		{"<html>\n<body>502 Bad Gateway</body>", `read calendar: line 1: want BEGIN:VCALENDAR, got "<html>": is this an iCalendar file?`},
		{"", "read calendar: no BEGIN:VCALENDAR: is this an iCalendar file?"},
		{deep, "read calendar: line 9: components nested deeper than 8"},
		{truncated, "read calendar: line 5: the feed ends inside the VEVENT opened at line 3: truncated?"},
		{strings.Repeat("x", MaxCalendarBytes+1), "read calendar: larger than 4194304 bytes"},
	} {
		_, err := Expand(context.Background(), strings.NewReader(c.feed), "s", "r", "x", time.UTC, time.Time{}, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		var re *ReadError
		if err == nil || err.Error() != c.want || !errors.As(err, &re) {
			t.Errorf("%.30q:\n got: %v\nwant: %s", c.feed, err, c.want)
		}
	}
}

func expandAll(t *testing.T, feed string) Expansion {
	t.Helper()
	x, err := Expand(context.Background(), strings.NewReader(feed), "s", "r", "calendar:s/r", time.UTC,
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return x
}
