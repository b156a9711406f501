package board

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
)

// benchBoard is a board over n rooms of the fleet simulator (30 % of them
// degraded or not ready, each with its causes) and a meeting in every
// tenth room within the next day.
func benchBoard(b *testing.B, n int) *Board {
	b.Helper()
	std, err := standard.Default()
	if err != nil {
		b.Fatal(err)
	}
	now := func() time.Time { return t0 }
	f := fleet.New(fleet.Options{Freshness: time.Hour, Now: now})
	for i := range n {
		rep := fleetsim.NewRoom(i, 100, 1, std, "bench").Run(context.Background())
		rep.MeasuredAt = t0.Add(-time.Minute)
		f.ApplyReport(rep, t0.Add(-time.Minute))
	}
	st, err := sessions.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	for i := 0; i < n; i += 10 {
		site, room := fleetsim.Name(i, 100)
		start := t0.Add(time.Duration(i%240) * 5 * time.Minute)
		if _, err := st.Put(sessions.Session{Site: site, Room: room, Title: "Rapat", Source: "api", Start: start, End: start.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	d, err := commands.New(&published{}, f, prometheus.NewRegistry(), now)
	if err != nil {
		b.Fatal(err)
	}
	board, err := New(Config{Fleet: f, Commands: d, Sessions: st, Standard: std, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	return board
}

// BenchmarkFleetPage renders the fleet page of 10,000 rooms on the server:
// the default page (counts over every room, 500 tiles, the next meetings),
// every room on one page (?per=10000), one site's page, and the live part
// the page's script asks for every 5 s.
func BenchmarkFleetPage(b *testing.B) {
	const n = 10_000
	board := benchBoard(b, n)
	for _, c := range []struct{ name, path, live string }{
		{"default", "/", ""},
		{"all-on-one-page", fmt.Sprintf("/?per=%d", n), ""},
		{"one-site", "/?site=site-07", ""},
		{"live-part", "/", "1"},
	} {
		b.Run(fmt.Sprintf("rooms=%d/%s", n, c.name), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", c.path, nil)
				req.Header.Set("Accept-Language", "id")
				if c.live != "" {
					req.Header.Set(liveHeader, c.live)
				}
				w := httptest.NewRecorder()
				board.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", c.path, w.Code)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
