// Package quiet decides when the agent must not disturb its room: from a
// margin before each of the room's scheduled meetings to a margin after it,
// and while a meeting app holds the room's devices. While a Hold is in a
// run's context, checks hold back their intrusive parts (the network test's
// traffic, the loopback's test sound, opening the camera) and say so; the
// passive parts (host, peripherals, the microphone's level in shared mode)
// go on.
package quiet

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/siaprapat/siaprapat/wire"
)

// DefaultMargin is the quiet time before a meeting's start and after its end.
const DefaultMargin = 2 * time.Minute

// Hold says why intrusive checks are held back now.
type Hold struct {
	// Code is report.CodeHeldBack for a scheduled meeting, report.CodeInUse
	// for a device a meeting app holds.
	Code string
	// Reason says what holds the checks back, for people:
	// `meeting "Rapat koordinasi" 09:00-10:00Z (quiet 08:58-10:02Z)`.
	Reason string
	Since  time.Time // when the quiet began (the margin before the meeting; the detection)
	Until  time.Time // when it ends, zero when not known (a device in use)
}

type holdKey struct{}

// WithHold marks a run as held back.
func WithHold(ctx context.Context, h Hold) context.Context {
	return context.WithValue(ctx, holdKey{}, h)
}

// HoldFrom returns the run's hold, if it is held back.
func HoldFrom(ctx context.Context) (Hold, bool) {
	h, ok := ctx.Value(holdKey{}).(Hold)
	return h, ok
}

// Holder decides whether intrusive work is held back now (a *Gate).
type Holder interface {
	Hold(ctx context.Context) (Hold, bool)
}

type gateKey struct{}

// WithGate gives a run its gate, for the checks to ask just before each
// intrusive act: a meeting's margin may begin while a run is under way.
func WithGate(ctx context.Context, g Holder) context.Context {
	return context.WithValue(ctx, gateKey{}, g)
}

// Held says whether an intrusive act (a network test, the loopback's sound,
// opening a camera) must be held back now: the run's hold when it has one,
// else its gate asked at this moment.
func Held(ctx context.Context) (Hold, bool) { return HeldFor(ctx, 0) }

// HeldFor is Held for an act that lasts d (a network test): it is held
// back too when a meeting's quiet window begins before the act would end,
// so that a test started just before a margin does not run into it.
func HeldFor(ctx context.Context, d time.Duration) (Hold, bool) {
	if h, ok := HoldFrom(ctx); ok {
		return h, true
	}
	g, ok := ctx.Value(gateKey{}).(Holder)
	if !ok || g == nil {
		return Hold{}, false
	}
	if a, ok := g.(interface {
		HoldFor(context.Context, time.Duration) (Hold, bool)
	}); ok {
		return a.HoldFor(ctx, d)
	}
	return g.Hold(ctx)
}

// Detector tells whether a meeting app holds a device, and which app.
type Detector struct {
	Device string // "microphone or speaker", "camera"
	// InUse reports whether the device is in use by another program, and
	// by what ("Zoom.exe", "zoom (recording stream #12)").
	InUse func(ctx context.Context) (bool, string)
}

// Sessions gives the room's known meetings (a *Schedule).
type Sessions interface {
	Sessions() []wire.ScheduledSession
}

// Gate decides whether a run is held back.
type Gate struct {
	Schedule Sessions      // the room's meetings; nil knows none
	Margin   time.Duration // before each start and after each end; DefaultMargin when zero, none when negative
	InUse    []Detector
	// InUseFor reuses the devices' answer for this long (0: ask every
	// time): a run asks before each intrusive act, and each asking runs
	// pactl or walks /proc.
	InUseFor time.Duration
	Now      func() time.Time // time.Now when nil
	Log      *slog.Logger     // may be nil

	mu       sync.Mutex
	askedAt  time.Time
	lastHold Hold
	lastBusy bool
}

// Hold returns the run's hold: a meeting's quiet window first, then a
// device in use. The devices are asked only outside meetings.
func (g *Gate) Hold(ctx context.Context) (Hold, bool) {
	now := g.now()
	if g.Schedule != nil {
		if h, ok := Window(g.Schedule.Sessions(), g.margin(), now); ok {
			return h, true
		}
	}
	if g.InUseFor > 0 {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.askedAt.IsZero() && now.Sub(g.askedAt) >= 0 && now.Sub(g.askedAt) < g.InUseFor {
			return g.lastHold, g.lastBusy
		}
	}
	h, busy := g.devicesInUse(ctx, now)
	if g.InUseFor > 0 {
		g.askedAt, g.lastHold, g.lastBusy = now, h, busy
	}
	return h, busy
}

