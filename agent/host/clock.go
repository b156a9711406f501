package host

import (
	"math"
	"sync"
	"time"
)

// ClockOffset is what the agent knows of the room PC's clock against the
// controller's: the agent sets it from the time on each acknowledgement it
// receives, and the host check reports it (clock_offset_seconds). It is
// safe for concurrent use; the zero value knows nothing yet.
type ClockOffset struct {
	mu     sync.Mutex
	offset time.Duration // the PC's clock minus the controller's
	at     time.Time     // when measured, by the PC's (monotonic) clock
	known  bool
}

// ClockOffsetMaxAge is how long a measurement stands: past it (no
// acknowledgement for a while) the host check reports no figure.
const ClockOffsetMaxAge = 15 * time.Minute

// Observe records a message stamped sent at by the controller's clock and
// received now by the PC's. The transit (milliseconds) counts as offset.
func (c *ClockOffset) Observe(sent, now time.Time) {
	if c == nil || sent.IsZero() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset, c.at, c.known = now.Sub(sent), now, true
}

// Seconds is the offset's size in seconds, either way, when a recent
// measurement stands.
func (c *ClockOffset) Seconds(now time.Time) (float64, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known || now.Sub(c.at) > ClockOffsetMaxAge {
		return 0, false
	}
	return math.Abs(c.offset.Seconds()), true
}
