package fleet_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// BenchmarkFleetMemory reports the live heap one room's state takes in the
// fleet, the figure that bounds the controller's memory at 50,000 rooms: a
// fleet with its store, as the controller runs it, that has taken one
// report a room (as ingest hands them over: decoded, and as received) and
// written them.
func BenchmarkFleetMemory(b *testing.B) {
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	const n = 2000
	payloads := make([][]byte, n)
	for i := range payloads {
		rep := fleetsim.NewRoom(i, 30, 1, std, "bench").Run(context.Background())
		if payloads[i], err = rep.Encode(); err != nil {
			b.Fatal(err)
		}
	}
	var perRoom float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f, err := fleet.Open(b.TempDir(), fleet.Options{Freshness: time.Minute}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range payloads {
			rep, err := wire.Decode(p)
			if err != nil {
				b.Fatal(err)
			}
			f.ApplyEncoded(rep, p, time.Now())
		}
		if err := f.Flush(); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.GC() // and bbolt's pooled page buffers (a sync.Pool), which are not the rooms'
		runtime.ReadMemStats(&after)
		perRoom = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(f)
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(perRoom, "heap-B/room")
}
