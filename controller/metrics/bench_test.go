package metrics

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/standard"
)

// simFleet is n simulated rooms, each with a report as the fleet simulator
// sends it: host, camera, audio and network measurements and two devices,
// about 55 series a room.
func simFleet(b *testing.B, n int) *fleet.Fleet {
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	f := fleet.New(fleet.Options{Freshness: time.Hour})
	for i := range n {
		f.ApplyReport(fleetsim.NewRoom(i, 30, 1, std, "bench").Run(context.Background()), time.Now())
	}
	return f
}

// BenchmarkScrape measures one /metrics scrape of the fleet at province
// (1,000 rooms) and national (10,000 rooms) size: through Handler, plain
// and gzipped (what Prometheus asks for), and, for comparison, a registry's
// Gather of the test-only collector view (collect_test.go) alone, before any encoding.
func BenchmarkScrape(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		f := simFleet(b, n)
		c := New(f)
		for _, enc := range []string{"identity", "gzip"} {
			b.Run(fmt.Sprintf("rooms=%d/handler/%s", n, enc), func(b *testing.B) {
				h := Handler(c, prometheus.NewRegistry(), nil)
				b.ReportAllocs()
				var size int
				for b.Loop() {
					req := httptest.NewRequest("GET", "/metrics", nil)
					req.Header.Set("Accept-Encoding", enc)
					w := &discardWriter{header: http.Header{}}
					h.ServeHTTP(w, req)
					size = w.n
				}
				b.ReportMetric(float64(size), "bytes/scrape")
			})
		}
		b.Run(fmt.Sprintf("rooms=%d/registry-gather", n), func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type discardWriter struct {
	header http.Header
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
