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
// fleet (its newest report as ingest decodes it), the figure that bounds the
// controller's memory at 50,000 rooms.
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
		f := fleet.New(fleet.Options{Freshness: time.Minute})
		for _, p := range payloads {
			rep, err := wire.Decode(p)
			if err != nil {
				b.Fatal(err)
			}
			f.ApplyReport(rep, time.Now())
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perRoom = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(f)
	}
	b.ReportMetric(perRoom, "heap-B/room")
}
