package history

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// simPayloads returns n encoded reports for each of rooms simulated rooms
// (the fleet simulator's realistic mix of ready, degraded, not ready and
// flaky PCs), a minute apart from t0 on, as agents send them.
func simPayloads(tb testing.TB, rooms, n int) [][]byte {
	tb.Helper()
	std, err := standard.Default()
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	sims := make([]*fleetsim.Room, rooms)
	for i := range sims {
		sims[i] = fleetsim.NewRoom(i, 30, 1, std, "v1.4.2")
	}
	for j := range n {
		for _, r := range sims {
			rep := r.Run(context.Background())
			rep.MeasuredAt = t0.Add(time.Duration(j) * time.Minute)
			p, err := rep.Encode()
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkHistory_DiskPerReport is the history's size on disk over the
// reports it holds, in steady state: 40 simulated rooms send 300 reports
// each and the history keeps the newest 240 of each (so pages have been
// freed and reused, as in a controller that has run for days).
// disk-B/report counts the pages the file needs (bbolt's high-water mark:
// free pages inside it included); file-B/report the file, which bbolt
// makes a power of two up to 16 MiB and grows 16 MiB at a time past it, so
// that at a controller's scale the two agree.
func BenchmarkHistory_DiskPerReport(b *testing.B) {
	const rooms, sent, kept = 40, 300, 240
	payloads := simPayloads(b, rooms, sent)
	reps := make([]*wire.Report, len(payloads))
	var raw int
	for i, p := range payloads {
		var err error
		if reps[i], err = wire.Decode(p); err != nil {
			b.Fatal(err)
		}
		raw += len(p)
	}
	for b.Loop() {
		dir := b.TempDir()
		now := t0.Add(sent * time.Minute)
		h, err := Open(dir, Options{MaxPerRoom: kept, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		for i, p := range payloads {
			if _, err := h.AddEncoded(reps[i], p); err != nil {
				b.Fatal(err)
			}
			if i%rooms == rooms-1 { // a flush a minute, each room's report in it
				if err := h.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		var pages int64
		if err := h.db.View(func(tx *bolt.Tx) error { pages = tx.Size(); return nil }); err != nil {
			b.Fatal(err)
		}
		if err := h.Close(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(pages)/(rooms*kept), "disk-B/report")
		fi, err := os.Stat(filepath.Join(dir, "history.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fi.Size())/(rooms*kept), "file-B/report")
	}
	b.ReportMetric(float64(raw)/float64(len(payloads)), "json-B/report")
}

// BenchmarkHistory_AddEncoded is Add as ingest calls it, with the JSON of
// a simulated room's report as it came off the wire: the caller's cost
// (the duplicate look-up and the queueing). The writes are flushed every
// 1,000 reports outside the timer, so that a slow disk neither fills the
// backlog nor hides that cost behind an fsync.
func BenchmarkHistory_AddEncoded(b *testing.B) {
	payloads := simPayloads(b, 100, 10)
	reps := make([]*wire.Report, len(payloads))
	for i, p := range payloads {
		var err error
		if reps[i], err = wire.Decode(p); err != nil {
			b.Fatal(err)
		}
	}
	h, err := Open(b.TempDir(), Options{MaxPerRoom: 100, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(payloads[0])))
	for i := 0; b.Loop(); i++ {
		r := *reps[i%len(reps)]
		r.ID = wire.NewID() // each one new, not a duplicate turned away
		if _, err := h.AddEncoded(&r, payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
		flushUntimed(b, h, i)
	}
}

func flushUntimed(b *testing.B, h *History, i int) {
	if i%1000 != 999 {
		return
	}
	b.StopTimer()
	if err := h.Flush(); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// TestHistory_ByteBudgetRemovesTheOldestOfEveryRoom: past MaxBytes, the
// history removes the oldest reports, the same minutes of every room, and
// keeps the newest; its pages in use end within the budget, and the
// reports removed for it are counted.
func TestHistory_ByteBudgetRemovesTheOldestOfEveryRoom(t *testing.T) {
	const rooms, n, budget = 5, 200, 256 << 10
	payloads := simPayloads(t, rooms, n)
	now := t0.Add(n * time.Minute)
	h := open(t, t.TempDir(), Options{MaxBytes: budget, Now: func() time.Time { return now }})
	defer h.Close()
	for i, p := range payloads {
		r, err := wire.Decode(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.AddEncoded(r, p); err != nil {
			t.Fatal(err)
		}
		if i%rooms == rooms-1 {
			if err := h.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h.Bytes() > budget || h.Bytes() == 0 {
		t.Errorf("%d bytes in use, budget %d", h.Bytes(), budget)
	}
	if h.BudgetRemoved() == 0 {
		t.Error("no report counted as removed for the budget")
	}
	var oldest []time.Time
	var kept int64
	for i := range rooms {
		site, room := fleetsim.Name(i, 30)
		page, err := h.List(site, room, Query{Limit: 1})
		if err != nil || len(page.Reports) != 1 {
			t.Fatalf("%s/%s: %v, %v", site, room, page.Reports, err)
		}
		oldest = append(oldest, page.Reports[0].MeasuredAt)
		latest, err := h.Latest(site, room, 1)
		if err != nil || len(latest) != 1 || !latest[0].MeasuredAt.Equal(t0.Add((n-1)*time.Minute)) {
			t.Errorf("%s/%s: the newest report is gone: %v %v", site, room, latest, err)
		}
		kept += int64(h.Len(site, room))
	}
	for _, o := range oldest[1:] {
		if !o.Equal(oldest[0]) {
			t.Errorf("rooms keep reports since %v: not the same minutes of every room", oldest)
			break
		}
	}
	if kept+h.BudgetRemoved() != rooms*n {
		t.Errorf("%d kept and %d removed of %d", kept, h.BudgetRemoved(), rooms*n)
	}
	t.Logf("%d bytes in use for %d reports (%d removed); oldest kept %v", h.Bytes(), kept, h.BudgetRemoved(), oldest[0])
}

func TestHistory_MetricsLint(t *testing.T) {
	h := open(t, t.TempDir(), Options{MaxBytes: 1 << 30})
	defer h.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h.Collectors()...)
	want := `# HELP siaprapat_history_budget_removed_reports_total Reports removed from the report history to keep it within its byte budget (--history-max-bytes), before their age or count bound.
# TYPE siaprapat_history_budget_removed_reports_total counter
siaprapat_history_budget_removed_reports_total 0
# HELP siaprapat_history_max_bytes The report history's byte budget (--history-max-bytes): past it, the oldest reports of every room leave first.
# TYPE siaprapat_history_max_bytes gauge
siaprapat_history_max_bytes 1.073741824e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "siaprapat_history_max_bytes", "siaprapat_history_budget_removed_reports_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if h.Bytes() <= 0 {
		t.Errorf("siaprapat_history_bytes = %d at open, want the empty file's pages", h.Bytes())
	}
}

// TestHistory_ReadsStoresWrittenBeforeCompression: a history.db of the
// layout before compression (JSON values, every id in the id index with
// the whole reports key) reads, deduplicates and prunes as before, beside
// reports stored compressed since.
func TestHistory_ReadsStoresWrittenBeforeCompression(t *testing.T) {
	dir := t.TempDir()
	h := open(t, dir, Options{})
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "history.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, skewed := rep("s", "r", 1), rep("s", "r", 2)
	skewed.MeasuredAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		for _, r := range []struct {
			rep *wire.Report
			at  time.Time
		}{{old, old.MeasuredAt}, {skewed, t0}} {
			v, err := r.rep.Encode()
			if err != nil {
				return err
			}
			if r.rep == skewed {
				v = append(binary.BigEndian.AppendUint64([]byte{valueSkewed}, uint64(t0.UnixNano())), v...)
			}
			k := reportKey(r.rep.Site, r.rep.Room, r.at, r.rep.ID)
			if err := tx.Bucket(bucketReports).Put(k, v); err != nil {
				return err
			}
			if err := tx.Bucket(bucketIDs).Put(idKey(r.rep.Site, r.rep.Room, r.rep.ID), k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	h = open(t, dir, Options{MaxPerRoom: 2})
	defer h.Close()
	for _, r := range []*wire.Report{old, skewed} {
		if added, err := h.Add(r); added || err != nil {
			t.Errorf("report %s stored before added again: %v %v", r.ID, added, err)
		}
	}
	// The skewed report is stored under its arrival, t0: the oldest.
	if got := fmt.Sprint(ids(t, h, "s", "r", time.Time{})); got != "[0002 0001]" {
		t.Errorf("history = %s, want the two stored before", got)
	}
	// A third report: MaxPerRoom 2 removes the oldest, with its id.
	if added, err := h.Add(rep("s", "r", 3)); !added || err != nil {
		t.Fatalf("add: %v %v", added, err)
	}
	if got := fmt.Sprint(ids(t, h, "s", "r", time.Time{})); got != "[0001 0003]" {
		t.Errorf("history = %s, want 1 and 3", got)
	}
	if added, _ := h.Add(skewed); !added {
		t.Error("a removed report's id is still in the id index")
	}
}
