package sessions

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzExpand feeds arbitrary feeds to Expand, from the corpus of real
// writers' shapes: it must never panic nor run away, and every session it
// returns must end after it starts, overlap the window and be within the
// feed's bounds.
func FuzzExpand(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/corpus/*.ics")
	seeds = append(seeds, "testdata/feed.ics")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261123T090000Z\r\nDTEND:20261123T100000Z\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Expand(context.Background(), bytes.NewReader(data), "s", "r", "fuzz", time.UTC, from, from.Add(7*24*time.Hour))
		if err != nil {
			return
		}
		if len(x.Sessions) > MaxFeedSessions {
			t.Fatalf("%d sessions", len(x.Sessions))
		}
		for _, s := range x.Sessions {
			if !s.End.After(s.Start) || !s.End.After(from) || !s.Start.Before(from.Add(7*24*time.Hour)) || s.End.Sub(s.Start) > MaxDuration {
				t.Fatalf("session %+v: outside the window or of a bad length", s)
			}
		}
	})
}

// TestExpand_InputThatPanickedGoICalIsAnError: "0;0=" panicked go-ical's
// decoder (found by FuzzExpand); the feed reader says what is wrong instead.
func TestExpand_InputThatPanickedGoICalIsAnError(t *testing.T) {
	at := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	_, err := Expand(context.Background(), bytes.NewReader([]byte("0;0=")), "s", "r", "feed", time.UTC, at, at.Add(time.Hour))
	if err == nil || err.Error() != `read calendar: line 1: want BEGIN:VCALENDAR, got "0;0=": is this an iCalendar file?` {
		t.Fatalf("err = %v", err)
	}
}

// FuzzZones reads each TZID of arbitrary feeds (the corpus's VTIMEZONEs to
// start from) as Expand would: building a location from a VTIMEZONE must
// never panic nor run away, and a location it builds has offsets a zone can
// have.
func FuzzZones(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/corpus/*.ics")
	for _, name := range seeds {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		cal, _, _, err := readCalendar(data)
		if err != nil {
			return
		}
		z := newZones(cal, from, from.Add(14*24*time.Hour))
		for tzid := range z.defs {
			loc, err := z.resolve(tzid)
			if err != nil {
				continue
			}
			for at := from.AddDate(0, -6, 0); at.Before(from.AddDate(0, 6, 0)); at = at.Add(7 * 24 * time.Hour) {
				if _, off := at.In(loc).Zone(); off < -24*3600 || off > 24*3600 {
					t.Fatalf("%q at %s: offset %d", tzid, at, off)
				}
			}
		}
	})
}
