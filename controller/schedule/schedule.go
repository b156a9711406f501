// Package schedule tells each room's agent when its room meets: the room's
// sessions of the next hours, published retained on the room's schedule
// topic (report.KindSchedule) at start and again whenever they change, so
// that the agent runs nothing intrusive in them and knows them after a
// restart of its own or of the broker.
//
// The store is read every Interval and after a change (at most once a
// ChangeGap); a room's message is published again only when its sessions
// changed (added, moved, renamed, cancelled, entered the horizon or
// ended). A session stays in the message for Lookback after
// it ended, so that the agent keeps its margin after a meeting's end.
package schedule

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults of Options.
const (
	DefaultHorizon  = 24 * time.Hour
	DefaultLookback = time.Hour
	DefaultInterval = 10 * time.Second
	// DefaultChangeGap is the least time between two readings that changes
	// caused: a bulk creation of sessions (a scheduler filling a week, a
	// feed of thousands) is read a few times, not once for each.
	DefaultChangeGap = time.Second
)

// Sessions is what the announcer reads of the schedule (*sessions.Store).
type Sessions interface {
	Each(sessions.Filter, func(*sessions.Session))
}

// Publisher sends one MQTT message; retained asks the broker to keep it for
// later subscribers.
type Publisher interface {
	Publish(topic string, payload []byte, retained bool) error
}

// Room names a room.
type Room struct{ Site, Room string }

// Options configure an Announcer.
type Options struct {
	Horizon  time.Duration // how far ahead sessions are published; DefaultHorizon when zero
	Lookback time.Duration // how long an ended session stays listed; DefaultLookback when zero
	Interval time.Duration // how often the store is read; DefaultInterval when zero
	// Rooms lists the rooms known besides those with sessions (the fleet):
	// at start each gets its schedule, if only to learn it has none now
	// (a session cancelled while the controller was down). May be nil.
	Rooms func() []Room
	// Owns says whether this controller publishes for a site (a shard);
	// nil owns every site.
	Owns func(site string) bool
	// Changes, when set, says the sessions changed: the schedules are
	// published at once, not at the next Interval (a meeting made a minute
	// ahead reaches its room before the room's pre-meeting check does).
	Changes <-chan struct{}
	// ChangeGap is the least time between two readings caused by Changes;
	// DefaultChangeGap when zero.
	ChangeGap time.Duration
	Now       func() time.Time // the controller's clock; time.Now when nil
	Log       *slog.Logger
}

// Announcer publishes the rooms' schedules.
type Announcer struct {
	store Sessions
	pub   Publisher
	o     Options
	last  map[Room][]wire.ScheduledSession // the sessions last published
	retry map[Room]bool                    // rooms whose last publication failed

	published prometheus.Counter
	failed    prometheus.Counter
}

// New returns an announcer; Run publishes.
func New(store Sessions, pub Publisher, o Options) *Announcer {
	if o.Horizon <= 0 {
		o.Horizon = DefaultHorizon
	}
	if o.Lookback <= 0 {
		o.Lookback = DefaultLookback
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.ChangeGap <= 0 {
		o.ChangeGap = DefaultChangeGap
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Announcer{
		store: store, pub: pub, o: o, last: map[Room][]wire.ScheduledSession{}, retry: map[Room]bool{},
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_schedules_published_total",
			Help: "Room schedules published to the agents (retained, on each room's schedule topic), at start and when a room's sessions changed.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_schedule_publish_errors_total",
			Help: "Room schedules that could not be published (retried at the next reading of the schedule).",
		}),
	}
}

// Collectors are the announcer's metrics.
func (a *Announcer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.published, a.failed}
}

// Run publishes every known room's schedule, then what changes, until the
// context ends.
func (a *Announcer) Run(ctx context.Context) {
	var known []Room
	if a.o.Rooms != nil {
		known = a.o.Rooms()
	}
	a.Sync(known...)
	t := time.NewTicker(a.o.Interval)
	defer t.Stop()
	// A change is read at once, unless a change was read less than
	// ChangeGap ago: then when the gap has passed (gap fires).
	gap := time.NewTimer(0)
	<-gap.C
	var lastChange time.Time
	waiting := false
	for {
		select {
		case <-ctx.Done():
			gap.Stop()
			return
		case <-t.C:
			a.Sync()
		case <-a.o.Changes:
			if waiting {
				continue
			}
			if wait := a.o.ChangeGap - time.Since(lastChange); wait > 0 {
				waiting = true
				gap.Reset(wait)
				continue
			}
			lastChange = time.Now()
			a.Sync()
		case <-gap.C:
			waiting = false
			lastChange = time.Now()
			a.Sync()
		}
	}
}

