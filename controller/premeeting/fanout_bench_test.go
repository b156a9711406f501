package premeeting

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// brokerPub stands for the controller's MQTT session: a QoS 1 publish
// returns once the broker's PUBACK is back, after delay.
type brokerPub struct {
	delay time.Duration
	sent  atomic.Int64
}

func (p *brokerPub) Publish(string, []byte) error {
	time.Sleep(p.delay)
	p.sent.Add(1)
	return nil
}

// storeOf is a session store holding list, closed when the benchmark ends.
func storeOf(b *testing.B, list []sessions.Session) *sessions.Store {
	b.Helper()
	st, err := sessions.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.ReplaceSource("bench", list); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkFanOut measures one planner step in which every room's
// pre-meeting check falls due at once: the time until the last command has
// been acknowledged by the (simulated) broker.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 5000, 10000, 50000} {
		b.Run(fmt.Sprintf("rooms=%d", n), func(b *testing.B) {
			f := fleet.New(fleet.Options{Freshness: time.Hour, Now: func() time.Time { return t0 }})
			list := make([]sessions.Session, n)
			for i := range list {
				room := fmt.Sprintf("r%05d", i)
				f.ApplyStatus("s", room, wire.StatusOnline, t0)
				list[i] = sessions.Session{ID: fmt.Sprintf("sess%05d", i), Site: "s", Room: room, Title: "Rapat",
					Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)}
			}
			st := storeOf(b, list)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				pub := &brokerPub{delay: 100 * time.Microsecond}
				d, err := commands.New(pub, f, prometheus.NewRegistry(), nil)
				if err != nil {
					b.Fatal(err)
				}
				p := New(Options{LeadTimes: []time.Duration{10 * time.Minute}, CheckTimeout: 10 * time.Second}, st, f, d, nil)
				b.StartTimer()
				p.Step(context.Background(), t0)
				b.StopTimer()
				if got := pub.sent.Load(); got != int64(n) {
					b.Fatalf("%d commands sent, want %d", got, n)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkStep is one planner step when nothing falls due: a session in
// every room inside its alert window (the seconds between a fan-out's
// commands and its results, every second of a busy morning), with the
// simulator's reports (most rooms ready; its profiles make a tenth fail)
// or none yet (every room not ready).
func BenchmarkStep(b *testing.B) {
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 50000} {
		for _, ready := range []bool{true, false} {
			b.Run(fmt.Sprintf("rooms=%d/reports=%v", n, ready), func(b *testing.B) {
				f := fleet.New(fleet.Options{Freshness: time.Hour, Now: func() time.Time { return t0 }})
				list := make([]sessions.Session, n)
				for i := range list {
					r := fleetsim.NewRoom(i, 30, 1, std, "bench").Run(context.Background())
					r.MeasuredAt = t0.Add(-time.Minute)
					f.ApplyStatus(r.Site, r.Room, wire.StatusOnline, t0)
					if ready {
						f.ApplyReport(r, t0)
					}
					list[i] = sessions.Session{ID: fmt.Sprintf("sess%05d", i), Site: r.Site, Room: r.Room, Title: "Rapat",
						Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)}
				}
				st := storeOf(b, list)
				d, err := commands.New(&brokerPub{}, f, prometheus.NewRegistry(), nil)
				if err != nil {
					b.Fatal(err)
				}
				am, err := alerts.New(alerts.Options{Now: func() time.Time { return t0 }}, prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				p := New(Options{LeadTimes: []time.Duration{10 * time.Minute}, CheckTimeout: 10 * time.Second}, st, f, d, am)
				p.Step(context.Background(), t0) // the fan-out: every check sent
				if got := len(am.Firing()); (ready && got > n/5) || (!ready && got != n) {
					b.Fatalf("%d alerts firing of %d rooms (reports: %v)", got, n, ready)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					p.Step(context.Background(), t0.Add(time.Second))
				}
			})
		}
	}
}
