package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/controller/fleet"
)

// benchPayloads builds encoded host reports for n rooms, as agents send them.
func benchPayloads(b *testing.B, n int) (topics []string, payloads [][]byte) {
	b.Helper()
	for i := range n {
		room := fmt.Sprintf("room-%05d", i)
		obs := 0.3
		r := &report.Report{Schema: report.Schema, ID: report.NewID(), Site: "s", Room: room, AgentVersion: "bench",
			MeasuredAt: time.Now().UTC(), Verdict: report.Ready, Checks: []report.CheckResult{{
				Check: "host", Target: "pc", Verdict: report.Pass, DurationSeconds: 1,
				Measurements: map[string]float64{"cpu_used_ratio": 0.3, "memory_total_bytes": 16e9, "memory_available_bytes": 8e9,
					"disk_total_bytes": 256e9, "disk_free_bytes": 100e9, "disk_free_ratio": 0.4, "uptime_seconds": 3600},
				Rules: []report.RuleResult{{Rule: "host_cpu", Verdict: report.Pass, Observed: &obs, Want: "<= 70 %"}},
			}}}
		p, err := r.Encode()
		if err != nil {
			b.Fatal(err)
		}
		topics = append(topics, report.Topic("s", room, report.KindReport))
		payloads = append(payloads, p)
	}
	return topics, payloads
}

// BenchmarkHandle measures ingest of one report (decode, validate, apply to
// an in-memory fleet), the controller's hot path; persistence is batched
// off this path.
func BenchmarkHandle(b *testing.B) {
	topics, payloads := benchPayloads(b, 1000)
	in, err := New(fleet.New(fleet.Options{Freshness: time.Minute}), nil, prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payloads[0])))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in.Handle(topics[i%len(topics)], payloads[i%len(payloads)])
	}
}
