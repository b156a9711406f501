// Package fleetsim simulates a fleet of rooms: each room is its own MQTT
// session with birth and last will, publishing reports built by the same
// runner, host check and standard as a real agent, from drawn readings of the
// PC, its camera, audio, link and devices. It is the demo fleet for
// dashboards and the load generator for benchmarks.
package fleetsim

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Options configure a simulation.
type Options struct {
	Broker       string
	Rooms, Sites int
	Interval     time.Duration
	KeepAlive    time.Duration
	Seed         uint64
	Standard     *standard.Standard
	AgentVersion string
	Log          *slog.Logger
	// Progress is how often a progress line is logged; 0 means every 10 s.
	Progress time.Duration
}

// Profile is how a simulated room behaves.
type Profile int

const (
	ProfileReady    Profile = iota // healthy PC
	ProfileDegraded                // busy CPU: warnings
	ProfileNotReady                // short of memory or disk: failures
	ProfileFlaky                   // healthy, but drops off the network now and then
)

func (p Profile) String() string {
	return [...]string{"ready", "degraded", "not_ready", "flaky"}[p]
}

// ProfileOf gives room i its profile: about 70 % ready, 15 % degraded,
// 10 % not ready and 5 % dropping off, the mix a province's fleet shows.
func ProfileOf(i int) Profile {
	switch h := (uint64(i)*2654435761 + 7) % 100; {
	case h < 70:
		return ProfileReady
	case h < 85:
		return ProfileDegraded
	case h < 95:
		return ProfileNotReady
	}
	return ProfileFlaky
}

// Name returns room i's site and room names.
func Name(i, sites int) (site, room string) {
	return fmt.Sprintf("site-%02d", i%sites+1), fmt.Sprintf("room-%05d", i+1)
}

// Stats counts what a simulation did.
type Stats struct {
	Connected atomic.Int64
	Published atomic.Int64
	Failed    atomic.Int64
	Drops     atomic.Int64
}

// Run simulates the fleet until the context ends.
func Run(ctx context.Context, opts Options) (*Stats, error) {
	switch {
	case opts.Rooms < 1:
		return nil, fmt.Errorf("--rooms %d: want at least 1", opts.Rooms)
	case opts.Sites < 1 || opts.Sites > opts.Rooms:
		return nil, fmt.Errorf("--sites %d: want 1 to --rooms (%d)", opts.Sites, opts.Rooms)
	case opts.Interval <= 0:
		return nil, fmt.Errorf("--interval %v: must be positive", opts.Interval)
	case opts.Standard == nil:
		return nil, fmt.Errorf("no standard")
	}
	if _, err := wire.BrokerURL(opts.Broker); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Progress <= 0 {
		opts.Progress = 10 * time.Second
	}
	stats := &Stats{}
	var wg sync.WaitGroup
	connecting := make(chan struct{}, 64) // bounds simultaneous connection set-ups
	for i := range opts.Rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			simulateRoom(ctx, opts, i, stats, connecting)
		}()
	}
	go func() {
		t := time.NewTicker(opts.Progress)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				opts.Log.Info("simulating", "rooms", opts.Rooms, "connected", stats.Connected.Load(),
					"published", stats.Published.Load(), "failed", stats.Failed.Load(), "drops", stats.Drops.Load())
			}
		}
	}()
	wg.Wait()
	return stats, nil
}

// Room is simulated room i: its names, its profile, and the runner that
// builds its reports with the checks a real agent runs, from drawn readings.
type Room struct {
	Site, Room string
	Profile    Profile
	Source     *Source
	*runner.Runner
}

// NewRoom returns simulated room i of a fleet spread over sites; the same
// seed gives the same rooms and readings.
func NewRoom(i, sites int, seed uint64, std *standard.Standard, agentVersion string) *Room {
	site, room := Name(i, sites)
	profile := ProfileOf(i)
	src := NewSource(profile, "sim-"+room, seed<<32^uint64(i))
	return &Room{Site: site, Room: room, Profile: profile, Source: src, Runner: &runner.Runner{
		Site: site, Room: room, AgentVersion: agentVersion, Standard: std,
		Checks: []runner.Check{&host.Check{Source: src}, NewMedia(src, seed<<32^uint64(i)^0xabc)},
	}}
}

