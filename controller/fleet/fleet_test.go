package fleet

import (
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/wire"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func rep(id string, at time.Time, v wire.RoomVerdict) *wire.Report {
	return &wire.Report{Schema: wire.Schema, ID: id, Site: "s", Room: "r", MeasuredAt: at, Verdict: v}
}

func newFleet() (*Fleet, *clock) {
	c := &clock{t: t0}
	return New(Options{Freshness: time.Minute, Now: c.now}), c
}

func state(t *testing.T, f *Fleet) (State, time.Time) {
	t.Helper()
	v, ok := f.Get("s", "r")
	if !ok {
		t.Fatal("room not found")
	}
	return v.State, v.Since
}

func TestFleet_StateFollowsReportsStatusAndTime(t *testing.T) {
	f, c := newFleet()
	f.ApplyStatus("s", "r", wire.StatusOnline, c.t)
	if s, _ := state(t, f); s != Unknown {
		t.Fatalf("online without a report: %s, want unknown", s)
	}
	c.advance(time.Second)
	f.ApplyReport(rep("a", c.t, wire.Ready), c.t)
	if s, since := state(t, f); s != Ready || !since.Equal(c.t) {
		t.Fatalf("after a ready report: %s since %v", s, since)
	}
	readySince := c.t
	c.advance(30 * time.Second)
	f.ApplyReport(rep("b", c.t, wire.Ready), c.t)
	if s, since := state(t, f); s != Ready || !since.Equal(readySince) {
		t.Fatalf("a second ready report moved since: %s since %v", s, since)
	}
	c.advance(10 * time.Second)
	f.ApplyReport(rep("c", c.t, wire.Degraded), c.t)
	if s, _ := state(t, f); s != Degraded {
		t.Fatalf("after a degraded report: %s", s)
	}
	lastAt := c.t
	c.advance(61 * time.Second)
	if s, since := state(t, f); s != Unknown || !since.Equal(lastAt.Add(time.Minute)) {
		t.Fatalf("after the freshness window: %s since %v", s, since)
	}
	f.ApplyReport(rep("d", c.t, wire.Degraded), c.t)
	if s, since := state(t, f); s != Degraded || !since.Equal(c.t) {
		t.Fatalf("a fresh report after unknown: %s since %v, want degraded since now", s, since)
	}
	c.advance(time.Second)
	f.ApplyStatus("s", "r", wire.StatusOffline, c.t)
	if s, since := state(t, f); s != Offline || !since.Equal(c.t) {
		t.Fatalf("after the last will: %s since %v", s, since)
	}
	c.advance(time.Second)
	f.ApplyStatus("s", "r", wire.StatusOnline, c.t)
	if s, since := state(t, f); s != Degraded || !since.Equal(c.t) {
		t.Fatalf("back online with a fresh report: %s since %v", s, since)
	}
}

func TestFleet_DuplicateAndOlderReportsDoNotChangeState(t *testing.T) {
	f, c := newFleet()
	f.ApplyReport(rep("a", c.t, wire.Ready), c.t)
	if got := f.ApplyReport(rep("a", c.t, wire.Ready), c.t); got != Duplicate {
		t.Errorf("same id: %v, want Duplicate", got)
	}
	if got := f.ApplyReport(rep("old", c.t.Add(-time.Minute), wire.NotReady), c.t); got != Older {
		t.Errorf("older report: %v, want Older", got)
	}
	if s, _ := state(t, f); s != Ready {
		t.Errorf("state = %s, want ready", s)
	}
}

func TestFleet_FastAgentClockDoesNotKeepRoomFresh(t *testing.T) {
	f, c := newFleet()
	f.ApplyReport(rep("a", c.t.Add(time.Hour), wire.Ready), c.t) // agent clock an hour ahead
	c.advance(61 * time.Second)
	if s, _ := state(t, f); s != Unknown {
		t.Errorf("state = %s, want unknown: freshness counts from arrival when the agent's clock is ahead", s)
	}
}

