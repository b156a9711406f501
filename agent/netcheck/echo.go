package netcheck

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"sync"
	"time"
)

const (
	// udpGrace is how long the stream waits for late echoes after its last
	// packet; later ones count as lost, as a media receiver would drop them.
	udpGrace = time.Second
	// udpBlockedAfter ends the stream early when not one echo came back
	// in this long: UDP is blocked, and the time is better spent over TCP.
	udpBlockedAfter = 2 * time.Second
)

// echoSample is one echoed packet: the agent's send and receive times (on
// its clock, since the stream began) and the probe's receive time (on the
// probe's clock).
type echoSample struct {
	sent, received, probeReceived time.Duration
}

// echoResult is the outcome of one echo stream; samples are in arrival order.
type echoResult struct {
	sent    int
	samples []echoSample
}

func (r echoResult) received() int { return len(r.samples) }

func (r echoResult) lossRatio() float64 {
	if r.sent == 0 {
		return 0
	}
	return float64(r.sent-len(r.samples)) / float64(r.sent)
}

func (r echoResult) rttQuantile(q float64) time.Duration {
	rtts := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		rtts[i] = s.received - s.sent
	}
	return quantile(rtts, q)
}

// jitter is the larger of the upstream and downstream RFC 3550
// interarrival jitters (see the package documentation).
func (r echoResult) jitter() time.Duration {
	byProbe := slices.Clone(r.samples)
	slices.SortStableFunc(byProbe, func(a, b echoSample) int { return int(a.probeReceived - b.probeReceived) })
	up := make([]time.Duration, len(byProbe))
	for i, s := range byProbe {
		up[i] = s.probeReceived - s.sent
	}
	down := make([]time.Duration, len(r.samples))
	for i, s := range r.samples {
		down[i] = s.received - s.probeReceived
	}
	return max(interarrivalJitter(up), interarrivalJitter(down))
}

// interarrivalJitter is RFC 3550's estimator over transit times in arrival
// order: J += (|D| - J)/16 with D the difference of successive transits.
func interarrivalJitter(transits []time.Duration) time.Duration {
	var j float64
	for i := 1; i < len(transits); i++ {
		d := math.Abs(float64(transits[i] - transits[i-1]))
		j += (d - j) / 16
	}
	return time.Duration(j)
}

// quantile is the nearest-rank quantile (q in 0..1) of the durations; 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// echo sends the media-like stream to addr and collects the echoes.
func (c *Check) echo(ctx context.Context, addr string, s *session, dur time.Duration) (echoResult, error) {
	interval := c.cfg.UDPInterval
	if s.UDPPacketsPerSecond > 0 {
		if floor := time.Second / time.Duration(s.UDPPacketsPerSecond); interval < floor {
			c.log.Info("slowing the UDP stream to the probe's rate limit", "interval", floor)
			interval = floor
		}
	}
	count := max(1, int(dur/interval))
	conn, err := c.dial(ctx, "udp", addr)
	if err != nil {
		return echoResult{}, fmt.Errorf("open UDP to %s: %w", addr, err)
	}
	defer conn.Close()

	base := time.Now()
	var (
		mu      sync.Mutex
		samples []echoSample
		seen    = make([]bool, count)
		all     = make(chan struct{})
	)
	go func() {
		buf := make([]byte, echoMaxLen+1)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					return
				}
				if isClosed(err) {
					return
				}
				continue // ICMP port unreachable and the like: keep listening
			}
			now := time.Since(base)
			p := buf[:n]
			if n < echoHeaderLen || string(p[:4]) != echoMagic || [16]byte(p[4:20]) != s.rawID {
				continue
			}
			seq := binary.BigEndian.Uint32(p[20:])
			if int(seq) >= count {
				continue
			}
			mu.Lock()
			if !seen[seq] {
				seen[seq] = true
				samples = append(samples, echoSample{
					sent:          time.Duration(binary.BigEndian.Uint64(p[24:])),
					received:      now,
					probeReceived: time.Duration(binary.BigEndian.Uint64(p[32:])),
				})
				if len(samples) == count {
					close(all)
				}
			}
			mu.Unlock()
		}
	}()

	pkt := make([]byte, c.cfg.UDPPacketSize)
	copy(pkt, echoMagic)
	copy(pkt[4:20], s.rawID[:])
	timer := time.NewTimer(0)
	defer timer.Stop()
	sent := 0
	for i := range count {
		at := time.Duration(i) * interval
		if at >= udpBlockedAfter {
			mu.Lock()
			none := len(samples) == 0
			mu.Unlock()
			if none {
				break
			}
		}
		timer.Reset(time.Until(base.Add(at)))
		select {
		case <-ctx.Done():
			return echoResult{}, ctx.Err()
		case <-timer.C:
		}
		binary.BigEndian.PutUint32(pkt[20:], uint32(i))
		binary.BigEndian.PutUint64(pkt[24:], uint64(time.Since(base)))
		_, _ = conn.Write(pkt) // a refused or dropped packet is a lost one
		sent++
	}
	mu.Lock()
	none := len(samples) == 0
	mu.Unlock()
	grace := udpGrace
	if none && sent > 0 && time.Since(base) >= udpBlockedAfter {
		grace = 0 // blocked: nothing came back in two seconds, nothing will now
	}
	timer.Reset(grace)
	select {
	case <-all:
	case <-timer.C:
	case <-ctx.Done():
		return echoResult{}, ctx.Err()
	}
	_ = conn.SetReadDeadline(time.Now()) // stop the reader
	mu.Lock()
	defer mu.Unlock()
	return echoResult{sent: sent, samples: slices.Clone(samples)}, nil
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }
