package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func validSchedule() *Schedule {
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	return &Schedule{
		Schema: ScheduleSchema, Site: "kalbar", Room: "pontianak-r1", GeneratedAt: at, Until: at.Add(24 * time.Hour),
		Sessions: []ScheduledSession{{ID: "s1", Title: "Rapat koordinasi", Start: at.Add(time.Hour), End: at.Add(2 * time.Hour)}},
	}
}

func TestSchedule_EncodeDecodeRoundTrip(t *testing.T) {
	b, err := validSchedule().Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeSchedule(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := got.Encode(); string(again) != string(b) {
		t.Errorf("round trip changed the schedule:\n%s\n%s", b, again)
	}
}

func TestSchedule_EmptyScheduleIsNews(t *testing.T) {
	s := validSchedule()
	s.Sessions = nil
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeSchedule(b); err != nil || len(got.Sessions) != 0 {
		t.Errorf("empty schedule: %+v, %v", got, err)
	}
}

func TestSchedule_DecodeRejectsBadInputWithReason(t *testing.T) {
	valid := func(mod func(*Schedule)) string {
		s := validSchedule()
		mod(s)
		b, err := jsonOf(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, payload, reason, field, msg string
	}{
		{"empty", "", ReasonMalformed, "", "payload is empty"},
		{"not JSON", "{garbage", ReasonMalformed, "", "not valid JSON"},
		{"array", "[]", ReasonMalformed, "", "want an object"},
		{"oversized", `{"schema":"siaprapat.schedule/v1","x":"` + strings.Repeat("a", MaxScheduleBytes) + `"}`, ReasonOversized, "", "the limit is 65536"},
		{"no schema", `{"site":"a"}`, ReasonSchema, "schema", "missing"},
		{"a report", `{"schema":"siaprapat.report/v1"}`, ReasonSchema, "schema", "not a siaprapat schedule schema"},
		{"future major", `{"schema":"siaprapat.schedule/v2"}`, ReasonSchema, "schema", "major version 2 is not supported"},
		{"bad room", valid(func(s *Schedule) { s.Room = "../x" }), ReasonInvalid, "room", "not a valid name"},
		{"no time", valid(func(s *Schedule) { s.GeneratedAt = time.Time{} }), ReasonInvalid, "generated_at", "missing"},
		{"until before", valid(func(s *Schedule) { s.Until = s.GeneratedAt }), ReasonInvalid, "until", "is not after generated_at"},
		{"a week", valid(func(s *Schedule) { s.Until = s.GeneratedAt.Add(7 * 24 * time.Hour) }), ReasonInvalid, "until", "at most 48h0m0s"},
		{"ends before start", valid(func(s *Schedule) { s.Sessions[0].End = s.Sessions[0].Start }), ReasonInvalid, "sessions[0].end", "is not after start"},
		{"too long a title", valid(func(s *Schedule) { s.Sessions[0].Title = strings.Repeat("x", 201) }), ReasonInvalid, "sessions[0].title", "up to 200 bytes"},
		{"too many", valid(func(s *Schedule) {
			for len(s.Sessions) <= MaxScheduleSessions {
				s.Sessions = append(s.Sessions, s.Sessions[0])
			}
		}), ReasonInvalid, "sessions", "at most 200"},
		{"wrong type", `{"schema":"siaprapat.schedule/v1","sessions":{}}`, ReasonMalformed, "sessions", "want []wire.ScheduledSession"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeSchedule([]byte(tc.payload))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %v, want a *DecodeError", err)
			}
			if de.Reason != tc.reason || de.Field != tc.field || !strings.Contains(de.Msg, tc.msg) {
				t.Errorf("got %s (reason %s, field %q), want reason %s, field %q, message with %q", de, de.Reason, de.Field, tc.reason, tc.field, tc.msg)
			}
		})
	}
}

func TestSchedule_EncodeRefusesInvalid(t *testing.T) {
	s := validSchedule()
	s.Site = ""
	if _, err := s.Encode(); err == nil || !strings.Contains(err.Error(), "site is empty") {
		t.Errorf("Encode: %v, want site is empty", err)
	}
}

// jsonOf marshals without validating, as a hostile or broken sender would.
func jsonOf(v any) ([]byte, error) { return json.Marshal(v) }

// FuzzDecodeSchedule: DecodeSchedule never panics, every error is a
// *DecodeError, and what it accepts encodes and decodes to the same bytes.
func FuzzDecodeSchedule(f *testing.F) {
	good, _ := validSchedule().Encode()
	f.Add(good)
	f.Add([]byte(`{"schema":"siaprapat.schedule/v1.3","site":"a","room":"b","generated_at":"2026-01-01T00:00:00Z","until":"2026-01-02T00:00:00Z","sessions":[]}`))
	f.Add([]byte(`{"schema":"siaprapat.schedule/v9"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSchedule(data)
		if err != nil {
			if _, ok := err.(*DecodeError); !ok {
				t.Fatalf("error is %T, not *DecodeError: %v", err, err)
			}
			return
		}
		b, err := s.Encode()
		if err != nil {
			t.Fatalf("accepted schedule does not encode: %v", err)
		}
		again, err := DecodeSchedule(b)
		if err != nil {
			t.Fatalf("re-encoded schedule rejected: %v", err)
		}
		if b2, _ := again.Encode(); !bytes.Equal(b, b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}