func simulateRoom(ctx context.Context, opts Options, i int, stats *Stats, connecting chan struct{}) {
	run := NewRoom(i, opts.Sites, opts.Seed, opts.Standard, opts.AgentVersion)
	site, room, profile := run.Site, run.Room, run.Profile
	rng := rand.New(rand.NewPCG(opts.Seed, uint64(i)))
	// Spread the fleet's reports over the interval, as real agents started
	// at different times would be.
	if !sleep(ctx, time.Duration(rng.Int64N(int64(opts.Interval)))) {
		return
	}
	for ctx.Err() == nil {
		// Each room's connects and reconnects would drown the log at a
		// province's scale; the progress line counts them instead.
		l, err := link.Connect(link.Options{Broker: opts.Broker, Site: site, Room: room, KeepAlive: opts.KeepAlive})
		if err != nil {
			opts.Log.Error("cannot simulate room", "site", site, "room", room, "err", err)
			return
		}
		select {
		case connecting <- struct{}{}:
		case <-ctx.Done():
			l.Drop()
			return
		}
		err = l.WaitConnected(ctx)
		<-connecting
		if err != nil {
			l.Drop()
			return
		}
		stats.Connected.Add(1)
		// A flaky room drops off after a few reports; the others stay.
		reports := -1
		if profile == ProfileFlaky {
			reports = 2 + rng.IntN(4)
		}
		for n := 0; reports < 0 || n < reports; n++ {
			if err := l.PublishReport(run.Run(ctx)); err != nil {
				if ctx.Err() != nil {
					break
				}
				stats.Failed.Add(1)
			} else {
				stats.Published.Add(1)
			}
			jitter := time.Duration(rng.Int64N(int64(opts.Interval)/10 + 1))
			if !sleep(ctx, opts.Interval-opts.Interval/20+jitter) {
				break
			}
		}
		stats.Connected.Add(-1)
		if ctx.Err() != nil {
			l.Close()
			return
		}
		// Off the network, as a pulled cable or a power cut would leave it.
		l.Drop()
		stats.Drops.Add(1)
		if !sleep(ctx, time.Duration(2+rng.IntN(3))*opts.Interval) {
			return
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Source draws readings of a simulated room PC for its profile.
type Source struct {
	Profile  Profile
	Hostname string
	rng      *rand.Rand
	mu       sync.Mutex
	boot     time.Time
}

// SetProfile changes how the simulated PC behaves from the next reading on,
// as when a technician fixes (or breaks) the room.
func (s *Source) SetProfile(p Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Profile = p
}

// NewSource returns a source for a profile with its own random sequence.
func NewSource(p Profile, hostname string, seed uint64) *Source {
	return &Source{Profile: p, Hostname: hostname, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Read draws one reading.
func (s *Source) Read(context.Context) (host.Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.boot.IsZero() {
		s.boot = time.Now().Add(-time.Duration(1+s.rng.IntN(240)) * time.Hour)
	}
	u := func(lo, hi float64) float64 { return lo + s.rng.Float64()*(hi-lo) }
	const gb = 1e9
	cpu := u(0.05, 0.45)
	load1 := cpu * 4 * u(0.8, 1.2)
	memTotal := uint64(16 * 1024 * 1024 * 1024)
	memAvail := uint64(u(5, 10) * gb)
	diskTotal := uint64(256 * gb)
	diskFree := uint64(u(80, 150) * gb)
	temp := u(45, 65)
	up, down := 1, 0
	errs, drops := uint64(s.rng.IntN(3)), uint64(s.rng.IntN(20))
	switch s.Profile {
	case ProfileDegraded:
		cpu = u(0.72, 0.88)
		temp = u(70, 85)
	case ProfileNotReady:
		if s.rng.IntN(2) == 0 {
			memAvail = uint64(u(0.6, 1.8) * gb)
		} else {
			diskFree = uint64(u(3, 9) * gb)
		}
	}
	uptime := time.Since(s.boot)
	return host.Reading{
		Hostname: s.Hostname, CPUUsed: &cpu, Load1: &load1, LogicalCPUs: 4,
		MemoryTotal: &memTotal, MemoryAvailable: &memAvail, DiskTotal: &diskTotal, DiskFree: &diskFree,
		Uptime: &uptime, TemperatureMax: &temp, NICsUp: &up, NICsDown: &down, NICErrors: &errs, NICDrops: &drops,
	}, nil
}
