package quiet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/wire"
)

var t9 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func meeting(title string, start, end time.Time) wire.ScheduledSession {
	return wire.ScheduledSession{ID: title, Title: title, Start: start, End: end}
}

type sessions []wire.ScheduledSession

func (s sessions) Sessions() []wire.ScheduledSession { return s }

func TestGate_QuietFromAMarginBeforeTheStartToAMarginAfterTheEnd(t *testing.T) {
	sched := sessions{meeting("Rapat", t9, t9.Add(time.Hour))}
	for _, tc := range []struct {
		name string
		at   time.Time
		held bool
	}{
		{"long before", t9.Add(-time.Hour), false},
		{"just before the margin", t9.Add(-2*time.Minute - time.Second), false},
		{"in the margin before", t9.Add(-2 * time.Minute), true},
		{"under way", t9.Add(30 * time.Minute), true},
		{"in the margin after", t9.Add(61 * time.Minute), true},
		{"after the margin", t9.Add(62 * time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Gate{Schedule: sched, Now: func() time.Time { return tc.at }}
			h, held := g.Hold(context.Background())
			if held != tc.held {
				t.Fatalf("held %v, want %v (%+v)", held, tc.held, h)
			}
			if held && (h.Code != wire.CodeHeldBack || h.Reason != `meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z)` ||
				!h.Since.Equal(t9.Add(-2*time.Minute)) || !h.Until.Equal(t9.Add(62*time.Minute))) {
				t.Errorf("hold %+v", h)
			}
		})
	}
}

func TestGate_BackToBackMeetingsAreOneQuietWindow(t *testing.T) {
	sched := sessions{
		meeting("Kedua", t9.Add(time.Hour), t9.Add(2*time.Hour)),
		meeting("Pertama", t9, t9.Add(time.Hour)),
		meeting("Sore", t9.Add(6*time.Hour), t9.Add(7*time.Hour)),
	}
	g := &Gate{Schedule: sched, Now: func() time.Time { return t9.Add(50 * time.Minute) }}
	h, ok := g.Hold(context.Background())
	if !ok || !h.Until.Equal(t9.Add(2*time.Hour+2*time.Minute)) {
		t.Fatalf("hold %+v, %v: want one window to 11:02Z", h, ok)
	}
	// In the margin before the second: both are named.
	g.Now = func() time.Time { return t9.Add(59 * time.Minute) }
	if h, _ := g.Hold(context.Background()); !strings.Contains(h.Reason, `"Pertama"`) || !strings.Contains(h.Reason, `"Kedua"`) {
		t.Errorf("reason %q names not both meetings", h.Reason)
	}
}

func TestGate_DeviceInUseHoldsOutsideMeetings(t *testing.T) {
	asked := 0
	g := &Gate{
		InUse: []Detector{
			{Device: "microphone or speaker", InUse: func(context.Context) (bool, string) { asked++; return false, "" }},
			{Device: "camera", InUse: func(context.Context) (bool, string) { asked++; return true, "Zoom.exe" }},
		},
		Now: func() time.Time { return t9 },
	}
	h, ok := g.Hold(context.Background())
	if !ok || h.Code != wire.CodeInUse || h.Reason != "camera in use by Zoom.exe" || asked != 2 {
		t.Fatalf("hold %+v, %v (asked %d)", h, ok, asked)
	}
	g.Schedule = sessions{meeting("Rapat", t9, t9.Add(time.Hour))}
	asked = 0
	if h, _ := g.Hold(context.Background()); h.Code != wire.CodeHeldBack || asked != 0 {
		t.Errorf("in a meeting: %+v, devices asked %d times", h, asked)
	}
	g.Schedule, g.InUse = nil, g.InUse[:1]
	if h, ok := g.Hold(context.Background()); ok {
		t.Errorf("nothing in use, no meeting: held %+v", h)
	}
}

func TestGate_NegativeMarginMeansNone(t *testing.T) {
	g := &Gate{Schedule: sessions{meeting("", t9, t9.Add(time.Hour))}, Margin: -1, Now: func() time.Time { return t9.Add(-time.Second) }}
	if _, ok := g.Hold(context.Background()); ok {
		t.Error("held before the start with no margin")
	}
	g.Now = func() time.Time { return t9 }
	if h, ok := g.Hold(context.Background()); !ok || !strings.HasPrefix(h.Reason, "a meeting 09:00Z") {
		t.Errorf("untitled meeting: %+v %v", h, ok)
	}
}

