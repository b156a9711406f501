package schedule

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/wire"
)

// publisher records what would go to the broker.
type publisher struct {
	msgs []published
	fail error
}

type published struct {
	topic    string
	schedule *wire.Schedule
	retained bool
}

func (p *publisher) Publish(topic string, payload []byte, retained bool) error {
	if p.fail != nil {
		return p.fail
	}
	s, err := wire.DecodeSchedule(payload)
	if err != nil {
		return err
	}
	p.msgs = append(p.msgs, published{topic, s, retained})
	return nil
}

func (p *publisher) take() []published {
	out := p.msgs
	p.msgs = nil
	return out
}

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func setup(t *testing.T, o Options) (*Announcer, *sessions.Store, *publisher, *clock) {
	t.Helper()
	store, err := sessions.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	pub := &publisher{}
	c := &clock{now: t0}
	o.Now = c.Now
	return New(store, pub, o), store, pub, c
}

func put(t *testing.T, store *sessions.Store, site, room, title string, start, end time.Time) sessions.Session {
	t.Helper()
	s, err := store.Put(sessions.Session{Site: site, Room: room, Title: title, Start: start, End: end, Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func titles(p published) []string {
	var out []string
	for _, s := range p.schedule.Sessions {
		out = append(out, s.Title)
	}
	return out
}

func TestAnnouncer_AtStartEveryKnownRoomLearnsItsSessionsRetained(t *testing.T) {
	a, store, pub, _ := setup(t, Options{})
	put(t, store, "kalbar", "r1", "Rapat pagi", t0.Add(time.Hour), t0.Add(2*time.Hour))
	put(t, store, "kalbar", "r1", "Rapat siang", t0.Add(5*time.Hour), t0.Add(6*time.Hour))
	put(t, store, "kalbar", "r1", "Lusa", t0.Add(30*time.Hour), t0.Add(31*time.Hour)) // beyond 24 h
	a.Sync(Room{"kalbar", "r1"}, Room{"jatim", "empty-room"})
	got := pub.take()
	if len(got) != 2 {
		t.Fatalf("published %d messages, want 2: %+v", len(got), got)
	}
	if got[0].topic != "siaprapat/v1/jatim/empty-room/schedule" || len(got[0].schedule.Sessions) != 0 || !got[0].retained {
		t.Errorf("the room without sessions: %+v", got[0])
	}
	if got[1].topic != "siaprapat/v1/kalbar/r1/schedule" || !got[1].retained || !slices.Equal(titles(got[1]), []string{"Rapat pagi", "Rapat siang"}) {
		t.Errorf("kalbar/r1: %s retained %v sessions %v", got[1].topic, got[1].retained, titles(got[1]))
	}
	if s := got[1].schedule; !s.GeneratedAt.Equal(t0) || !s.Until.Equal(t0.Add(24*time.Hour)) || s.Site != "kalbar" || s.Room != "r1" {
		t.Errorf("header %+v", s)
	}
}

func TestAnnouncer_PublishesAgainOnlyWhenARoomsSessionsChange(t *testing.T) {
	a, store, pub, c := setup(t, Options{})
	s := put(t, store, "kalbar", "r1", "Rapat", t0.Add(time.Hour), t0.Add(2*time.Hour))
	a.Sync()
	if got := pub.take(); len(got) != 1 {
		t.Fatalf("first reading: %d messages, want 1", len(got))
	}
	c.now = c.now.Add(10 * time.Second)
	a.Sync()
	if got := pub.take(); len(got) != 0 {
		t.Fatalf("nothing changed, yet %d messages", len(got))
	}
	// Moved: published again.
	s.Start, s.End = t0.Add(90*time.Minute), t0.Add(150*time.Minute)
	if _, err := store.Put(s); err != nil {
		t.Fatal(err)
	}
	a.Sync()
	if got := pub.take(); len(got) != 1 || !got[0].schedule.Sessions[0].Start.Equal(t0.Add(90*time.Minute)) {
		t.Fatalf("after the move: %+v", got)
	}
	// Another room's change does not touch this one.
	put(t, store, "kalbar", "r2", "Lain", t0.Add(time.Hour), t0.Add(2*time.Hour))
	a.Sync()
	if got := pub.take(); len(got) != 1 || got[0].topic != "siaprapat/v1/kalbar/r2/schedule" {
		t.Fatalf("after r2's session: %+v", got)
	}
	// Cancelled: the room learns it has none.
	if err := store.Delete(s.ID); err != nil {
		t.Fatal(err)
	}
	a.Sync()
	if got := pub.take(); len(got) != 1 || got[0].topic != "siaprapat/v1/kalbar/r1/schedule" || len(got[0].schedule.Sessions) != 0 {
		t.Fatalf("after the cancellation: %+v", got)
	}
	a.Sync()
	if got := pub.take(); len(got) != 0 {
		t.Fatalf("an empty schedule published twice: %+v", got)
	}
}

func TestAnnouncer_SessionsEnterTheHorizonAndLeaveAfterTheLookback(t *testing.T) {
	a, store, pub, c := setup(t, Options{Horizon: 24 * time.Hour, Lookback: time.Hour})
	put(t, store, "kalbar", "r1", "Besok", t0.Add(25*time.Hour), t0.Add(26*time.Hour))
	a.Sync()
	if got := pub.take(); len(got) != 0 {
		t.Fatalf("a session beyond the horizon published: %+v", got)
	}
	c.now = t0.Add(2 * time.Hour) // now 01:00 before it
	a.Sync()
	if got := pub.take(); len(got) != 1 || len(got[0].schedule.Sessions) != 1 {
		t.Fatalf("entering the horizon: %+v", got)
	}
	c.now = t0.Add(26*time.Hour + 30*time.Minute) // ended 30 min ago: still listed, for the agent's margin
	a.Sync()
	if got := pub.take(); len(got) != 0 {
		t.Fatalf("within the lookback: %+v", got)
	}
	c.now = t0.Add(27*time.Hour + time.Second)
	a.Sync()
	if got := pub.take(); len(got) != 1 || len(got[0].schedule.Sessions) != 0 {
		t.Fatalf("past the lookback: %+v", got)
	}
}

func TestAnnouncer_ShardPublishesOnlyItsSites(t *testing.T) {
	a, store, pub, _ := setup(t, Options{Owns: func(site string) bool { return site == "kalbar" }})
	put(t, store, "kalbar", "r1", "Ya", t0.Add(time.Hour), t0.Add(2*time.Hour))
	put(t, store, "jatim", "r1", "Tidak", t0.Add(time.Hour), t0.Add(2*time.Hour))
	a.Sync(Room{"jatim", "r2"})
	if got := pub.take(); len(got) != 1 || got[0].topic != "siaprapat/v1/kalbar/r1/schedule" {
		t.Fatalf("a shard owning kalbar published %+v", got)
	}
}

func TestAnnouncer_FailedPublicationIsRetried(t *testing.T) {
	a, store, pub, _ := setup(t, Options{})
	put(t, store, "kalbar", "r1", "Rapat", t0.Add(time.Hour), t0.Add(2*time.Hour))
	pub.fail = errors.New("broker away")
	a.Sync(Room{"jatim", "r9"})
	pub.fail = nil
	a.Sync()
	got := pub.take()
	if len(got) != 2 {
		t.Fatalf("after the broker came back: %d messages, want both rooms again: %+v", len(got), got)
	}
}

// lockedPublisher is publisher for a test where Run publishes on its own
// goroutine.
type lockedPublisher struct {
	mu sync.Mutex
	publisher
}

func (p *lockedPublisher) Publish(topic string, payload []byte, retained bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.publisher.Publish(topic, payload, retained)
}

func (p *lockedPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

// running runs an announcer on its own goroutine over a new store, told of
// the store's changes, until the test ends.
func running(t *testing.T, o Options) (*sessions.Store, *lockedPublisher) {
	t.Helper()
	store, err := sessions.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pub := &lockedPublisher{}
	c := &clock{now: t0}
	o.Changes, o.Now = store.Changes(), c.Now
	a := New(store, pub, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; store.Close() })
	return store, pub
}

// TestAnnouncer_AChangeIsPublishedAtOnce: a meeting made a minute ahead
// reaches its room at once, not at the next reading of the store.
func TestAnnouncer_AChangeIsPublishedAtOnce(t *testing.T) {
	store, pub := running(t, Options{Interval: time.Hour})
	if _, err := store.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(time.Minute), End: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for pub.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the new session's schedule was not published within 5 s (the store is read every hour here)")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAnnouncer_ABurstOfChangesIsReadAFewTimes: sessions created one after
// another (a scheduler filling a week) are read at most once a ChangeGap,
// not once each, and the last reading has them all.
func TestAnnouncer_ABurstOfChangesIsReadAFewTimes(t *testing.T) {
	const gap = 500 * time.Millisecond
	store, pub := running(t, Options{Interval: time.Hour, ChangeGap: gap})
	const n = 30
	began := time.Now()
	for i := range n {
		start := t0.Add(time.Duration(i+1) * time.Hour / 4)
		if _, err := store.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: start, End: start.Add(10 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(began)
	last := func() int {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		if len(pub.msgs) == 0 {
			return 0
		}
		return len(pub.msgs[len(pub.msgs)-1].schedule.Sessions)
	}
	deadline := time.Now().Add(10 * time.Second)
	for last() != n {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s the room's last schedule has %d sessions, want %d", last(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// One reading at the first change, then at most one a gap while the
	// puts went on, and one after them.
	if most := 2 + int(took/gap); pub.count() > most {
		t.Errorf("%d schedules published for %d sessions created in %v; want at most %d (one a %v)", pub.count(), n, took.Round(time.Millisecond), most, gap)
	}
	t.Logf("%d sessions created in %v: %d schedules published", n, took.Round(time.Millisecond), pub.count())
}
