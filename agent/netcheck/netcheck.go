// Package netcheck is the agent's network check: goodput down and up, and
// the round-trip time, jitter and loss of a media-like UDP stream, measured
// against the controller's probe endpoint (package controller/probe, whose
// documentation describes the protocol).
//
// One run starts a session on the probe (waiting as the probe's Retry-After
// says while the probe is busy), then, in order so the phases do not disturb
// each other:
//
//  1. a UDP echo stream of UDPPacketSize-byte packets every UDPInterval for
//     UDPDuration: rtt_seconds (median) and rtt_p95_seconds, loss_ratio,
//     jitter_seconds, udp_blocked=0. When no echo comes back at all,
//     udp_blocked=1 and the RTT figures come from HTTP round trips over
//     TCP instead (a keep-alive connection, the first round trip, which
//     opens it, discarded); jitter and loss are then not reported.
//  2. download over Streams TCP connections for RampUp+Window: the rate at
//     which the agent read bytes during Window (after RampUp, which is
//     discarded), so the goodput seen by the receiver.
//  3. upload the same way, the goodput being what the probe says it
//     received during Window, from its upload timeline on its own clock.
//
// The rate over the window is the slope of a least-squares line fitted to
// the upper envelope of the receiver's byte count, sampled every 50 ms (see
// window.rate). A plain (end - start) / duration is thrown off by TCP loss
// recovery at the window's edges, which holds received bytes back from the
// reader for up to a few hundred milliseconds: on a 5 Mbit/s link with 3 s
// windows that moved single readings by up to 15 %; the envelope keeps them
// within 1.5 % of iperf3. The price: a link that really stops in the last
// moments of the window is read as if it had not stopped (an error at most
// the stall's share of the window).
//
// Jitter is the interarrival jitter of RFC 3550 (section 6.4.1: J += (|D| -
// J)/16 over successive packets in arrival order, D being the difference of
// their transit times), computed for each direction of the echoed stream from
// one-way transit times: upstream from the agent's send time to the probe's
// receive time (which the echo carries), downstream from the probe's receive
// time to the agent's receive time. The clocks' offset cancels in D. The
// reported jitter_seconds is the larger of the two final values.
//
// Each direction moves at most MaxBytes (and at most what the probe
// allows); when the budget runs out before Window ends the goodput is
// measured over the time it lasted. The check fits its phases into the
// context's deadline, shortening Window when it must.
package netcheck

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults of Config's zero fields.
const (
	DefaultStreams       = 4
	DefaultWindow        = 8 * time.Second
	DefaultRampUp        = 1500 * time.Millisecond
	DefaultMaxBytes      = 200_000_000 // per direction
	DefaultUDPPacketSize = 200         // bytes of UDP payload, like an audio+video media packet
	DefaultUDPInterval   = 20 * time.Millisecond
	DefaultUDPDuration   = 5 * time.Second
	DefaultPings         = 10 // TCP round trips when UDP is blocked
)

// Packet layout shared with the probe (see controller/probe).
const (
	echoMagic     = "SPE1"
	echoHeaderLen = 40
	echoMaxLen    = 1472
)

// sessionSetup is the time a test may take besides its plan: opening the
// probe session, waiting for a slot, closing it.
const sessionSetup = 5 * time.Second

// minWindow is the shortest measurement window the check runs with when
// its deadline forces it to shorten Window.
const minWindow = 500 * time.Millisecond

// Config configures the network check. Zero fields take the defaults.
type Config struct {
	// Probe is the controller's base URL (http://controller:9780); the probe
	// lives under /probe/v1/. Empty skips the check: "no probe configured".
	Probe string
	Token string // bearer token the probe accepts
	// Room is the agent's SITE/ROOM, told to the probe so that, with a
	// token other rooms share, the room still runs one test at a time.
	Room string

	Streams  int           // parallel TCP connections per direction
	Window   time.Duration // measured time per direction
	RampUp   time.Duration // time per direction before Window, discarded (TCP slow start)
	MaxBytes int64         // bytes per direction at most

	UDPPacketSize int           // UDP payload bytes per packet (40..1472)
	UDPInterval   time.Duration // time between UDP packets
	UDPDuration   time.Duration // how long the UDP stream lasts
	// UDPAddr sends the UDP stream to host:port instead of the probe's host
	// and the port its session names (a relay, a port-mapped probe).
	UDPAddr string

	// BusyWindow is how long the interface counters are watched before a
	// test (DefaultBusyWindow when zero, not at all when negative);
	// Counters reads them (SystemCounters when nil).
	BusyWindow time.Duration
	Counters   Counters

	// Dial opens the check's connections ("tcp" for HTTP, "udp" for the
	// echo); nil uses net.Dialer. It is the check's way onto the network.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	Log  *slog.Logger // nil discards
}