// Sync publishes the schedule of every room whose sessions changed since it
// was last published, and of the rooms given (even when it did not change).
// It is not safe for concurrent use: Run calls it.
func (a *Announcer) Sync(rooms ...Room) {
	now := a.o.Now()
	byRoom := map[Room][]wire.ScheduledSession{}
	a.store.Each(sessions.Filter{From: now.Add(-a.o.Lookback), To: now.Add(a.o.Horizon)}, func(s *sessions.Session) {
		r := Room{s.Site, s.Room}
		byRoom[r] = append(byRoom[r], wire.ScheduledSession{ID: s.ID, Title: title(s.Title), Start: s.Start.UTC(), End: s.End.UTC()})
	})
	for _, list := range byRoom {
		if len(list) > 1 {
			slices.SortFunc(list, func(x, y wire.ScheduledSession) int { return cmp.Or(x.Start.Compare(y.Start), cmp.Compare(x.ID, y.ID)) })
		}
	}
	force := map[Room]bool{}
	for _, r := range rooms {
		force[r] = true
	}
	for r := range a.retry {
		force[r] = true
	}
	// The rooms whose message changed (or is asked for), in a stable order;
	// at 50,000 rooms most readings find none of them.
	var order []Room
	pick := func(r Room) {
		if a.o.Owns != nil && !a.o.Owns(r.Site) {
			return
		}
		list := byRoom[r]
		prev, seen := a.last[r]
		switch {
		case force[r]:
		case seen && sameSessions(prev, list):
			return
		case !seen && len(list) == 0:
			return
		}
		order = append(order, r)
	}
	for r := range byRoom {
		pick(r)
	}
	for r := range a.last {
		if _, ok := byRoom[r]; !ok {
			pick(r) // a room whose sessions all went: it learns it has none
		}
	}
	for r := range force {
		_, listed := byRoom[r]
		_, seen := a.last[r]
		if !listed && !seen {
			pick(r)
		}
	}
	slices.SortFunc(order, func(x, y Room) int { return cmp.Or(cmp.Compare(x.Site, y.Site), cmp.Compare(x.Room, y.Room)) })
	for _, r := range order {
		list := byRoom[r]
		if list == nil {
			list = []wire.ScheduledSession{}
		}
		published := list
		if len(list) > wire.MaxScheduleSessions {
			a.o.Log.Warn("room has more sessions in the horizon than a schedule carries; the first are published",
				"site", r.Site, "room", r.Room, "sessions", len(list), "published", wire.MaxScheduleSessions)
			published = list[:wire.MaxScheduleSessions]
		}
		msg := wire.Schedule{Schema: wire.ScheduleSchema, Site: r.Site, Room: r.Room,
			GeneratedAt: now.UTC(), Until: now.Add(a.o.Horizon).UTC(), Sessions: published}
		payload, err := msg.Encode()
		if err == nil {
			err = a.pub.Publish(wire.Topic(r.Site, r.Room, wire.KindSchedule), payload, true)
		}
		if err != nil {
			a.failed.Inc()
			a.retry[r] = true
			a.o.Log.Warn("could not publish a room's schedule; retrying at the next reading", "site", r.Site, "room", r.Room, "err", err)
			continue
		}
		a.published.Inc()
		delete(a.retry, r)
		if prev, seen := a.last[r]; len(list) == 0 && seen && len(prev) > 0 {
			a.o.Log.Info("room has no more sessions in the horizon", "site", r.Site, "room", r.Room)
		}
		a.last[r] = list
	}
}

// sameSessions says whether a room's sessions are what was last published.
func sameSessions(a, b []wire.ScheduledSession) bool {
	return slices.EqualFunc(a, b, func(x, y wire.ScheduledSession) bool {
		return x.ID == y.ID && x.Title == y.Title && x.Start.Equal(y.Start) && x.End.Equal(y.End)
	})
}

// title cuts a session's title to what the wire carries.
func title(s string) string {
	if len(s) <= wire.MaxScheduleTitle {
		return s
	}
	cut := wire.MaxScheduleTitle
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
