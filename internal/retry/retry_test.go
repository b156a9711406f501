package retry

import (
	"testing"
	"time"
)

func TestPacer_BacksOffAndLogsAtMostOncePerInterval(t *testing.T) {
	var p Pacer
	t0 := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	now := t0
	var logs, attempts int
	var said int
	for now.Before(t0.Add(2 * time.Minute)) {
		if p.Due(now) {
			attempts++
			if log, n := p.Failed(now); log {
				logs++
				said += n
			}
		}
		now = now.Add(250 * time.Millisecond) // the writer's tick
	}
	// Back-off 1, 2, 4, 8, 16, 30, 30, 30... s: about 9 attempts in 2 min.
	if attempts < 7 || attempts > 11 {
		t.Errorf("%d attempts in 2 min, want about 9", attempts)
	}
	if logs < 3 || logs > 5 {
		t.Errorf("%d log lines in 2 min, want about 4 (one per 30 s)", logs)
	}
	if said > attempts {
		t.Errorf("log lines stand for %d failures of %d", said, attempts)
	}
	if !p.Succeeded() || !p.Due(now) || p.Delay() != 0 {
		t.Error("after a success the writer is not due at once")
	}
	if p.Succeeded() {
		t.Error("a second success says it recovered")
	}
}