// Check is the network check.
type Check struct {
	cfg  Config
	base *url.URL // nil when no probe is configured
	log  *slog.Logger

	mu   sync.Mutex
	last lastRates // of the last complete test
}

// New validates the configuration and fills in the defaults.
func New(cfg Config) (*Check, error) {
	c := &Check{cfg: cfg, log: cfg.Log}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("check", wire.CheckNetwork)
	if cfg.Probe != "" {
		u, err := url.Parse(cfg.Probe)
		if err != nil {
			return nil, fmt.Errorf("network check: probe URL %q: %w", cfg.Probe, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("network check: probe URL %q must be http://HOST:PORT or https://HOST:PORT", cfg.Probe)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		c.base = u
	}
	d := &c.cfg
	if d.Streams < 0 || d.Window < 0 || d.RampUp < 0 || d.MaxBytes < 0 || d.UDPInterval < 0 || d.UDPDuration < 0 {
		return nil, errors.New("network check: Streams, Window, RampUp, MaxBytes, UDPInterval and UDPDuration must not be negative")
	}
	if d.UDPPacketSize != 0 && (d.UDPPacketSize < echoHeaderLen || d.UDPPacketSize > echoMaxLen) {
		return nil, fmt.Errorf("network check: UDPPacketSize %d is outside %d..%d bytes", d.UDPPacketSize, echoHeaderLen, echoMaxLen)
	}
	if d.Streams == 0 {
		d.Streams = DefaultStreams
	}
	if d.Window == 0 {
		d.Window = DefaultWindow
	}
	if d.RampUp == 0 {
		d.RampUp = DefaultRampUp
	}
	if d.MaxBytes == 0 {
		d.MaxBytes = DefaultMaxBytes
	}
	if d.UDPPacketSize == 0 {
		d.UDPPacketSize = DefaultUDPPacketSize
	}
	if d.UDPInterval == 0 {
		d.UDPInterval = DefaultUDPInterval
	}
	if d.UDPDuration == 0 {
		d.UDPDuration = DefaultUDPDuration
	}
	if d.BusyWindow == 0 {
		d.BusyWindow = DefaultBusyWindow
	}
	if d.Counters == nil {
		d.Counters = SystemCounters{}
	}
	return c, nil
}

// Name is the check's name in reports and in the standard.
func (c *Check) Name() string { return wire.CheckNetwork }

// Intrusive says the test disturbs a meeting from its start (it loads the
// room's link): while the room is quiet the runner does not start it, and
// repeats its last figures.
func (c *Check) Intrusive() bool { return true }

// Timeout is how long the whole test may take: its phases, and time to
// wait for a busy probe. The runner gives the check this much when its own
// per-check timeout is shorter.
func (c *Check) Timeout() time.Duration {
	full := plan{rampUp: c.cfg.RampUp, window: c.cfg.Window, udp: c.cfg.UDPDuration}
	return full.total() + max(c.cfg.BusyWindow, 0) + 15*time.Second
}

// plan is how long each phase runs.
type plan struct {
	rampUp, window, udp time.Duration
}

// total is the time the phases take, with allowance for the session's
// requests, the UDP stream's wait for late echoes and the fallback pings.
func (p plan) total() time.Duration {
	return p.udp + udpGrace + 2*(p.rampUp+p.window) + 2*time.Second
}

// planFor fits the phases into the time left before the deadline,
// shortening the window (then the ramp-up and the UDP stream) when needed.
func (c *Check) planFor(ctx context.Context) (plan, error) {
	p := plan{rampUp: c.cfg.RampUp, window: c.cfg.Window, udp: c.cfg.UDPDuration}
	dl, ok := ctx.Deadline()
	if !ok {
		return p, nil
	}
	left := time.Until(dl)
	if p.total() <= left {
		return p, nil
	}
	// Shrink every phase by the same factor, keeping the fixed allowances.
	fixed := udpGrace + 2*time.Second
	scale := float64(left-fixed) / float64(p.total()-fixed)
	p.rampUp = time.Duration(float64(p.rampUp) * scale)
	p.window = time.Duration(float64(p.window) * scale)
	p.udp = time.Duration(float64(p.udp) * scale)
	if p.window < minWindow {
		return p, fmt.Errorf("the check's deadline leaves %v; the network test needs at least %v",
			left.Round(100*time.Millisecond), c.minTotal().Round(100*time.Millisecond))
	}
	return p, nil
}

// minTotal is the shortest time planFor accepts.
func (c *Check) minTotal() time.Duration {
	full := plan{rampUp: c.cfg.RampUp, window: c.cfg.Window, udp: c.cfg.UDPDuration}
	fixed := udpGrace + 2*time.Second
	scale := float64(minWindow) / float64(full.window)
	return fixed + time.Duration(float64(full.total()-fixed)*scale)
}

// Run measures the network against the probe.
func (c *Check) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	if c.base == nil {
		return []wire.CheckResult{{
			Check: wire.CheckNetwork, Target: "probe", Verdict: wire.Skipped,
			Reason: "no probe configured", Code: wire.CodeNotConfigured,
		}}, nil
	}
	res := wire.CheckResult{Check: wire.CheckNetwork, Target: c.base.Host, Measurements: map[string]float64{}}
	if busy, why := c.linkBusy(ctx); busy {
		c.log.Info("link busy: network test not started", "why", why)
		return c.busyResult(why), nil
	}
	plan, planErr := c.planFor(ctx)
	// Watching the link took a while (BusyWindow): a meeting's margin may
	// have begun meanwhile, or its schedule come. Ask again, at the moment
	// the traffic would start, for as long as it would last (and the
	// session's set-up): a test must not run into a margin either.
	if h, held := quiet.HeldFor(ctx, plan.total()+sessionSetup); held {
		c.log.Info("network test held back after watching the link", "why", h.Reason)
		return []wire.CheckResult{{Check: wire.CheckNetwork, Target: c.base.Host, Verdict: wire.Skipped,
			Code: h.Code, Reason: "the network check was held back: " + h.Reason}}, nil
	}
	if planErr != nil {
		return nil, planErr
	}
	cl := c.newClient()
	defer cl.close()

	sess, err := cl.startSession(ctx, c)
	if err != nil {
		return nil, err
	}
	defer func() {
		// The slot is freed even when the check's context has ended.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := cl.endSession(dctx, sess); err != nil {
			c.log.Warn("could not end the probe session; it expires by itself", "err", err)
		}
	}()
	p, err := c.planFor(ctx) // again: waiting for a slot took time
	if err != nil {
		return nil, err
	}
	if p.window < c.cfg.Window {
		c.log.Info("shortened the network test to fit the deadline", "window", p.window, "ramp_up", p.rampUp, "udp", p.udp)
	}

	var notes []string
	fail := func(phase string, err error) ([]wire.CheckResult, error) {
		res.Verdict = wire.Error
		res.Reason = strings.Join(append(notes, phase+": "+err.Error()), "; ")
		return []wire.CheckResult{res}, nil
	}

	if err := c.measureLatency(ctx, cl, sess, p, res.Measurements, &notes); err != nil {
		return fail("round-trip time", err)
	}
	down, err := cl.download(ctx, sess, p, c.budgetFor(sess, std, "download_bits_per_second", p))
	if err != nil {
		return fail("download", err)
	}
	res.Measurements["download_bits_per_second"] = down.bitsPerSecond
	if down.short {
		notes = append(notes, "download byte budget ran out before the window ended")
	}
	// Made for each test (a millisecond's work) rather than held between
	// tests, which are half an hour apart: an idle agent keeps its memory.
	up, err := cl.upload(ctx, sess, p, c.budgetFor(sess, std, "upload_bits_per_second", p), randomPayload(1<<20))
	if err != nil {
		return fail("upload", err)
	}
	res.Measurements["upload_bits_per_second"] = up.bitsPerSecond
	if up.short {
		notes = append(notes, "upload byte budget ran out before the window ended")
	}
	res.Reason = strings.Join(notes, "; ")
	c.mu.Lock()
	c.last = lastRates{down: down.bitsPerSecond, up: up.bitsPerSecond, at: time.Now()}
	c.mu.Unlock()
	c.log.Info("network tested", "probe", c.base.Host, "download_bytes", down.bytes, "upload_bytes", up.bytes,
		"download_seconds", down.seconds, "upload_seconds", up.seconds, "steady_download", down.steady, "steady_upload", up.steady)
	c.log.Debug("network measured", "probe", c.base.Host, "measurements", res.Measurements)
	return []wire.CheckResult{res}, nil
}

