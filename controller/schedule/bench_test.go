package schedule

import (
	"fmt"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/controller/sessions"
)

type discard struct{}

func (discard) Publish(string, []byte, bool) error { return nil }

// BenchmarkSync is one reading of the schedule when nothing changed (every
// Interval, and after each change in a room elsewhere) with a session in
// each of n rooms: what a bulk creation of sessions costs the announcer for
// each session created.
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 50000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			store, err := sessions.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			list := make([]sessions.Session, n)
			for i := range list {
				start := t0.Add(time.Hour + time.Duration(i%480)*time.Minute)
				list[i] = sessions.Session{ID: fmt.Sprintf("s%d", i), Site: fmt.Sprintf("site-%d", i/100), Room: fmt.Sprintf("room-%d", i),
					Title: "Rapat koordinasi", Start: start, End: start.Add(time.Hour)}
			}
			if err := store.ReplaceSource("bench", list); err != nil {
				b.Fatal(err)
			}
			a := New(store, discard{}, Options{Now: func() time.Time { return t0 }})
			a.Sync()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				a.Sync()
			}
		})
	}
}
