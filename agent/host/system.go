package host

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v3/cpu"
	"github.com/shirou/gopsutil/v3/disk"
	gohost "github.com/shirou/gopsutil/v3/host"
	"github.com/shirou/gopsutil/v3/load"
	"github.com/shirou/gopsutil/v3/mem"
	gonet "github.com/shirou/gopsutil/v3/net"
)

// CPUWindow is the span CPU use is averaged over when the PC is read often
// enough; the standard's CPU limits are 5-minute figures.
const CPUWindow = 5 * time.Minute

// minCPUSample is the shortest span CPU use is measured over.
const minCPUSample = time.Second

// System reads the real PC through gopsutil. Keep one per process: it
// remembers CPU samples to average CPU use over CPUWindow.
type System struct {
	mu      sync.Mutex
	samples []cpuSample
}

type cpuSample struct {
	at          time.Time
	busy, total float64
}

// Read reads the PC. Parts that cannot be read are left nil and named in
// Problems; Read fails only when the context ends.
func (s *System) Read(ctx context.Context) (Reading, error) {
	var r Reading
	problem := func(what string, err error) { r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", what, err)) }

	r.Hostname, _ = os.Hostname()
	if used, err := s.cpuUsed(ctx); err != nil {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		problem("cpu times", err)
	} else {
		r.CPUUsed = &used
	}
	if n, err := cpu.CountsWithContext(ctx, true); err == nil {
		r.LogicalCPUs = n
	} else {
		problem("cpu count", err)
	}
	if avg, err := load.AvgWithContext(ctx); err == nil {
		r.Load1 = &avg.Load1
	} else {
		problem("load average", err)
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		r.MemoryTotal, r.MemoryAvailable = &vm.Total, &vm.Available
	} else {
		problem("memory", err)
	}
	vol := systemVolume()
	if u, err := disk.UsageWithContext(ctx, vol); err == nil {
		r.DiskTotal, r.DiskFree = &u.Total, &u.Free
	} else {
		problem("disk usage of "+vol, err)
	}
	if up, err := gohost.UptimeWithContext(ctx); err == nil {
		d := time.Duration(up) * time.Second
		r.Uptime = &d
	} else {
		problem("uptime", err)
	}
	// Sensors are optional: many PCs and every VM have none. Partial
	// results come with a warning error; keep what was read.
	if temps, _ := gohost.SensorsTemperaturesWithContext(ctx); len(temps) > 0 {
		var hottest *float64
		for _, t := range temps {
			if t.Temperature > 0 && (hottest == nil || t.Temperature > *hottest) {
				v := t.Temperature
				hottest = &v
			}
		}
		r.TemperatureMax = hottest
	}
	if err := readNICs(ctx, &r); err != nil {
		problem("network interfaces", err)
	}
	return r, nil
}

// cpuUsed returns the share of CPU time in use over the longest span up to
// CPUWindow for which it holds a sample, sampling for minCPUSample when it
// holds none old enough.
func (s *System) cpuUsed(ctx context.Context) (float64, error) {
	now, err := sampleCPU(ctx)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	// Drop samples older than the window, keeping the newest one beyond it.
	for len(s.samples) > 1 && now.at.Sub(s.samples[1].at) >= CPUWindow {
		s.samples = s.samples[1:]
	}
	var base *cpuSample
	if len(s.samples) > 0 && now.at.Sub(s.samples[0].at) >= minCPUSample {
		b := s.samples[0]
		base = &b
	}
	s.samples = append(s.samples, now)
	s.mu.Unlock()

	if base == nil {
		b := now
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(minCPUSample):
		}
		if now, err = sampleCPU(ctx); err != nil {
			return 0, err
		}
		s.mu.Lock()
		s.samples = append(s.samples, now)
		s.mu.Unlock()
		base = &b
	}
	dt := now.total - base.total
	if dt <= 0 {
		return 0, fmt.Errorf("cpu time did not advance")
	}
	used := (now.busy - base.busy) / dt
	return min(max(used, 0), 1), nil
}

func sampleCPU(ctx context.Context) (cpuSample, error) {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return cpuSample{}, err
	}
	if len(ts) == 0 {
		return cpuSample{}, fmt.Errorf("no cpu times")
	}
	t := ts[0]
	// On Linux guest time is already counted in user time, so leave it out.
	total := t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	return cpuSample{at: time.Now(), busy: total - t.Idle - t.Iowait, total: total}, nil
}

// readNICs counts physical interfaces with and without a link and sums
// their error and drop counters.
func readNICs(ctx context.Context, r *Reading) error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	up, down := 0, 0
	counted := map[string]bool{}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 || !physicalNIC(ifc.Name) {
			continue
		}
		counted[ifc.Name] = true
		if ifc.Flags&net.FlagRunning != 0 {
			up++
		} else {
			down++
		}
	}
	r.NICsUp, r.NICsDown = &up, &down
	counters, err := gonet.IOCountersWithContext(ctx, true)
	if err != nil {
		return err
	}
	var errs, drops uint64
	for _, c := range counters {
		if counted[c.Name] {
			errs += c.Errin + c.Errout
			drops += c.Dropin + c.Dropout
		}
	}
	r.NICErrors, r.NICDrops = &errs, &drops
	return nil
}
