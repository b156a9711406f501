package netcheck

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/controller/probe"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

func TestSteady_TheLastSlicesMustAgree(t *testing.T) {
	for _, tc := range []struct {
		name   string
		counts []int64
		want   bool
	}{
		{"too few slices", []int64{0, 100, 200, 300}, false},
		{"flat rate", []int64{0, 50, 150, 250, 350, 450}, true},
		{"within 8 %", []int64{0, 100, 205, 300, 396}, true},
		{"still ramping", []int64{0, 40, 100, 180, 280}, false},
		{"one slow slice", []int64{0, 100, 200, 260, 360}, false},
		{"stalled", []int64{0, 0, 0, 0, 0}, false},
	} {
		if got := steady(tc.counts); got != tc.want {
			t.Errorf("%s: steady(%v) = %v, want %v", tc.name, tc.counts, got, tc.want)
		}
	}
}

func TestBudget_ScaledToTheStandardsMinimumRate(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Probe: "http://probe:9780"})
	if err != nil {
		t.Fatal(err)
	}
	p := plan{rampUp: DefaultRampUp, window: DefaultWindow}
	s := &session{MaxBytes: 200e6}
	// Download: warn below 10 Mbit/s, 8 x 10 Mbit/s x 9.5 s = 95 MB.
	if got := c.budgetFor(s, std, "download_bits_per_second", p); got != 95_000_000 {
		t.Errorf("download budget %d, want 95 MB", got)
	}
	// Upload: warn below 5 Mbit/s: 47.5 MB.
	if got := c.budgetFor(s, std, "upload_bits_per_second", p); got != 47_500_000 {
		t.Errorf("upload budget %d, want 47.5 MB", got)
	}
	// Without a standard, or a probe allowing less: theirs.
	if got := c.budgetFor(s, nil, "download_bits_per_second", p); got != 200e6 {
		t.Errorf("budget without a standard %d", got)
	}
	if got := c.budgetFor(&session{MaxBytes: 10e6}, std, "download_bits_per_second", p); got != 10e6 {
		t.Errorf("budget under the probe's 10 MB: %d", got)
	}
}

// counters is a PC's interface counters that grow at a set rate.
type counters struct {
	mu           sync.Mutex
	start        time.Time
	down, up     float64 // bits per second in use
	rxAt0, txAt0 uint64
}

func (c *counters) Bytes(context.Context) (uint64, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	secs := time.Since(c.start).Seconds()
	return c.rxAt0 + uint64(c.down/8*secs), c.txAt0 + uint64(c.up/8*secs), nil
}

func TestCheck_ABusyLinkIsNotTested(t *testing.T) {
	p := startProbe(t, probe.Config{}, true)
	use := &counters{start: time.Now(), rxAt0: 1 << 40}
	cfg := quick(p.url)
	cfg.BusyWindow, cfg.Counters = 300*time.Millisecond, use
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// As after a test that measured 100 Mbit/s down and 40 up.
	c.last = lastRates{down: 100e6, up: 40e6, at: time.Now()}
	last := c.last
	// A download takes half the last measured rate: busy, no probe session.
	use.mu.Lock()
	use.down = last.down / 2
	use.mu.Unlock()
	res, err := c.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Code != wire.CodeLinkBusy || len(res[0].Measurements) != 0 ||
		!strings.HasPrefix(res[0].Reason, "link busy: ") || !strings.Contains(res[0].Reason, "more than a third of the last measured") {
		t.Errorf("busy link: %+v", res)
	}
	if n := p.Stats().SessionsStarted; n != 0 {
		t.Errorf("%d probe sessions, want none for a busy link", n)
	}
	// A quiet trickle (a tenth) is not busy.
	use.mu.Lock()
	use.down, use.up = last.down/10, last.up/10
	use.mu.Unlock()
	if res, _ := c.Run(ctx, nil); res[0].Verdict != "" || p.Stats().SessionsStarted != 1 {
		t.Errorf("a trickle: %+v, %d sessions", res, p.Stats().SessionsStarted)
	}
}

