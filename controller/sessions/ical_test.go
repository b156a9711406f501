package sessions

import (
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
	got, err := Expand(f, "kalbar", "aula", "calendar:kalbar/aula", jakarta, from, from.AddDate(0, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, fmt.Sprintf("%s %s %q %s", s.Start.UTC().Format(time.RFC3339), s.End.Sub(s.Start), s.Title, s.Organizer))
	}
	want := []string{
		// Weekly on Monday 09:00 WIB (UTC+7): 30 Nov, 7 Dec moved to 13:00, 14 Dec
		// excluded (EXDATE), 21 Dec cancelled, 28 Dec.
		`2026-11-30T02:00:00Z 1h0m0s "Rapat mingguan" Sekretariat Daerah`,
		`2026-12-07T06:00:00Z 1h30m0s "Rapat mingguan (dipindah)" `,
		`2026-12-28T02:00:00Z 1h0m0s "Rapat mingguan" Sekretariat Daerah`,
		// 10:00 WITA (UTC+8), 90 minutes.
		`2026-12-01T02:00:00Z 1h30m0s "Koordinasi Sulsel" `,
		// Daily at 08:00 WIT (UTC+9), twice.
		`2026-12-01T23:00:00Z 30m0s "Apel pagi" `,
		`2026-12-02T23:00:00Z 30m0s "Apel pagi" `,
		// In UTC; the all-day holiday is not a meeting.
		`2026-12-03T02:00:00Z 2h0m0s "Rapat nasional" `,
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
	again, _ := Expand(f, "kalbar", "aula", "calendar:kalbar/aula", jakarta, from, from.AddDate(0, 3, 0))
	for i := range got {
		if again[i].ID != got[i].ID {
			t.Errorf("id of %s changed between reads", got[i].Start)
		}
	}
}

func TestExpand_BadCalendarSaysWhy(t *testing.T) {
	for ics, want := range map[string]string{
		"not a calendar": "read calendar: ",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nDTSTART:20261201T010000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n":              "read calendar: an event has no UID",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Mars/Olympus:20261201T010000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n": "event a: DTSTART: unknown time zone Mars/Olympus",
	} {
		_, err := Expand(strings.NewReader(ics), "s", "r", "x", time.UTC, time.Time{}, time.Now().AddDate(1, 0, 0))
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: err = %v, want prefix %q", ics, err, want)
		}
	}
}
