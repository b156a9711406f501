package metrics

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/controller/fleet"
)

// BenchmarkScrape measures rendering the whole fleet for one /metrics
// scrape, at province (1,000 rooms) and national (10,000 rooms) size.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("rooms=%d", n), func(b *testing.B) {
			f := fleet.New(fleet.Options{Freshness: time.Hour})
			for i := range n {
				f.ApplyReport(&report.Report{Schema: report.Schema, ID: fmt.Sprint(i), Site: fmt.Sprintf("site-%d", i%30), Room: fmt.Sprintf("room-%05d", i),
					MeasuredAt: time.Now(), Verdict: report.Ready, Checks: []report.CheckResult{{Check: "host", Target: "pc", Verdict: report.Pass,
						Measurements: map[string]float64{"cpu_used_ratio": 0.3, "memory_available_bytes": 8e9, "disk_free_ratio": 0.4}}}}, time.Now())
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(New(f))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
