package wire

import (
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// ScheduleSchema is the schema of the schedule messages this package writes;
// DecodeSchedule reads any minor revision of major version 1.
const ScheduleSchema = "siaprapat.schedule/v1"

// KindSchedule is the per-room topic on which the controller publishes the
// room's sessions of the next hours (controller -> agent, QoS 1, retained):
// the agent runs nothing intrusive in them.
const KindSchedule = "schedule"

// Bounds on a schedule message. A session is about 150 bytes; a room has a
// few a day. The bounds keep a hostile message from costing the agent memory.
const (
	MaxScheduleBytes    = 64 << 10
	MaxScheduleSessions = 200
	MaxScheduleTitle    = 200
	// MaxScheduleSpan bounds Until - GeneratedAt: the controller publishes
	// 24 hours; twice that leaves room for a longer horizon later.
	MaxScheduleSpan = 48 * time.Hour
)

// Schedule is one room's sessions that overlap [GeneratedAt, Until), as the
// controller knew them at GeneratedAt (its clock). Sessions is empty when
// the room has none: that too is news (a cancelled meeting).
type Schedule struct {
	Schema      string             `json:"schema"`
	Site        string             `json:"site"`
	Room        string             `json:"room"`
	GeneratedAt time.Time          `json:"generated_at"`
	Until       time.Time          `json:"until"`
	Sessions    []ScheduledSession `json:"sessions"`
}

// ScheduledSession is one meeting in the room.
type ScheduledSession struct {
	ID    string    `json:"id,omitempty"`
	Title string    `json:"title,omitempty"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Encode validates the schedule and returns its JSON.
func (s *Schedule) Encode() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxScheduleBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Msg: fmt.Sprintf("schedule is %d bytes, the limit is %d", len(b), MaxScheduleBytes)}
	}
	return b, nil
}

// DecodeSchedule parses and validates a schedule message. Every error is a
// *DecodeError naming the reason and the field.
func DecodeSchedule(data []byte) (*Schedule, error) {
	if len(data) > MaxScheduleBytes {
		return nil, &DecodeError{Reason: ReasonOversized, Msg: fmt.Sprintf("schedule is %d bytes, the limit is %d", len(data), MaxScheduleBytes)}
	}
	if len(data) == 0 {
		return nil, &DecodeError{Reason: ReasonMalformed, Msg: "payload is empty"}
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, malformed(err)
	}
	if err := checkScheduleSchema(head.Schema); err != nil {
		return nil, err
	}
	var s Schedule
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, malformed(err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func checkScheduleSchema(schema *string) error {
	if schema == nil || *schema == "" {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: "missing; want " + ScheduleSchema}
	}
	const prefix = "siaprapat.schedule/v"
	if len(*schema) <= len(prefix) || (*schema)[:len(prefix)] != prefix {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("%q is not a siaprapat schedule schema; want %s", truncate(*schema), ScheduleSchema)}
	}
	major, ok := schemaMajor("siaprapat.report/v" + (*schema)[len(prefix):])
	if !ok {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("%q is not a siaprapat schedule schema; want %s", truncate(*schema), ScheduleSchema)}
	}
	if major != 1 {
		return &DecodeError{Reason: ReasonSchema, Field: "schema", Msg: fmt.Sprintf("major version %d is not supported; this build reads %s", major, ScheduleSchema)}
	}
	return nil
}

// Validate checks every field, returning a *DecodeError for the first bad one.
func (s *Schedule) Validate() error {
	if err := CheckName("site", s.Site); err != nil {
		return invalid("site", "%v", err)
	}
	if err := CheckName("room", s.Room); err != nil {
		return invalid("room", "%v", err)
	}
	switch {
	case s.GeneratedAt.IsZero():
		return invalid("generated_at", "missing; want an RFC 3339 time")
	case !s.Until.After(s.GeneratedAt):
		return invalid("until", "%s is not after generated_at %s", s.Until.Format(time.RFC3339), s.GeneratedAt.Format(time.RFC3339))
	case s.Until.Sub(s.GeneratedAt) > MaxScheduleSpan:
		return invalid("until", "%v after generated_at; at most %v", s.Until.Sub(s.GeneratedAt), MaxScheduleSpan)
	case len(s.Sessions) > MaxScheduleSessions:
		return invalid("sessions", "%d sessions; at most %d", len(s.Sessions), MaxScheduleSessions)
	}
	for i, ss := range s.Sessions {
		at := indexed("sessions", i)
		switch {
		case len(ss.ID) > 128 || !utf8.ValidString(ss.ID):
			return invalid(at+".id", "want up to 128 bytes of UTF-8")
		case len(ss.Title) > MaxScheduleTitle || !utf8.ValidString(ss.Title):
			return invalid(at+".title", "want up to %d bytes of UTF-8", MaxScheduleTitle)
		case ss.Start.IsZero():
			return invalid(at+".start", "missing; want an RFC 3339 time")
		case !ss.End.After(ss.Start):
			return invalid(at+".end", "%s is not after start %s", ss.End.Format(time.RFC3339), ss.Start.Format(time.RFC3339))
		case ss.End.Sub(ss.Start) > 24*time.Hour:
			return invalid(at+".end", "the session lasts %v; at most 24h", ss.End.Sub(ss.Start))
		}
	}
	return nil
}
