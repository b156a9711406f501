package alerts

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
)

// Session is the meeting an alert is about. Its times are in the room's
// zone (RFC 3339 with the zone's offset in JSON), Zone its abbreviation
// (WIB, WITA, WIT) and Location its IANA name.
type Session struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Organizer string    `json:"organizer,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Zone      string    `json:"zone"`
	Location  string    `json:"location"`
}

// location is the session's zone, from its IANA name; the start's own
// offset when that name is unknown here.
func (s Session) location() *time.Location {
	if s.Location != "" {
		if l, ok := zones.Load(s.Location); ok {
			return l.(*time.Location)
		}
		if l, err := time.LoadLocation(s.Location); err == nil {
			zones.Store(s.Location, l)
			return l
		}
	}
	_, offset := s.Start.Zone()
	return time.FixedZone(s.Zone, offset)
}

// zones holds the zones loaded by name: time.LoadLocation reads the zone's
// file each time (at 50,000 sessions, a planner's step spent a third of its
// time there).
var zones sync.Map // IANA name -> *time.Location

// when writes the session's start in its room's zone, in English and in
// Bahasa Indonesia.
func (s Session) when() (en, id string) { return readiness.When(s.Start, s.location()) }

// KeyFor is the key of a session's alert (Alert.Key).
func KeyFor(s sessions.Session) string { return s.Site + "/" + s.Room + "/" + s.ID }

// For is the alert of a room not ready for a session: loc is the room's
// zone (WIB when nil), causes why it is not ready (readiness), failedAt
// when their newest evidence was taken.
func For(s sessions.Session, loc *time.Location, causes []readiness.Cause, failedAt time.Time) Alert {
	if loc == nil {
		loc = readiness.Location
	}
	start := s.Start.In(loc)
	zone, _ := start.Zone()
	a := Alert{
		Key:  KeyFor(s),
		Site: s.Site, Room: s.Room,
		Session: Session{ID: s.ID, Title: s.Title, Organizer: s.Organizer, Start: start, End: s.End.In(loc),
			Zone: zone, Location: loc.String()},
		Causes:      causes,
		Fingerprint: readiness.Fingerprint(causes),
		FailedAt:    failedAt,
		Labels: map[string]string{
			"alertname": "SiaprapatRoomNotReady", "site": s.Site, "room": s.Room, "session": s.ID, "severity": "critical",
		},
	}
	en, id := readiness.When(start, loc)
	a.Annotations = map[string]string{
		"summary":        fmt.Sprintf("Room %s/%s is not ready for %q at %s", s.Site, s.Room, s.Title, en),
		"summary_id":     fmt.Sprintf("Ruang %s/%s belum siap untuk %q pada %s", s.Site, s.Room, s.Title, id),
		"description":    causeLines(causes, false),
		"description_id": causeLines(causes, true),
		"session_title":  s.Title,
		"session_start":  start.Format(time.RFC3339),
		"session_zone":   zone,
		"organizer":      s.Organizer,
	}
	return a
}

// causeLines lists the causes, one a line, in Bahasa Indonesia or English.
func causeLines(causes []readiness.Cause, indonesian bool) string {
	var b strings.Builder
	for i, c := range causes {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("- ")
		if indonesian {
			b.WriteString(c.TextID)
		} else {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}
