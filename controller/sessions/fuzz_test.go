package sessions

import (
	"bytes"
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
		out, _, err := Expand(bytes.NewReader(data), "s", "r", "fuzz", time.UTC, from, from.Add(7*24*time.Hour))
		if err != nil {
			return
		}
		for _, s := range out {
			if !s.End.After(s.Start) {
				t.Fatalf("session %+v ends before it starts", s)
			}
		}
	})
}

func TestExpand_ParserPanicIsAnError(t *testing.T) {
	_, _, err := Expand(bytes.NewReader([]byte("0;0=")), "s", "r", "feed", time.UTC, time.Now(), time.Now().Add(time.Hour))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("iCalendar parser failed")) {
		t.Fatalf("err = %v", err)
	}
}
