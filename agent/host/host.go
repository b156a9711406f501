// Package host checks the room PC's health: CPU, load, memory, the system
// volume, uptime, temperatures and network links.
package host

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Reading is one look at the room PC. Optional values are nil where the OS
// does not give them (no temperature sensors in a virtual machine).
type Reading struct {
	Hostname        string
	CPUUsed         *float64 // share of CPU time in use, 0..1
	Load1           *float64
	LogicalCPUs     int
	MemoryTotal     *uint64
	MemoryAvailable *uint64
	DiskTotal       *uint64
	DiskFree        *uint64
	Uptime          *time.Duration
	TemperatureMax  *float64 // degrees Celsius
	NICsUp          *int
	NICsDown        *int
	NICErrors       *uint64
	NICDrops        *uint64
	// Problems lists what could not be read, for the check's reason.
	Problems []string
}

// Source reads the room PC. System is the real one; the fleet simulator
// draws readings of its own.
type Source interface {
	Read(ctx context.Context) (Reading, error)
}

// Check is the host check.
type Check struct {
	Source Source
	// Clock, when set, gives the PC's clock offset against the
	// controller's, reported as clock_offset_seconds once measured.
	Clock *ClockOffset
	// SpoolRepairs, when set, counts the damaged spools the agent moved
	// aside at its start (run --repair), reported as spool_repairs when
	// not zero.
	SpoolRepairs *atomic.Int64
}

// Name is the check's name in reports and in the standard.
func (c *Check) Name() string { return wire.CheckHost }

// Run reads the PC once and returns its measurements.
func (c *Check) Run(ctx context.Context, _ *standard.Standard) ([]wire.CheckResult, error) {
	r, err := c.Source.Read(ctx)
	if err != nil {
		return nil, err
	}
	target := r.Hostname
	if target == "" {
		target = "localhost" // the OS would not say; the report still needs a target
	}
	res := wire.CheckResult{
		Check:        wire.CheckHost,
		Target:       target,
		Measurements: r.Measurements(),
	}
	if off, ok := c.Clock.Seconds(time.Now()); ok {
		res.Measurements["clock_offset_seconds"] = off
	}
	if c.SpoolRepairs != nil {
		if n := c.SpoolRepairs.Load(); n > 0 {
			res.Measurements["spool_repairs"] = float64(n)
		}
	}
	if len(r.Problems) > 0 {
		res.Reason = "could not read: " + joinProblems(r.Problems)
	}
	return []wire.CheckResult{res}, nil
}

// Measurements returns the reading as named measurements in base units.
func (r Reading) Measurements() map[string]float64 {
	m := map[string]float64{}
	putF := func(name string, v *float64) {
		if v != nil {
			m[name] = *v
		}
	}
	putU := func(name string, v *uint64) {
		if v != nil {
			m[name] = float64(*v)
		}
	}
	putI := func(name string, v *int) {
		if v != nil {
			m[name] = float64(*v)
		}
	}
	putF("cpu_used_ratio", r.CPUUsed)
	if r.LogicalCPUs > 0 {
		m["logical_cpus"] = float64(r.LogicalCPUs)
		if r.Load1 != nil {
			m["load1_per_cpu_ratio"] = *r.Load1 / float64(r.LogicalCPUs)
		}
	}
	putU("memory_total_bytes", r.MemoryTotal)
	putU("memory_available_bytes", r.MemoryAvailable)
	putU("disk_total_bytes", r.DiskTotal)
	putU("disk_free_bytes", r.DiskFree)
	if r.DiskTotal != nil && r.DiskFree != nil && *r.DiskTotal > 0 {
		m["disk_free_ratio"] = float64(*r.DiskFree) / float64(*r.DiskTotal)
	}
	if r.Uptime != nil {
		m["uptime_seconds"] = r.Uptime.Seconds()
	}
	putF("temperature_max_celsius", r.TemperatureMax)
	putI("nic_links_up", r.NICsUp)
	putI("nic_links_down", r.NICsDown)
	putU("nic_errors_total", r.NICErrors)
	putU("nic_drops_total", r.NICDrops)
	return m
}

func joinProblems(ps []string) string {
	out := ps[0]
	for _, p := range ps[1:] {
		out += "; " + p
	}
	return out
}
