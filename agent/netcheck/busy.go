package netcheck

import (
	"context"
	"fmt"
	"strings"
	"time"

	psnet "github.com/shirou/gopsutil/v3/net"

	"github.com/siaprapat/siaprapat/wire"
)

// DefaultBusyWindow is how long the PC's interface counters are watched
// before a test: a link already carrying more than BusyShare of the last
// measured rate (a meeting, a download) is not tested.
const DefaultBusyWindow = 10 * time.Second

// BusyShare is the share of the last measured rate in use that makes the
// link busy.
const BusyShare = 1.0 / 3

// Counters reads the bytes the PC's network interfaces (loopback aside)
// have received and sent since they came up.
type Counters interface {
	Bytes(ctx context.Context) (received, sent uint64, err error)
}

// SystemCounters are this PC's interface counters (through gopsutil:
// /proc/net/dev on Linux, GetIfEntry2 on Windows).
type SystemCounters struct{}

func (SystemCounters) Bytes(ctx context.Context) (uint64, uint64, error) {
	stats, err := psnet.IOCountersWithContext(ctx, true)
	if err != nil {
		return 0, 0, fmt.Errorf("read the network interfaces' counters: %w", err)
	}
	var rx, tx uint64
	for _, s := range stats {
		if s.Name == "lo" || strings.HasPrefix(strings.ToLower(s.Name), "loopback") {
			continue
		}
		rx += s.BytesRecv
		tx += s.BytesSent
	}
	return rx, tx, nil
}

// lastRates are the goodputs of the last test, in bits per second.
type lastRates struct {
	down, up float64
	at       time.Time
}

// linkBusy watches the interface counters for the busy window and says
// whether the link already carries more than BusyShare of the last measured
// rate in either direction. Without a last test, a busy window or enough
// time before the deadline, the link is not judged busy.
func (c *Check) linkBusy(ctx context.Context) (bool, string) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	w := c.cfg.BusyWindow
	if w <= 0 || last.down <= 0 || last.up <= 0 {
		return false, ""
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < w+c.minTotal() {
		c.log.Debug("no time to watch the link before the test", "left", time.Until(dl))
		return false, ""
	}
	rx0, tx0, err := c.cfg.Counters.Bytes(ctx)
	if err != nil {
		c.log.Debug("cannot tell whether the link is busy", "err", err)
		return false, ""
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return false, ""
	case <-time.After(w):
	}
	rx1, tx1, err := c.cfg.Counters.Bytes(ctx)
	if err != nil || rx1 < rx0 || tx1 < tx0 {
		return false, "" // an interface went away or restarted
	}
	secs := time.Since(t0).Seconds()
	down, up := float64(rx1-rx0)*8/secs, float64(tx1-tx0)*8/secs
	c.log.Debug("link use before the test", "down_bits_per_second", down, "up_bits_per_second", up)
	if down <= BusyShare*last.down && up <= BusyShare*last.up {
		return false, ""
	}
	return true, fmt.Sprintf("link busy: %s received and %s sent over the last %v, more than a third of the last measured %s down and %s up; the test was not started",
		mbits(down), mbits(up), w.Round(time.Second), mbits(last.down), mbits(last.up))
}

func mbits(bps float64) string { return fmt.Sprintf("%.1f Mbit/s", bps/1e6) }

// busyResult is the network check's result when the link is busy: the
// runner repeats the last figures with it.
func (c *Check) busyResult(why string) []wire.CheckResult {
	return []wire.CheckResult{{Check: wire.CheckNetwork, Target: c.base.Host, Verdict: wire.Skipped, Code: wire.CodeLinkBusy, Reason: why}}
}
