package sessions

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// FuzzExpand feeds arbitrary feeds to Expand: it must never panic nor run
// away (its output is bounded by the window), and every session it returns
// must end after it starts.
func FuzzExpand(f *testing.F) {
	data, err := os.ReadFile("testdata/feed.ics")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261123T090000Z\r\nDTEND:20261123T100000Z\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := Expand(context.Background(), bytes.NewReader(data), "s", "r", "fuzz", time.UTC, from, from.Add(7*24*time.Hour))
		if err != nil {
			return
		}
		for _, s := range x.Sessions {
			if !s.End.After(s.Start) {
				t.Fatalf("session %+v ends before it starts", s)
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
