package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
)

// TestSimulate_FleetShowsEveryState runs the fleet simulator against the
// embedded broker: the controller must see ready, degraded, not ready and
// (rooms dropping off) offline rooms.
func TestSimulate_FleetShowsEveryState(t *testing.T) {
	c := startController(t, t.TempDir(), "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *fleetsim.Stats, 1)
	go func() {
		stats, err := fleetsim.Run(ctx, fleetsim.Options{
			Broker: c.BrokerURL(), Rooms: 60, Sites: 4, Interval: 300 * time.Millisecond,
			KeepAlive: 2 * time.Second, Seed: 7, Standard: fastStandard(t),
		})
		if err != nil {
			t.Error(err)
		}
		done <- stats
	}()
	defer func() {
		cancel()
		if s := <-done; s != nil {
			t.Logf("simulator: %d published, %d failed, %d drops", s.Published.Load(), s.Failed.Load(), s.Drops.Load())
		}
	}()

	deadline := time.Now().Add(20 * time.Second)
	for {
		counts := map[string]int{}
		mfs, _ := scrape(t, c)
		for _, m := range mfs["siaprapat_room_state"].GetMetric() {
			if m.GetGauge().GetValue() == 1 {
				for _, l := range m.GetLabel() {
					if l.GetName() == "state" {
						counts[l.GetValue()]++
					}
				}
			}
		}
		if counts["ready"] > 0 && counts["degraded"] > 0 && counts["not_ready"] > 0 && counts["offline"] > 0 {
			t.Logf("rooms by state: %v", counts)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rooms by state after 20 s: %v; want every one of ready, degraded, not_ready, offline", counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