// CapFactor scales the byte cap of a direction: a test moves at most what
// CapFactor times the standard's minimum rate (its warn limit, else its
// fail limit) moves in the test's time. A link many times faster than the
// standard asks is shown to be so without being filled for the window.
const CapFactor = 8

// minCapBytes is the least byte cap a standard's low rate gives.
const minCapBytes = 1 << 20

// budgetFor is the bytes of one direction: the configured and the probe's
// budget, capped by CapFactor times what the standard's minimum rate for
// the measurement moves in the test's time.
func (c *Check) budgetFor(s *session, std *standard.Standard, measurement string, p plan) int64 {
	b := c.budget(s)
	if r := minRate(std, measurement); r > 0 {
		scaled := int64(CapFactor * r / 8 * (p.rampUp + p.window).Seconds())
		b = min(b, max(scaled, minCapBytes))
	}
	return b
}

// minRate is the rate the standard asks of a measurement: the highest of
// its rules' warn and fail lower limits; 0 without one.
func minRate(std *standard.Standard, measurement string) float64 {
	if std == nil {
		return 0
	}
	best := 0.0
	for _, r := range std.RulesFor(wire.CheckNetwork) {
		if r.Measurement != measurement {
			continue
		}
		for _, l := range []*float64{r.WarnBelow, r.FailBelow} {
			if l != nil && *l > best {
				best = *l
			}
		}
	}
	return best
}

