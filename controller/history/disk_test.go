package history

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

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
