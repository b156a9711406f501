package sessions

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// BenchmarkPut creates sessions through Put, one a call as the API does,
// from one caller and from eight at once (the bench harness's clients).
func BenchmarkPut(b *testing.B) {
	start := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	for _, callers := range []int{1, 8} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			work := make(chan int)
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					for i := range work {
						if _, err := s.Put(Session{Site: "s", Room: fmt.Sprintf("r%06d", i), Title: "Rapat koordinasi",
							Start: start, End: start.Add(time.Hour), Source: "api"}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for i := range b.N {
				work <- i
			}
			close(work)
			wg.Wait()
		})
	}
}