func schedulePayload(t *testing.T, room string, at time.Time, ss ...wire.ScheduledSession) []byte {
	t.Helper()
	b, err := (&wire.Schedule{Schema: wire.ScheduleSchema, Site: "kalbar", Room: room, GeneratedAt: at, Until: at.Add(24 * time.Hour), Sessions: ss}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSchedule_KeptAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenSchedule(dir, "kalbar", "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(schedulePayload(t, "r1", t9, meeting("Rapat", t9, t9.Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	again, err := OpenSchedule(dir, "kalbar", "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Sessions(); len(got) != 1 || got[0].Title != "Rapat" {
		t.Fatalf("after a restart: %+v", got)
	}
	// A cancellation replaces it, on disk too.
	if err := again.Update(schedulePayload(t, "r1", t9.Add(time.Minute))); err != nil {
		t.Fatal(err)
	}
	third, _ := OpenSchedule(dir, "kalbar", "r1", nil)
	if got := third.Sessions(); len(got) != 0 {
		t.Fatalf("after the cancellation and a restart: %+v", got)
	}
}

func TestSchedule_RefusesOtherRoomsOlderAndBadMessages(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenSchedule(dir, "kalbar", "r1", nil)
	if err := s.Update(schedulePayload(t, "r1", t9, meeting("Baru", t9, t9.Add(time.Hour)))); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(schedulePayload(t, "r2", t9.Add(time.Hour))); err == nil || !strings.Contains(err.Error(), "for kalbar/r2") {
		t.Errorf("another room's schedule: %v", err)
	}
	if err := s.Update([]byte(`{"schema":"siaprapat.schedule/v1"`)); err == nil {
		t.Error("a broken message was taken")
	}
	if err := s.Update(schedulePayload(t, "r1", t9.Add(-time.Hour))); err != nil {
		t.Errorf("an older message: %v", err)
	}
	if err := s.Update(nil); err != nil {
		t.Errorf("a cleared retained message: %v", err)
	}
	if got := s.Sessions(); len(got) != 1 || got[0].Title != "Baru" {
		t.Errorf("sessions %+v, want the newest valid schedule's", got)
	}
	// A damaged file is ignored (and logged), not fatal.
	os.WriteFile(filepath.Join(dir, ScheduleFile), []byte("garbage"), 0o600)
	if s, err := OpenSchedule(dir, "kalbar", "r1", nil); err != nil || len(s.Sessions()) != 0 {
		t.Errorf("damaged file: %v, %+v", err, s.Sessions())
	}
}

func TestGate_DevicesAnswerIsReusedBriefly(t *testing.T) {
	asked := 0
	now := t9
	g := &Gate{InUseFor: 3 * time.Second, Now: func() time.Time { return now },
		InUse: []Detector{{Device: "camera", InUse: func(context.Context) (bool, string) { asked++; return asked == 1, "Zoom.exe" }}}}
	for range 3 {
		if h, ok := g.Hold(context.Background()); !ok || h.Reason != "camera in use by Zoom.exe" {
			t.Fatalf("within 3 s: %+v %v", h, ok)
		}
	}
	now = now.Add(3 * time.Second)
	if _, ok := g.Hold(context.Background()); ok || asked != 2 {
		t.Errorf("after 3 s: held %v, asked %d times, want asked again and free", ok, asked)
	}
}

func TestStamp_DateOnlyWhenNotToday(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for at, want := range map[time.Time]string{
		time.Date(2026, 3, 4, 8, 1, 2, 0, time.UTC):                       "08:01:02Z",
		time.Date(2026, 3, 3, 23, 59, 0, 0, time.UTC):                     "2026-03-03T23:59:00Z",
		time.Date(2026, 3, 4, 15, 1, 2, 0, time.FixedZone("WIB", 7*3600)): "08:01:02Z",
	} {
		if got := Stamp(at, now); got != want {
			t.Errorf("Stamp(%v) = %q, want %q", at, got, want)
		}
	}
}

// TestGate_HoldForLooksAheadByTheActsLength: an act of 30 s is held back
// when the quiet window begins within 30 s; Hold alone, for the moment, is not.
func TestGate_HoldForLooksAheadByTheActsLength(t *testing.T) {
	sched := sessions{meeting("Rapat", t9, t9.Add(time.Hour))}
	for _, tc := range []struct {
		name string
		at   time.Time
		held bool
	}{
		{"the margin 31 s ahead", t9.Add(-2*time.Minute - 31*time.Second), false},
		{"the margin 29 s ahead", t9.Add(-2*time.Minute - 29*time.Second), true},
		{"in the margin", t9.Add(-time.Minute), true},
		{"after the margin", t9.Add(62 * time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Gate{Schedule: sched, Now: func() time.Time { return tc.at }}
			h, held := g.HoldFor(context.Background(), 30*time.Second)
			if held != tc.held {
				t.Fatalf("held %v, want %v (%+v)", held, tc.held, h)
			}
			if tc.name == "the margin 29 s ahead" {
				if h.Reason != `meeting "Rapat" 09:00Z to 10:00Z (quiet from 08:58Z, before a test of 30s would end)` || !h.Until.Equal(t9.Add(62*time.Minute)) {
					t.Errorf("hold %+v", h)
				}
				if _, now := g.Hold(context.Background()); now {
					t.Error("Hold, for the moment only, holds it too")
				}
				ctx := WithGate(context.Background(), g)
				if _, ok := HeldFor(ctx, 30*time.Second); !ok {
					t.Error("HeldFor through the run's gate does not hold it")
				}
			}
		})
	}
}