// HoldFor is Hold for an act that lasts d: a quiet window that begins
// before the act would end holds it back now.
func (g *Gate) HoldFor(ctx context.Context, d time.Duration) (Hold, bool) {
	if h, ok := g.Hold(ctx); ok || g.Schedule == nil || d <= 0 {
		return h, ok
	}
	return Ahead(g.Schedule.Sessions(), g.margin(), g.now(), d)
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Gate) devicesInUse(ctx context.Context, now time.Time) (Hold, bool) {
	for _, d := range g.InUse {
		if d.InUse == nil {
			continue
		}
		if busy, by := d.InUse(ctx); busy {
			reason := d.Device + " in use"
			if by != "" {
				reason += " by " + by
			}
			return Hold{Code: wire.CodeInUse, Reason: reason, Since: now}, true
		}
	}
	return Hold{}, false
}

func (g *Gate) margin() time.Duration {
	switch {
	case g.Margin == 0:
		return DefaultMargin
	case g.Margin < 0:
		return 0
	}
	return g.Margin
}

// Window returns the hold of the meeting whose quiet window (margin before
// its start to margin after its end) holds now. Meetings whose windows touch
// or overlap (back to back) make one window: its end is the last one's.
func Window(sessions []wire.ScheduledSession, margin time.Duration, now time.Time) (Hold, bool) {
	ss := slices.Clone(sessions)
	slices.SortFunc(ss, func(a, b wire.ScheduledSession) int { return a.Start.Compare(b.Start) })
	for i, s := range ss {
		from, to := s.Start.Add(-margin), s.End.Add(margin)
		if now.Before(from) || !now.Before(to) {
			continue
		}
		names := []string{describe(s)}
		for _, next := range ss[i+1:] {
			if next.Start.Add(-margin).After(to) {
				break
			}
			if e := next.End.Add(margin); e.After(to) {
				to = e
			}
			if !now.Before(next.Start.Add(-margin)) {
				names = append(names, describe(next))
			}
		}
		reason := strings.Join(names, ", ") + fmt.Sprintf(" (quiet %s to %s)", clock(from, now), clock(to, now))
		return Hold{Code: wire.CodeHeldBack, Reason: reason, Since: from, Until: to}, true
	}
	return Hold{}, false
}

// Ahead returns the hold of the first meeting whose quiet window begins
// after now but within d: an act of length d started now would run into it.
func Ahead(sessions []wire.ScheduledSession, margin time.Duration, now time.Time, d time.Duration) (Hold, bool) {
	var first *wire.ScheduledSession
	for i, s := range sessions {
		from := s.Start.Add(-margin)
		if from.After(now) && from.Before(now.Add(d)) && (first == nil || from.Before(first.Start.Add(-margin))) {
			first = &sessions[i]
		}
	}
	if first == nil {
		return Hold{}, false
	}
	from, to := first.Start.Add(-margin), first.End.Add(margin)
	reason := describe(*first) + fmt.Sprintf(" (quiet from %s, before a test of %v would end)", clock(from, now), d.Round(time.Second))
	return Hold{Code: wire.CodeHeldBack, Reason: reason, Since: now, Until: to}, true
}

func describe(s wire.ScheduledSession) string {
	title := "a meeting"
	if s.Title != "" {
		title = fmt.Sprintf("meeting %q", s.Title)
	}
	return fmt.Sprintf("%s %s to %s", title, clock(s.Start, s.Start), clock(s.End, s.Start))
}

// clock writes a time as 09:00Z (09:00:30Z off the minute), with its date
// when not the reference's day.
func clock(t, ref time.Time) string {
	t, ref = t.UTC(), ref.UTC()
	layout := "15:04Z"
	if t.Second() != 0 {
		layout = "15:04:05Z"
	}
	if t.Format(time.DateOnly) != ref.Format(time.DateOnly) {
		layout = "2006-01-02T" + layout
	}
	return t.Format(layout)
}

// Stamp writes when figures were measured, for reasons: "08:01:02Z", with
// the date when not today (by now).
func Stamp(at, now time.Time) string {
	at, now = at.UTC(), now.UTC()
	if at.Format(time.DateOnly) == now.Format(time.DateOnly) {
		return at.Format("15:04:05Z")
	}
	return at.Format("2006-01-02T15:04:05Z")
}