// budget is the bytes per direction: ours, capped by the probe's.
func (c *Check) budget(s *session) int64 {
	b := c.cfg.MaxBytes
	if s.MaxBytes > 0 && s.MaxBytes < b {
		b = s.MaxBytes
	}
	return b
}

// measureLatency runs the UDP echo stream, falling back to TCP round trips
// when no echo comes back (or the probe offers none).
func (c *Check) measureLatency(ctx context.Context, cl *client, sess *session, p plan, m map[string]float64, notes *[]string) error {
	addr, err := c.udpAddr(sess)
	if err != nil {
		return err
	}
	if addr != "" {
		er, err := c.echo(ctx, addr, sess, p.udp)
		if err != nil {
			return err
		}
		if er.received() > 0 {
			m["udp_blocked"] = 0
			m["rtt_seconds"] = er.rttQuantile(0.5).Seconds()
			m["rtt_p95_seconds"] = er.rttQuantile(0.95).Seconds()
			m["loss_ratio"] = er.lossRatio()
			m["jitter_seconds"] = er.jitter().Seconds()
			return nil
		}
		m["udp_blocked"] = 1
		*notes = append(*notes, fmt.Sprintf("no UDP echo from %s (%d packets sent); RTT measured over TCP", addr, er.sent))
	} else {
		*notes = append(*notes, "the probe offers no UDP echo; RTT measured over TCP")
	}
	rtts, err := cl.pings(ctx, sess, DefaultPings)
	if err != nil {
		return err
	}
	m["rtt_seconds"] = quantile(rtts, 0.5).Seconds()
	m["rtt_p95_seconds"] = quantile(rtts, 0.95).Seconds()
	return nil
}

// udpAddr is where the echo stream goes: Config.UDPAddr, else the probe's
// host and the session's UDP port; "" when the probe has no echo.
func (c *Check) udpAddr(s *session) (string, error) {
	if c.cfg.UDPAddr != "" {
		return c.cfg.UDPAddr, nil
	}
	if s.UDPPort == 0 {
		return "", nil
	}
	return net.JoinHostPort(c.base.Hostname(), fmt.Sprint(s.UDPPort)), nil
}

func (c *Check) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if c.cfg.Dial != nil {
		return c.cfg.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}