func TestCheck_SteadyRateEndsTheDirectionEarly(t *testing.T) {
	p := startProbe(t, probe.Config{}, false)
	cfg := quick(p.url)
	cfg.Window, cfg.BusyWindow = 20*time.Second, -1
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := c.Run(context.Background(), nil)
	if err != nil || res[0].Verdict != "" {
		t.Fatalf("%+v %v", res, err)
	}
	// On loopback the rate is steady (or the 50 MB budget moved) long before 2 x 20 s.
	if took := time.Since(began); took > 15*time.Second {
		t.Errorf("took %v with a 20 s window: the steady rate did not end it", took)
	}
	if res[0].Measurements["download_bits_per_second"] <= 0 || res[0].Measurements["upload_bits_per_second"] <= 0 {
		t.Errorf("measurements %v", res[0].Measurements)
	}
}

// meetingFrom is a quiet gate whose meeting margin begins at a moment.
type meetingFrom struct{ at time.Time }

func (m meetingFrom) Hold(context.Context) (quiet.Hold, bool) {
	if time.Now().Before(m.at) {
		return quiet.Hold{}, false
	}
	return quiet.Hold{Code: wire.CodeHeldBack, Reason: "meeting \"Rapat\""}, true
}

// TestCheck_AMeetingThatBeginsWhileTheLinkIsWatchedHoldsTheTestBack: the
// gate is asked again after the busy-link watch, just before any traffic
// (a schedule that arrives, a margin that begins, during the watch).
func TestCheck_AMeetingThatBeginsWhileTheLinkIsWatchedHoldsTheTestBack(t *testing.T) {
	p := startProbe(t, probe.Config{}, true)
	cfg := quick(p.url)
	cfg.BusyWindow, cfg.Counters = 300*time.Millisecond, &counters{start: time.Now()}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.last = lastRates{down: 100e6, up: 40e6, at: time.Now()}
	ctx := quiet.WithGate(context.Background(), meetingFrom{time.Now().Add(100 * time.Millisecond)})
	if _, held := quiet.Held(ctx); held {
		t.Fatal("held before the meeting's margin")
	}
	res, err := c.Run(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Code != wire.CodeHeldBack {
		t.Errorf("a margin begun during the watch: %+v", res)
	}
	if n := p.Stats().SessionsStarted; n != 0 {
		t.Errorf("%d probe sessions, want none", n)
	}
}

// TestCheck_ATestThatWouldRunIntoAMarginIsNotStarted: a meeting's quiet
// window that begins before the test would end holds the test back now
// (the gate was asked only for the moment the traffic starts: a test begun
// 1.4 s before a margin ran 3.65 s into it, and on a slow link it would run
// some 24 s into it).
func TestCheck_ATestThatWouldRunIntoAMarginIsNotStarted(t *testing.T) {
	p := startProbe(t, probe.Config{}, true)
	c, err := New(quick(p.url))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(quiet.DefaultMargin + 3*time.Second) // its margin begins 3 s from now
	gate := &quiet.Gate{Schedule: schedule{{ID: "m", Title: "Rapat", Start: start, End: start.Add(time.Hour)}}}
	if _, held := gate.Hold(context.Background()); held {
		t.Fatal("held before the meeting's margin")
	}
	res, err := c.Run(quiet.WithGate(context.Background(), gate), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Code != wire.CodeHeldBack ||
		!strings.Contains(res[0].Reason, `meeting "Rapat"`) || !strings.Contains(res[0].Reason, "before a test of") {
		t.Errorf("a margin 3 s ahead: %+v", res)
	}
	if n := p.Stats().SessionsStarted; n != 0 {
		t.Errorf("%d probe sessions, want none", n)
	}
}

type schedule []wire.ScheduledSession

func (s schedule) Sessions() []wire.ScheduledSession { return s }
