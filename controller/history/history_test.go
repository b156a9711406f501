package history

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/wire"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func rep(site, room string, i int) *wire.Report {
	return &wire.Report{
		Schema: wire.Schema, ID: fmt.Sprintf("%s%s%030x", site, room, i), Site: site, Room: room,
		MeasuredAt: t0.Add(time.Duration(i) * time.Minute), Verdict: wire.Ready,
	}
}

// open opens a history whose clock stands at t0 unless opts gives one:
// the reports are measured around t0, whatever the day the test runs.
func open(t *testing.T, dir string, opts Options) *History {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	h, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func ids(t *testing.T, h *History, site, room string, since time.Time) []string {
	t.Helper()
	page, err := h.List(site, room, Query{Since: since})
	if err != nil {
		t.Fatal(err)
	}
	reps := page.Reports
	var out []string
	for _, r := range reps {
		out = append(out, r.ID[len(r.ID)-4:])
	}
	return out
}

func TestHistory_StoresEachIDOnceInMeasuredOrder(t *testing.T) {
	dir := t.TempDir()
	h := open(t, dir, Options{})
	// Out of order, as a spool replay after newer reports would arrive.
	for _, i := range []int{3, 1, 2, 1, 3} {
		if _, err := h.Add(rep("s", "r", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	// Duplicates of stored reports, after the flush.
	for _, i := range []int{2, 3} {
		added, err := h.Add(rep("s", "r", i))
		if err != nil || added {
			t.Fatalf("report %d added again (err %v)", i, err)
		}
	}
	if got := fmt.Sprint(ids(t, h, "s", "r", time.Time{})); got != "[0001 0002 0003]" {
		t.Errorf("history = %s, want reports 1, 2, 3 once each, oldest first", got)
	}
	if got := fmt.Sprint(ids(t, h, "s", "r", t0.Add(2*time.Minute))); got != "[0002 0003]" {
		t.Errorf("since minute 2 = %s", got)
	}
	if got := ids(t, h, "s", "other", time.Time{}); len(got) != 0 {
		t.Errorf("another room's history = %v", got)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened: still there, still deduplicated.
	h = open(t, dir, Options{})
	defer h.Close()
	if added, _ := h.Add(rep("s", "r", 1)); added {
		t.Error("report 1 added again after a restart")
	}
	if n := h.Len("s", "r"); n != 3 {
		t.Errorf("Len = %d after restart, want 3", n)
	}
}

func TestHistory_KeepsAtMostMaxPerRoom(t *testing.T) {
	h := open(t, t.TempDir(), Options{MaxPerRoom: 3})
	defer h.Close()
	for i := 1; i <= 5; i++ {
		h.Add(rep("s", "r", i))
		h.Add(rep("s", "q", i))
	}
	if got := fmt.Sprint(ids(t, h, "s", "r", time.Time{})); got != "[0003 0004 0005]" {
		t.Errorf("history = %s, want the newest 3", got)
	}
	if n := h.Len("s", "q"); n != 3 {
		t.Errorf("other room keeps %d, want 3", n)
	}
	// A removed report's id is free again (it is past the bound anyway).
	if added, _ := h.Add(rep("s", "r", 1)); !added {
		t.Error("a report removed by the bound was refused as a duplicate")
	}
}

func TestHistory_PruneRemovesReportsPastMaxAge(t *testing.T) {
	now := t0
	h := open(t, t.TempDir(), Options{MaxAge: 5 * time.Minute, Now: func() time.Time { return now }})
	defer h.Close()
	for i := 1; i <= 9; i++ {
		now = t0.Add(time.Duration(i) * time.Minute) // each arrives as it is measured
		h.Add(rep("a", "r", i))
		h.Add(rep("b", "r", i))
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(10 * time.Minute)
	if err := h.Prune(); err != nil {
		t.Fatal(err)
	}
	for _, site := range []string{"a", "b"} {
		if got := fmt.Sprint(ids(t, h, site, "r", time.Time{})); got != "[0005 0006 0007 0008 0009]" {
			t.Errorf("site %s after prune = %s, want minutes 5 to 9", site, got)
		}
		if n := h.Len(site, "r"); n != 5 {
			t.Errorf("site %s Len = %d, want 5", site, n)
		}
	}
}

// TestHistory_PagesNeitherSkipNorRepeat follows the cursor through reports
// that share one measured_at (a burst replayed from a spool, or a PC that
// stamps them alike): every report once, in order.
func TestHistory_PagesNeitherSkipNorRepeat(t *testing.T) {
	h := open(t, t.TempDir(), Options{Now: func() time.Time { return t0.Add(10 * time.Minute) }})
	defer h.Close()
	var want []string
	for i := 1; i <= 7; i++ {
		r := rep("s", "r", i)
		if i >= 2 && i <= 6 {
			r.MeasuredAt = t0.Add(2 * time.Minute) // five share a measured_at
		}
		h.Add(r)
		want = append(want, r.ID)
	}
	slices.Sort(want[1:6]) // reports sharing a time come in id order
	var got []string
	q := Query{Limit: 2}
	for pages := 0; ; pages++ {
		page, err := h.List("s", "r", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Reports {
			got = append(got, e.ID)
		}
		if page.Next == "" {
			if pages != 3 {
				t.Errorf("%d pages of 2 for 7 reports, want 4", pages+1)
			}
			break
		}
		q.After = page.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave\n%v\nwant\n%v", got, want)
	}
	if _, err := h.List("s", "r", Query{After: "not a cursor!"}); !errors.Is(err, ErrCursor) {
		t.Errorf("a bad cursor: %v", err)
	}
}

// TestHistory_ImplausibleTimesAreKeptUnderTheirArrival: a report measured
// before the history's age bound (a dead clock battery) or so close to it
// that it would be pruned within MinKeep, or after 2262, is stored under
// the time it arrived, with its skew, and neither the next prunes nor a
// since= query loses it.
func TestHistory_ImplausibleTimesAreKeptUnderTheirArrival(t *testing.T) {
	now := t0
	h := open(t, t.TempDir(), Options{MaxAge: 7 * 24 * time.Hour, Now: func() time.Time { return now }})
	defer h.Close()
	old, future, fine, late := rep("s", "r", 1), rep("s", "r", 2), rep("s", "r", 3), rep("s", "r", 4)
	old.MeasuredAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	future.MeasuredAt = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	fine.MeasuredAt = t0.Add(-time.Minute)
	late.MeasuredAt = t0.Add(-7*24*time.Hour + 20*time.Second) // inside the bound by 20 s: pruned a minute after it came, before
	for _, r := range []*wire.Report{old, future, fine, late} {
		if added, err := h.Add(r); !added || err != nil {
			t.Fatalf("add %s: %v %v", r.ID, added, err)
		}
	}
	now = t0.Add(MinKeep - time.Minute)
	if err := h.Prune(); err != nil {
		t.Fatal(err)
	}
	page, err := h.List("s", "r", Query{Since: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Reports) != 4 {
		t.Fatalf("%d reports after a prune, want 4", len(page.Reports))
	}
	byID := map[string]Entry{}
	for _, e := range page.Reports {
		byID[e.ID] = e
	}
	for _, r := range []*wire.Report{old, future, late} {
		e := byID[r.ID]
		if e.ReceivedAt == nil || !e.ReceivedAt.Equal(t0) || e.ClockSkewSeconds == nil || *e.ClockSkewSeconds != r.MeasuredAt.Sub(t0).Seconds() ||
			!e.MeasuredAt.Equal(r.MeasuredAt) {
			t.Errorf("report measured %v: %+v", r.MeasuredAt, e)
		}
	}
	if e := byID[fine.ID]; e.ReceivedAt != nil || e.ClockSkewSeconds != nil {
		t.Errorf("a plausible report is marked: %+v", e)
	}
	now = t0.Add(7*24*time.Hour + time.Minute) // a week after they arrived
	if err := h.Prune(); err != nil {
		t.Fatal(err)
	}
	if n := len(ids(t, h, "s", "r", time.Time{})); n != 0 {
		t.Errorf("%d reports a week after they arrived, want 0", n)
	}
}

// BenchmarkHistory_Add adds reports measured a minute apart, as the
// history's clock runs beside them (without its own clock the reports
// would be a week old on any day after 2026-11-30 and take the path of
// skewed reports instead).
func BenchmarkHistory_Add(b *testing.B) {
	var now atomic.Int64 // read by the history's own goroutine too
	h, err := Open(b.TempDir(), Options{MaxPerRoom: 100, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := rep("s", fmt.Sprint("r", i%1000), i)
		now.Store(r.MeasuredAt.UnixNano())
		if _, err := h.Add(r); err != nil {
			b.Fatal(err)
		}
		flushUntimed(b, h, i)
	}
}

// TestHistory_StoresReportAsReceived: AddEncoded keeps the JSON it is
// given, which List reads back as the report.
func TestHistory_StoresReportAsReceived(t *testing.T) {
	h := open(t, t.TempDir(), Options{Now: func() time.Time { return t0 }})
	defer h.Close()
	r := rep("s", "r", 1)
	r.AgentVersion = "not this one"
	received := []byte(`{"schema":"siaprapat.report/v1","id":"` + r.ID + `","site":"s","room":"r","agent_version":"as received",
		"measured_at":"2026-11-23T08:01:00Z","verdict":"ready","checks":[]}`)
	if added, err := h.AddEncoded(r, received); !added || err != nil {
		t.Fatalf("AddEncoded = %v, %v", added, err)
	}
	page, err := h.List("s", "r", Query{Since: t0})
	if got := page.Reports; err != nil || len(got) != 1 || got[0].AgentVersion != "as received" || !got[0].MeasuredAt.Equal(r.MeasuredAt) {
		t.Fatalf("List = %+v, %v: want the report as received", got, err)
	}
}

func TestHistory_LatestIsNewestFirstAndOnlyTheRooms(t *testing.T) {
	h := open(t, t.TempDir(), Options{})
	defer h.Close()
	// Neighbouring rooms on both sides of s/r in key order.
	for _, r := range []*wire.Report{rep("s", "q", 9), rep("s", "r", 1), rep("s", "r", 3), rep("s", "r", 2), rep("s", "r2", 8), rep("s", "r", 4)} {
		if _, err := h.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		room string
		n    int
		want string
	}{
		{"r", 2, "[0004 0003]"},
		{"r", 10, "[0004 0003 0002 0001]"},
		{"r2", 10, "[0008]"},
		{"q", 1, "[0009]"},
		{"none", 3, "[]"},
	} {
		reps, err := h.Latest("s", tc.room, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, r := range reps {
			got = append(got, r.ID[len(r.ID)-4:])
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("Latest(s/%s, %d) = %v, want %s", tc.room, tc.n, got, tc.want)
		}
	}
}
