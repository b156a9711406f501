package sessions

import (
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"
)

// TestRuleStarts_NearTheWindowSameAsFromDTSTART checks the shortcut against
// the plain walk from DTSTART: rules of every frequency, with INTERVAL,
// WKST, BY parts and BYSETPOS, started years before a window in a zone with
// daylight saving time, give the same instances.
func TestRuleStarts_NearTheWindowSameAsFromDTSTART(t *testing.T) {
	sydney, _ := time.LoadLocation("Australia/Sydney")
	dtstart := time.Date(2019, 1, 31, 9, 30, 0, 0, sydney)
	from := time.Date(2026, 9, 20, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 35) // past the change to daylight time, under MaxEventInstances hourly
	for _, rule := range []string{
		"FREQ=YEARLY", "FREQ=YEARLY;INTERVAL=3", "FREQ=YEARLY;BYMONTH=10;BYDAY=1SU", "FREQ=YEARLY;BYWEEKNO=40;BYDAY=MO",
		"FREQ=MONTHLY", "FREQ=MONTHLY;INTERVAL=5", "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
		"FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;WKST=SU", "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,SA",
		"FREQ=DAILY", "FREQ=DAILY;INTERVAL=3", "FREQ=DAILY;BYDAY=MO,WE,FR;BYHOUR=8,14", "FREQ=DAILY;INTERVAL=10;UNTIL=20261101T000000Z",
		"FREQ=HOURLY", "FREQ=HOURLY;INTERVAL=5", "FREQ=HOURLY;INTERVAL=7;BYDAY=TU",
	} {
		t.Run(rule, func(t *testing.T) {
			o, err := parseRule(rule, dtstart)
			if err != nil {
				t.Fatal(err)
			}
			budget := maxRuleWalk
			got, _, err := ruleStarts(o, dtstart, from, to, MaxEventInstances, &budget)
			if err != nil {
				t.Fatal(err)
			}
			o.Dtstart = dtstart
			r, _ := rrule.NewRRule(o)
			var want []time.Time
			for _, w := range r.Between(from, to, true) {
				if len(want) == 0 || !w.Equal(want[len(want)-1]) {
					want = append(want, w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d instances, want %d", len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if !got[i].Equal(want[i]) {
					t.Fatalf("instance %d at %v, want %v", i, got[i], want[i])
				}
			}
			if used := maxRuleWalk - budget; used > 2000 {
				t.Errorf("walked %d periods to reach the window", used)
			}
		})
	}
}

// TestExpand_HourlyEventFrom2000CostsWhatOneFromYesterdayCosts: the same
// hourly meeting started in 2000 or yesterday gives the same sessions, and
// walks the same few periods to get them.
func TestExpand_HourlyEventFrom2000CostsWhatOneFromYesterdayCosts(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	walked := map[string]int{}
	var starts []string
	for _, dtstart := range []string{"20000101T093000Z", "20261130T093000Z"} {
		feed := ics(event("UID:h", "SUMMARY:Piket", "DTSTART:"+dtstart, "DURATION:PT30M", "RRULE:FREQ=HOURLY"))
		budget := maxRuleWalk
		o, _ := parseRule("FREQ=HOURLY", mustTime(t, dtstart))
		got, _, err := ruleStarts(o, mustTime(t, dtstart), now.Add(-24*time.Hour), now.Add(14*24*time.Hour), MaxEventInstances, &budget)
		if err != nil {
			t.Fatal(err)
		}
		walked[dtstart] = maxRuleWalk - budget
		sessions, skipped := expand(t, feed, time.UTC, now.Add(-24*time.Hour), now.Add(14*24*time.Hour))
		if len(skipped) > 0 || len(sessions) != 15*24 || len(got) != 15*24 {
			t.Fatalf("DTSTART %s: %d sessions, %d instances, skipped %v", dtstart, len(sessions), len(got), skipped)
		}
		starts = append(starts, sessions[0].Start.Format(time.RFC3339)+" "+sessions[len(sessions)-1].Start.Format(time.RFC3339))
	}
	if starts[0] != starts[1] {
		t.Errorf("first and last sessions differ: %v", starts)
	}
	for dtstart, n := range walked {
		if n > 400 {
			t.Errorf("DTSTART %s walked %d periods, want about the window's 360", dtstart, n)
		}
	}
}

func TestExpand_CountRulesWalkWithinABudget(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	feed := ics(
		// Daily from 2000, 10,000 times: walked from DTSTART (about 9,800 days), still in range.
		event("UID:daily", "SUMMARY:Apel", "DTSTART:20000101T010000Z", "DURATION:PT30M", "RRULE:FREQ=DAILY;COUNT=10000"),
		// Hourly from 2000 with COUNT: 235,000 hours to walk, over the feed's budget.
		event("UID:hourly", "SUMMARY:Piket", "DTSTART:20000101T010000Z", "DURATION:PT30M", "RRULE:FREQ=HOURLY;COUNT=300000"),
	)
	got, skipped := expand(t, feed, time.UTC, now.Add(-24*time.Hour), now.Add(14*24*time.Hour))
	if len(got) != 15 || got[0].Title != "Apel" {
		t.Errorf("%d sessions: %v", len(got), got)
	}
	if len(skipped) != 1 || skipped[0].Reason != SkipBadRule || !strings.Contains(skipped[0].Detail, "walks too many periods") {
		t.Errorf("skipped %v", skipped)
	}
}

func TestExpand_RuleThatNeverMatchesEnds(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	feed := ics(event("UID:never", "SUMMARY:x", "DTSTART:20000101T010000Z", "DURATION:PT30M", "RRULE:FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31;COUNT=5"),
		event("UID:never2", "SUMMARY:x", "DTSTART:20000101T010000Z", "DURATION:PT30M", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"))
	start := time.Now()
	got, _ := expand(t, feed, time.UTC, now.Add(-24*time.Hour), now.Add(14*24*time.Hour))
	if len(got) != 0 || time.Since(start) > 5*time.Second {
		t.Errorf("%d sessions in %v", len(got), time.Since(start))
	}
}

func TestExpand_XWRTimezoneIsTheCalendarsZone(t *testing.T) {
	// Google: a calendar in Europe/London, a weekly meeting written in UTC
	// before the clocks went back, and a floating one: both stay at their
	// wall-clock time in London, as x-wr-timezone reads them.
	feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-TIMEZONE:Europe/London\r\n" +
		event("UID:utc", "SUMMARY:UTC", "DTSTART:20261019T090000Z", "DTEND:20261019T100000Z", "RRULE:FREQ=WEEKLY;COUNT=2") +
		event("UID:floating", "SUMMARY:floating", "DTSTART:20261020T100000", "DTEND:20261020T110000", "RRULE:FREQ=WEEKLY;COUNT=2") +
		"END:VCALENDAR\r\n"
	jakarta, _ := time.LoadLocation("Asia/Jakarta")
	from := time.Date(2026, 10, 18, 0, 0, 0, 0, time.UTC)
	got, _ := expand(t, feed, jakarta, from, from.AddDate(0, 0, 14))
	var starts []string
	for _, s := range got {
		starts = append(starts, s.Title+" "+s.Start.UTC().Format("01-02T15:04"))
	}
	want := "UTC 10-19T09:00,floating 10-20T09:00,UTC 10-26T10:00,floating 10-27T10:00"
	if strings.Join(starts, ",") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(starts, ","), want)
	}
}

func mustTime(t *testing.T, v string) time.Time {
	t.Helper()
	at, err := time.Parse("20060102T150405Z", v)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
