package sessions

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// vtimezone is a VTIMEZONE in Exchange's shape: observances from 1601.
func vtimezone(tzid string, observances ...string) string {
	return "BEGIN:VTIMEZONE\r\nTZID:" + tzid + "\r\n" + strings.Join(observances, "") + "END:VTIMEZONE\r\n"
}

func obs(kind, dtstart, from, to, rrule string) string {
	s := "BEGIN:" + kind + "\r\nDTSTART:" + dtstart + "\r\nTZOFFSETFROM:" + from + "\r\nTZOFFSETTO:" + to + "\r\n"
	if rrule != "" {
		s += "RRULE:" + rrule + "\r\n"
	}
	return s + "END:" + kind + "\r\n"
}

func TestExpand_ZonesResolveFromTheFeedsVTIMEZONEThenIANAThenWindowsThenDisplayNames(t *testing.T) {
	sydney := vtimezone("Canberra, Melbourne, Sydney",
		obs("STANDARD", "20080406T030000", "+1100", "+1000", "FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=4"),
		obs("DAYLIGHT", "20081005T020000", "+1000", "+1100", "FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=10"))
	for _, c := range []struct {
		name, zones, tzid, start string
		want                     string // UTC start of the first instance
	}{
		{"Exchange's own VTIMEZONE for a Windows name (the issue)", vtimezone("SE Asia Standard Time",
			obs("STANDARD", "16010101T000000", "+0700", "+0700", ""),
			obs("DAYLIGHT", "16010101T000000", "+0700", "+0700", "")),
			"SE Asia Standard Time", "20261201T090000", "2026-12-01T02:00:00Z"},
		{"a Windows name with no VTIMEZONE, through CLDR", "", "Tokyo Standard Time", "20261201T090000", "2026-12-01T00:00:00Z"},
		{"GMT Standard Time in summer, from its VTIMEZONE", vtimezone("GMT Standard Time",
			obs("STANDARD", "16010101T020000", "+0100", "+0000", "FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10"),
			obs("DAYLIGHT", "16010101T010000", "+0000", "+0100", "FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3")),
			"GMT Standard Time", "20260701T090000", "2026-07-01T08:00:00Z"},
		{"Outlook 2003's display name, Sydney in daylight time", sydney, "Canberra, Melbourne, Sydney", "20261201T090000", "2026-11-30T22:00:00Z"},
		{"the same in standard time", sydney, "Canberra, Melbourne, Sydney", "20260701T090000", "2026-06-30T23:00:00Z"},
		{"a custom name only its VTIMEZONE knows", vtimezone("Custom Eastern",
			obs("STANDARD", "16011104T020000", "-0400", "-0500", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
			obs("DAYLIGHT", "16010311T020000", "-0500", "-0400", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3")),
			"Custom Eastern", "20260310T090000", "2026-03-10T13:00:00Z"},
		{"the feed's VTIMEZONE wins over the IANA name it reuses", vtimezone("Asia/Jakarta",
			obs("STANDARD", "19700101T000000", "+0800", "+0800", "")),
			"Asia/Jakarta", "20261201T090000", "2026-12-01T01:00:00Z"},
		{"a broken VTIMEZONE falls back to the name", vtimezone("Asia/Makassar", "BEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nEND:STANDARD\r\n"),
			"Asia/Makassar", "20261201T090000", "2026-12-01T01:00:00Z"},
		{"an IANA name behind libical's prefix", "", "/freeassociation.sourceforge.net/Tzfile/Asia/Jayapura", "20261201T090000", "2026-12-01T00:00:00Z"},
		{"a Windows display name", "", "(UTC+08:00) Kuala Lumpur, Singapore", "20261201T090000", "2026-12-01T01:00:00Z"},
		{"Zimbra's display name", "", "(GMT+07.00) Bangkok / Hanoi / Jakarta", "20261201T090000", "2026-12-01T02:00:00Z"},
		{"Thunderbird's offsets with seconds and RDATEs", vtimezone("Europe/London",
			"BEGIN:STANDARD\r\nTZOFFSETTO:+000000\r\nTZOFFSETFROM:-000115\r\nDTSTART:18471201T000000\r\nRDATE:18471201T000000\r\nEND:STANDARD\r\n",
			obs("DAYLIGHT", "19970330T010000", "+000000", "+010000", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
			obs("STANDARD", "19971026T020000", "+010000", "+000000", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")),
			"Europe/London", "20261027T090000", "2026-10-27T09:00:00Z"},
	} {
		t.Run(c.name, func(t *testing.T) {
			feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + c.zones +
				event("UID:u", "SUMMARY:Rapat", "DTSTART;TZID=\""+c.tzid+"\":"+c.start, "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=3") + "END:VCALENDAR\r\n"
			at, _ := time.Parse("20060102T150405", c.start)
			got, skipped := expand(t, feed, time.UTC, at.AddDate(0, 0, -2), at.AddDate(0, 0, 30))
			if len(skipped) > 0 || len(got) != 3 {
				t.Fatalf("%d sessions, skipped %v", len(got), skipped)
			}
			if s := got[0].Start.UTC().Format(time.RFC3339); s != c.want {
				t.Errorf("first instance at %s, want %s", s, c.want)
			}
		})
	}
}

// TestExpand_DaylightSavingTimeFromAVTIMEZONE follows a weekly meeting at
// 09:00 Sydney time across the change to daylight time (first Sunday of
// October 2026): the wall clock stays, the instant moves an hour.
func TestExpand_DaylightSavingTimeFromAVTIMEZONE(t *testing.T) {
	feed := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + vtimezone("AUS Eastern Standard Time",
		obs("STANDARD", "16010101T030000", "+1100", "+1000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=4"),
		obs("DAYLIGHT", "16010101T020000", "+1000", "+1100", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=10")) +
		event("UID:w", "SUMMARY:Mingguan", "DTSTART;TZID=AUS Eastern Standard Time:20260928T090000",
			"DTEND;TZID=AUS Eastern Standard Time:20260928T100000", "RRULE:FREQ=WEEKLY") + "END:VCALENDAR\r\n"
	from := time.Date(2026, 9, 27, 0, 0, 0, 0, time.UTC)
	got, _ := expand(t, feed, time.UTC, from, from.AddDate(0, 0, 14))
	var starts []string
	for _, s := range got {
		starts = append(starts, s.Start.UTC().Format(time.RFC3339))
	}
	want := "2026-09-27T23:00:00Z 2026-10-04T22:00:00Z"
	if strings.Join(starts, " ") != want {
		t.Errorf("starts %v, want %s", starts, want)
	}
}

func TestVtimezoneLocation_TransitionsMatchIANA(t *testing.T) {
	// Google's VTIMEZONE for Europe/Berlin, read back hour by hour over
	// two years, says what Go's own tzdata says.
	feed := "BEGIN:VCALENDAR\r\n" + vtimezone("Europe/Berlin",
		obs("DAYLIGHT", "19700329T020000", "+0100", "+0200", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
		obs("STANDARD", "19701025T030000", "+0200", "+0100", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU")) + "END:VCALENDAR\r\n"
	cal, _, _, err := readCalendar([]byte(feed))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	got, err := newZones(cal, from, from.AddDate(0, 1, 0)).resolve("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := time.LoadLocation("Europe/Berlin")
	for at := from.AddDate(-1, 0, 0); at.Before(from.AddDate(1, 0, 0)); at = at.Add(time.Hour) {
		_, g := at.In(got).Zone()
		_, w := at.In(want).Zone()
		if g != w {
			t.Fatalf("at %s: offset %d, want %d", at, g, w)
		}
	}
	for _, wall := range []string{"2026-03-29 02:30", "2026-10-25 02:30"} {
		g, _ := time.ParseInLocation("2006-01-02 15:04", wall, got)
		w, _ := time.ParseInLocation("2006-01-02 15:04", wall, want)
		if !g.Equal(w) {
			t.Errorf("%s (in a gap or a fold) is %s, want %s", wall, g.UTC(), w.UTC())
		}
	}
}

func TestDisplayNameLocation_OffsetMustMatchTheCity(t *testing.T) {
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for name, want := range map[string]string{
		"(UTC+08:00) Kuala Lumpur, Singapore":     "Asia/Kuala_Lumpur",
		"(UTC+10:00) Canberra, Melbourne, Sydney": "Australia/Canberra",
		"(GMT+07.00) Bangkok / Hanoi / Jakarta":   "Asia/Bangkok",
		"(UTC+05:30) Chennai, Kolkata, Mumbai":    "Asia/Kolkata",
		"Canberra, Melbourne, Sydney":             "Australia/Canberra",
		"(UTC+09:00) Kuala Lumpur":                "", // the city is not at +09:00
		"(UTC+07:00) Nowhere":                     "",
		"(PST) Los Angeles":                       "",
	} {
		got := ""
		if loc := displayNameLocation(name, at); loc != nil {
			got = loc.String()
		}
		if got != want {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}

func TestIANALocation_NeverTheControllersOwnZone(t *testing.T) {
	for _, tzid := range []string{"Local", "", "../../etc/passwd", "Jakarta"} {
		if loc := ianaLocation(tzid); loc != nil {
			t.Errorf("%q resolved to %v", tzid, loc)
		}
	}
	if loc := ianaLocation("/mozilla.org/20070129_1/Asia/Makassar"); loc == nil || loc.String() != "Asia/Makassar" {
		t.Errorf("mozilla prefix: %v", loc)
	}
}

func ExampleSkipped() {
	fmt.Println(Skipped{UID: "x", Line: 12, Reason: SkipUnknownZone, Detail: `DTSTART: unknown time zone "X"`})
	// Output: event x (line 12): DTSTART: unknown time zone "X"
}

func TestZones_AFeedOfManyZoneNamesIsBounded(t *testing.T) {
	var events []string
	for i := range maxZonesPerFeed + 5 {
		events = append(events, event(fmt.Sprintf("UID:z%d", i), "SUMMARY:x", fmt.Sprintf("DTSTART;TZID=Nowhere/Zone%d:20261201T090000", i), "DURATION:PT1H"))
	}
	_, skipped := expand(t, ics(events...), time.UTC, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC))
	if len(skipped) != maxZonesPerFeed+5 || !strings.HasSuffix(skipped[len(skipped)-1].Detail, "the feed names more than 200 zones") {
		t.Errorf("%d skipped, last %v", len(skipped), skipped[len(skipped)-1])
	}
}
