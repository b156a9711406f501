package host

import (
	"context"
	"testing"
	"time"
)

func TestReading_MeasurementsInBaseUnits(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	u := func(v uint64) *uint64 { return &v }
	i := func(v int) *int { return &v }
	up := 90 * time.Minute
	r := Reading{
		CPUUsed: f(0.25), Load1: f(2), LogicalCPUs: 4, MemoryTotal: u(16e9), MemoryAvailable: u(4e9),
		DiskTotal: u(200e9), DiskFree: u(50e9), Uptime: &up, NICsUp: i(1), NICsDown: i(1), NICErrors: u(2), NICDrops: u(3),
	}
	want := map[string]float64{
		"cpu_used_ratio": 0.25, "load1_per_cpu_ratio": 0.5, "logical_cpus": 4, "memory_total_bytes": 16e9,
		"memory_available_bytes": 4e9, "disk_total_bytes": 200e9, "disk_free_bytes": 50e9, "disk_free_ratio": 0.25,
		"uptime_seconds": 5400, "nic_links_up": 1, "nic_links_down": 1, "nic_errors_total": 2, "nic_drops_total": 3,
	}
	got := r.Measurements()
	if len(got) != len(want) {
		t.Errorf("%d measurements, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["temperature_max_celsius"]; ok {
		t.Error("a PC without sensors reports a temperature")
	}
}

type failing struct{}

func (failing) Read(context.Context) (Reading, error) { return Reading{}, context.DeadlineExceeded }

func TestCheck_SourceErrorIsReturned(t *testing.T) {
	if _, err := (&Check{Source: failing{}}).Run(context.Background(), nil); err == nil {
		t.Error("no error")
	}
}

// TestSystem_ReadsThisPC reads the machine the test runs on through
// gopsutil: the figures must be there and plausible.
func TestSystem_ReadsThisPC(t *testing.T) {
	s := &System{}
	r, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := r.Measurements()
	for _, name := range []string{"cpu_used_ratio", "memory_total_bytes", "memory_available_bytes", "disk_total_bytes", "disk_free_bytes", "uptime_seconds", "logical_cpus"} {
		if _, ok := m[name]; !ok {
			t.Errorf("%s missing (problems: %v)", name, r.Problems)
		}
	}
	if m["memory_available_bytes"] > m["memory_total_bytes"] || m["disk_free_bytes"] > m["disk_total_bytes"] {
		t.Errorf("implausible reading: %v", m)
	}
	if c := m["cpu_used_ratio"]; c < 0 || c > 1 {
		t.Errorf("cpu_used_ratio %v", c)
	}
	// A second read a second later averages over the span since the first
	// read's samples instead of taking a new 1 s sample.
	time.Sleep(1100 * time.Millisecond)
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.samples); n != 3 {
		t.Errorf("%d CPU samples after two reads, want 3 (2 for the first read, 1 for the second)", n)
	}
}

func TestSystem_ReadHonoursDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := (&System{}).Read(ctx); err == nil {
		t.Error("first read (1 s CPU sample) ignored a 50 ms deadline")
	}
}