func TestFleet_ReopenKeepsRooms(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	opts := Options{Freshness: time.Hour, Now: c.now}
	f, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ApplyStatus("s", "r", wire.StatusOnline, c.t)
	f.ApplyReport(rep("a", c.t, wire.NotReady), c.t)
	f.ApplyStatus("s", "other", wire.StatusOffline, c.t)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Len() != 2 {
		t.Fatalf("%d rooms after reopening, want 2", g.Len())
	}
	if s, _ := state(t, g); s != NotReady {
		t.Errorf("room s/r = %s after reopening, want not_ready", s)
	}
	if v, _ := g.Get("s", "other"); v.State != Offline {
		t.Errorf("room s/other = %s after reopening, want offline", v.State)
	}
	if v, _ := g.Get("s", "r"); v.Report == nil || v.Report.ID != "a" {
		t.Errorf("report not kept: %+v", v.Report)
	}
}

func TestOpen_LockedStoreSaysSo(t *testing.T) {
	dir := t.TempDir()
	f, err := Open(dir, Options{Freshness: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Open(dir, Options{Freshness: time.Minute}, nil)
	want := "open fleet store " + dir + "/fleet.db: it is locked by another process (is another controller using this --data directory?)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}

func TestFleet_BackOnlineWithStaleReportIsUnknownSinceItCameBack(t *testing.T) {
	f, c := newFleet()
	f.ApplyReport(rep("a", c.t, wire.Ready), c.t)
	c.advance(10 * time.Second)
	f.ApplyStatus("s", "r", wire.StatusOffline, c.t)
	c.advance(10 * time.Minute)
	f.ApplyStatus("s", "r", wire.StatusOnline, c.t)
	if s, since := state(t, f); s != Unknown || !since.Equal(c.t) {
		t.Errorf("%s since %v, want unknown since it came back (%v), not while it was offline", s, since, c.t)
	}
}

func TestFleet_RepeatedStatusKeepsSince(t *testing.T) {
	f, c := newFleet()
	f.ApplyStatus("s", "r", wire.StatusOffline, c.t)
	went := c.t
	c.advance(time.Hour) // a controller restart delivers the retained "offline" again
	if got := f.ApplyStatus("s", "r", wire.StatusOffline, c.t); got != Duplicate {
		t.Errorf("repeated status: %v, want Duplicate", got)
	}
	if s, since := state(t, f); s != Offline || !since.Equal(went) {
		t.Errorf("%s since %v, want offline since %v", s, since, went)
	}
}

func TestFleet_ReportFromTheFutureDoesNotLockTheRoom(t *testing.T) {
	f, c := newFleet()
	f.ApplyReport(rep("future", c.t.Add(24*time.Hour), wire.NotReady), c.t) // clock a day ahead, fixed later by NTP
	c.advance(10 * time.Second)
	if got := f.ApplyReport(rep("now", c.t, wire.Ready), c.t); got != Stored {
		t.Fatalf("a correct report after one from the future: %v, want Stored", got)
	}
	if s, _ := state(t, f); s != Ready {
		t.Errorf("state %s, want ready", s)
	}
}

func TestFleet_RoomLimit(t *testing.T) {
	c := &clock{t: t0}
	f := New(Options{Freshness: time.Minute, MaxRooms: 1, Now: c.now})
	if got := f.ApplyStatus("s", "a", wire.StatusOnline, c.t); got != Stored {
		t.Fatalf("first room: %v", got)
	}
	if got := f.ApplyStatus("s", "b", wire.StatusOnline, c.t); got != Refused {
		t.Errorf("second room: %v, want Refused", got)
	}
	r := rep("x", c.t, wire.Ready)
	r.Room = "b"
	if got := f.ApplyReport(r, c.t); got != Refused || f.Len() != 1 {
		t.Errorf("report for a new room past the limit: %v, %d rooms", got, f.Len())
	}
}

// TestFleet_ReportAsReceivedIsStoredAndReadsBack: the store writes a
// report's JSON as it came (spacing, fields this build does not know) and
// reads it back as the report; a room changed later without a new report
// is written again without it.
func TestFleet_ReportAsReceivedIsStoredAndReadsBack(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	opts := Options{Freshness: time.Hour, Now: c.now}
	f, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	received := []byte(`{ "schema": "siaprapat.report/v1", "id": "a", "site": "s", "room": "r",
		"measured_at": "2026-11-23T08:00:00Z", "verdict": "degraded", "checks": [], "from_a_later_agent": {"x": 1} }`)
	rep, err := wire.Decode(received)
	if err != nil {
		t.Fatal(err)
	}
	f.ApplyEncoded(rep, received, c.t)
	f.ApplyReport(&wire.Report{Schema: wire.Schema, ID: "b", Site: "s", Room: "q", MeasuredAt: t0, Verdict: wire.Ready}, c.t)
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	f.ApplyStatus("s", "r", wire.StatusOffline, c.t.Add(time.Second)) // rewritten without its encoding
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for room, want := range map[string]string{"r": "a", "q": "b"} {
		v, ok := g.Get("s", room)
		if !ok || v.Report == nil || v.Report.ID != want || !v.Report.MeasuredAt.Equal(t0) {
			t.Errorf("room s/%s after reopening: %+v", room, v.Room)
		}
	}
	if v, _ := g.Get("s", "r"); v.State != Offline || v.Report.Verdict != wire.Degraded {
		t.Errorf("room s/r after reopening: %s with a %s report, want offline with the degraded one", v.State, v.Report.Verdict)
	}
}

func TestFleet_RevokedRoomIsRememberedUntilItsAgentSpeaksAgain(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: t0}
	opts := Options{Freshness: time.Hour, Now: c.now}
	f, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.ApplyReport(rep("a", c.t, wire.Ready), c.t)
	if !f.Revoke("s", "r", t0.Add(time.Minute)) {
		t.Fatal("a known room was not known")
	}
	if _, ok := f.Get("s", "r"); ok || !f.RemovedAt("s", "r").Equal(t0.Add(time.Minute)) {
		t.Fatalf("revoked room: still listed %v, removed at %v", ok, f.RemovedAt("s", "r"))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if at := g.RemovedAt("s", "r"); !at.Equal(t0.Add(time.Minute)) || g.Len() != 0 {
		t.Fatalf("after reopening: removed at %v, %d rooms", at, g.Len())
	}
	g.ApplyStatus("s", "r", wire.StatusOnline, c.t) // enrolled again, and back
	if !g.RemovedAt("s", "r").IsZero() {
		t.Error("a room whose agent is back is still removed")
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if at := h.RemovedAt("s", "r"); !at.IsZero() || h.Len() != 1 {
		t.Errorf("after reopening again: removed at %v, %d rooms", at, h.Len())
	}
}

func TestRoom_ReportStateIgnoresTheAgentsStatus(t *testing.T) {
	f, c := newFleet()
	f.ApplyReport(rep("a", c.t, wire.Degraded), c.t)
	f.ApplyStatus("s", "r", wire.StatusOffline, c.t.Add(time.Second))
	v, _ := f.Get("s", "r")
	if st, _ := v.ReportState(c.t, time.Minute); v.State != Offline || st != Degraded {
		t.Errorf("state %s, report state %s; want offline and degraded", v.State, st)
	}
}

func TestCatalogue_EachCheckHasAtMostMaxCatalogued(t *testing.T) {
	for check, names := range catalogue {
		if len(names) > maxCatalogued {
			t.Errorf("check %s has %d catalogued measurements; Check.present holds %d", check, len(names), maxCatalogued)
		}
	}
}
