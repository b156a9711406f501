package host

import (
	"testing"
	"time"
)

func TestClockOffset_IsTheSizeOfTheNewestMeasurementWhileItIsRecent(t *testing.T) {
	var c ClockOffset
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	if _, ok := c.Seconds(now); ok {
		t.Error("a figure before any acknowledgement")
	}
	c.Observe(now.Add(90*time.Second), now) // the controller's clock is ahead
	if s, ok := c.Seconds(now); !ok || s != 90 {
		t.Errorf("offset %v, %v; want 90 s either way", s, ok)
	}
	c.Observe(now.Add(-2*time.Second), now) // now the PC's is
	if s, _ := c.Seconds(now); s != 2 {
		t.Errorf("offset %v, want the newest, 2 s", s)
	}
	if _, ok := c.Seconds(now.Add(ClockOffsetMaxAge + time.Second)); ok {
		t.Error("a figure long after the last acknowledgement")
	}
	c.Observe(time.Time{}, now) // an acknowledgement without a time (an older controller)
	var nilClock *ClockOffset
	nilClock.Observe(now, now)
	if _, ok := nilClock.Seconds(now); ok {
		t.Error("a nil clock has a figure")
	}
}
