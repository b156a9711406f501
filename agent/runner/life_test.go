package runner

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// clock is a settable clock for Runner.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func defaultStandard(t *testing.T) *standard.Standard {
	t.Helper()
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return std
}

type counting struct {
	runs    atomic.Int32
	verdict wire.Verdict
}

func (c *counting) Name() string { return "network" }
func (c *counting) Run(context.Context, *standard.Standard) ([]wire.CheckResult, error) {
	n := c.runs.Add(1)
	return []wire.CheckResult{{Check: "network", Target: "probe", Verdict: c.verdict,
		Measurements: map[string]float64{"rtt_seconds": float64(n) / 100}}}, nil
}

// intrusive is a counting check that disturbs a meeting as a whole.
type intrusive struct{ counting }

func (*intrusive) Intrusive() bool { return true }

func TestRepeatReason_SaysWhyAndWhenTheResultWasMeasured(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		why, then string
		at        time.Time
		want      string
	}{
		{"in use by Zoom", "", now.Add(-time.Hour),
			"in use by Zoom; repeating the result measured at 08:00:00Z"},
		{"in use by Zoom", "USB 046d:082d", time.Date(2026, 12, 4, 17, 30, 5, 0, time.UTC),
			"in use by Zoom; repeating the result measured at 2026-12-04T17:30:05Z (USB 046d:082d)"},
		{"camera not opened: a meeting; USB 046d:082d", "USB 046d:082d", now.Add(-time.Minute),
			"camera not opened: a meeting; USB 046d:082d; repeating the result measured at 08:59:00Z"},
	} {
		if got := RepeatReason(tc.why, tc.at, now, tc.then); got != tc.want {
			t.Errorf("RepeatReason(%q, %v, %q) = %q, want %q", tc.why, tc.at, tc.then, got, tc.want)
		}
	}
}

func TestLife_ASpacedCheckRepeatsItsLastResultsUntilDueOrAskedFor(t *testing.T) {
	clk := newClock()
	inner := &counting{}
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{Every(inner, time.Hour)}}
	first := r.Run(context.Background())
	clk.Add(10 * time.Minute)
	second := r.Run(context.Background())
	if inner.runs.Load() != 1 {
		t.Fatalf("measured %d times in two runs within the period, want 1", inner.runs.Load())
	}
	a, b := first.Checks[0], second.Checks[0]
	if b.Measurements["rtt_seconds"] != a.Measurements["rtt_seconds"] || b.Verdict != a.Verdict || len(b.Rules) != len(a.Rules) || b.Code != "" {
		t.Errorf("repeat differs: %+v vs %+v", b, a)
	}
	if want := "measured every 1h0m0s, next after 09:00:00Z; repeating the result measured at 08:00:00Z"; b.Reason != want {
		t.Errorf("repeat reason %q, want %q", b.Reason, want)
	}
	r.Run(WithFresh(context.Background()))
	if inner.runs.Load() != 2 {
		t.Errorf("a run asked for did not measure (%d runs)", inner.runs.Load())
	}
	clk.Add(time.Hour)
	r.Run(context.Background())
	if inner.runs.Load() != 3 {
		t.Errorf("a run after the period did not measure (%d runs)", inner.runs.Load())
	}

	// A check that could not measure is measured again next time.
	inner = &counting{verdict: wire.Error}
	r = &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{Every(inner, time.Hour)}}
	r.Run(context.Background())
	r.Run(context.Background())
	if inner.runs.Load() != 2 {
		t.Errorf("an error was repeated instead of measuring again (%d runs)", inner.runs.Load())
	}
}

// gate holds every run while on.
type gate struct{ on atomic.Bool }

func (g *gate) Hold(context.Context) (quiet.Hold, bool) {
	if !g.on.Load() {
		return quiet.Hold{}, false
	}
	return quiet.Hold{Code: wire.CodeHeldBack, Reason: `meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z)`}, true
}

func TestLife_AMeetingHoldsAnIntrusiveCheckBackAndRepeatsItsLastResult(t *testing.T) {
	clk := newClock()
	inner := &intrusive{}
	g := &gate{}
	g.on.Store(true)
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{Every(inner, 0)}, Quiet: g}
	c := r.Run(context.Background()).Checks[0]
	if inner.runs.Load() != 0 || c.Verdict != wire.Skipped || c.Code != wire.CodeHeldBack ||
		c.Reason != `the network check was held back: meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z); no earlier result to repeat` {
		t.Fatalf("held with nothing measured yet: runs %d, %+v", inner.runs.Load(), c)
	}
	g.on.Store(false)
	r.Run(context.Background())
	g.on.Store(true)
	clk.Add(time.Minute)
	for _, ctx := range []context.Context{context.Background(), WithFresh(context.Background())} { // a command too
		c = r.Run(ctx).Checks[0]
		if inner.runs.Load() != 1 || c.Verdict != wire.Skipped || c.Code != wire.CodeHeldBack || c.Measurements["rtt_seconds"] != 0.01 || len(c.Rules) != 0 ||
			c.Reason != `the network check was held back: meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z); repeating the result measured at 08:00:00Z` {
			t.Fatalf("held after a test: runs %d, %+v", inner.runs.Load(), c)
		}
	}
	g.on.Store(false)
	r.Run(context.Background())
	if inner.runs.Load() != 2 {
		t.Errorf("after the meeting: %d tests, want 2", inner.runs.Load())
	}

	// A check that is not intrusive runs in a meeting (its intrusive parts
	// ask quiet.Held themselves).
	plain := &counting{}
	g.on.Store(true)
	r = &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{plain}, Quiet: g}
	if c := r.Run(context.Background()).Checks[0]; plain.runs.Load() != 1 || c.Verdict == wire.Skipped {
		t.Errorf("a passive check in a meeting: runs %d, %+v", plain.runs.Load(), c)
	}
}

// targets measures two cameras; the ones named in skip it cannot open now.
type targets struct {
	runs atomic.Int32
	mu   sync.Mutex
	skip map[string]string // target -> code
}

func (c *targets) Name() string { return "camera" }
func (c *targets) Run(context.Context, *standard.Standard) ([]wire.CheckResult, error) {
	n := c.runs.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []wire.CheckResult
	for _, t := range []string{"cam-a", "cam-b"} {
		if code, ok := c.skip[t]; ok {
			out = append(out, wire.CheckResult{Target: t, Verdict: wire.Skipped, Code: code, Reason: "in use by Zoom"})
			continue
		}
		out = append(out, wire.CheckResult{Target: t, Reason: "USB 046d:082d", Measurements: map[string]float64{"fps": 30, "width_pixels": float64(1000 + n)}})
	}
	return out, nil
}

func TestLife_ATargetTheCheckCouldNotMeasureRepeatsItsLastResult(t *testing.T) {
	clk := newClock()
	inner := &targets{skip: map[string]string{"cam-b": wire.CodeInUse}}
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{inner}}
	first := r.Run(context.Background()).Checks
	if first[1].Verdict != wire.Skipped || first[1].Reason != "in use by Zoom"+NoEarlierResult || first[1].Measurements != nil {
		t.Errorf("never measured: %+v", first[1])
	}
	inner.mu.Lock()
	inner.skip = nil
	inner.mu.Unlock()
	clk.Add(time.Minute)
	r.Run(context.Background()) // both measured at 08:01
	inner.mu.Lock()
	inner.skip = map[string]string{"cam-a": wire.CodeInUse}
	inner.mu.Unlock()
	clk.Add(time.Minute)
	got := r.Run(context.Background()).Checks
	a, b := got[0], got[1]
	if a.Verdict != wire.Skipped || a.Code != wire.CodeInUse || a.Measurements["width_pixels"] != 1002 || len(a.Rules) != 0 ||
		a.Reason != "in use by Zoom; repeating the result measured at 08:01:00Z (USB 046d:082d)" {
		t.Errorf("in use: %+v", a)
	}
	if b.Verdict == wire.Skipped || b.Measurements["width_pixels"] != 1003 || b.Reason != "USB 046d:082d" {
		t.Errorf("measured beside it: %+v", b)
	}
}

// busyLink measures nothing when the link is busy.
type busyLink struct {
	counting
	busy atomic.Bool
}

func (b *busyLink) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	if b.busy.Load() {
		return []wire.CheckResult{{Check: "network", Target: "probe", Verdict: wire.Skipped, Code: wire.CodeLinkBusy, Reason: "link busy"}}, nil
	}
	return b.counting.Run(ctx, std)
}

func TestLife_ABusyLinkRepeatsTheLastFiguresWithItsReason(t *testing.T) {
	clk := newClock()
	inner := &busyLink{}
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{Every(inner, 0)}}
	r.Run(context.Background())
	inner.busy.Store(true)
	c := r.Run(context.Background()).Checks[0]
	if c.Verdict != wire.Skipped || c.Code != wire.CodeLinkBusy || c.Measurements["rtt_seconds"] != 0.01 ||
		c.Reason != "link busy; repeating the result measured at 08:00:00Z" {
		t.Fatalf("busy link: %+v", c)
	}
	inner.busy.Store(false)
	if c := r.Run(context.Background()).Checks[0]; c.Verdict == wire.Skipped || c.Measurements["rtt_seconds"] != 0.02 {
		t.Errorf("after the busy link: %+v", c)
	}
}

// blocking ignores its context: each run blocks until release is closed,
// counting the runs and the most ever at once.
type blocking struct {
	started           chan struct{}
	release           chan struct{}
	runs, active, max atomic.Int32
}

func newBlocking() *blocking {
	return &blocking{started: make(chan struct{}, 10), release: make(chan struct{})}
}

func (b *blocking) Name() string { return "slow" } // no rules judge it
func (b *blocking) Run(context.Context, *standard.Standard) ([]wire.CheckResult, error) {
	b.runs.Add(1)
	n := b.active.Add(1)
	defer b.active.Add(-1)
	for {
		m := b.max.Load()
		if n <= m || b.max.CompareAndSwap(m, n) {
			break
		}
	}
	b.started <- struct{}{}
	<-b.release
	return []wire.CheckResult{{Target: "cam", Measurements: map[string]float64{"fps": 30}}}, nil
}

// idle waits until no run of the named check is under way.
func idle(r *Runner, name string) {
	l := r.life(name)
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running != nil {
		<-running
	}
}

func TestLife_ACheckPastItsDeadlineIsNotStartedAgainUntilItReturns(t *testing.T) {
	clk := newClock()
	b := newBlocking()
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{b}, Timeout: time.Millisecond}
	first := r.Run(context.Background()).Checks[0]
	if first.Verdict != wire.Error || first.Code != wire.CodeTimeout || first.Reason != "did not finish within 1ms" {
		t.Errorf("the overrunning run: %+v", first)
	}
	<-b.started
	clk.Add(time.Minute)
	for range 3 { // its next turns
		c := r.Run(context.Background()).Checks[0]
		if c.Verdict != wire.Error || c.Code != wire.CodeTimeout ||
			c.Reason != "the slow check was not started again: its run begun at 08:00:00Z is still going, past its 1ms deadline; no earlier result to repeat" {
			t.Errorf("a turn while it runs: %+v", c)
		}
	}
	if n := b.runs.Load(); n != 1 {
		t.Fatalf("started %d times while its first run was still going, want 1", n)
	}
	close(b.release)
	idle(r, "slow")
	// The late result is remembered, and the check runs again.
	c := r.Run(context.Background()).Checks[0]
	<-b.started
	if b.runs.Load() != 2 || b.max.Load() != 1 || c.Verdict == wire.Error {
		t.Errorf("after it returned: %d runs, %d at once at most, %+v", b.runs.Load(), b.max.Load(), c)
	}
}

func TestLife_AStuckCheckRepeatsItsLastResultAsAnError(t *testing.T) {
	clk := newClock()
	b := newBlocking()
	close(b.release)
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Checks: []Check{b}, Timeout: time.Millisecond}
	r.Run(context.Background()) // in time or not, its result is remembered
	<-b.started
	idle(r, "slow")
	b.release = make(chan struct{}) // the camera hangs from now on
	clk.Add(time.Minute)
	r.Run(context.Background())
	<-b.started
	clk.Add(time.Minute)
	c := r.Run(context.Background()).Checks[0]
	if c.Verdict != wire.Error || c.Code != wire.CodeTimeout || c.Measurements["fps"] != 30 || len(c.Rules) != 0 ||
		!regexp.MustCompile(`^the slow check was not started again: its run begun at 08:01:00Z is still going, past its 1ms deadline; repeating the result measured at 08:00:00Z$`).MatchString(c.Reason) {
		t.Errorf("a stuck check: %+v", c)
	}
	close(b.release)
	idle(r, "slow")
	if b.max.Load() != 1 {
		t.Errorf("%d runs at once", b.max.Load())
	}
}

func TestLife_ARunWaitsForOneUnderWayThenMeasures(t *testing.T) {
	b := newBlocking()
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Checks: []Check{b}}
	first := make(chan *wire.Report)
	go func() { first <- r.Run(context.Background()) }()
	<-b.started
	// A command with a deadline that comes first is not started.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := r.Run(ctx).Checks[0]
	if c.Verdict != wire.Skipped || !strings.HasPrefix(c.Reason, "the slow check was not started again: its run begun at ") ||
		!strings.HasSuffix(c.Reason, " is still going; no earlier result to repeat") {
		t.Errorf("a run whose deadline came first: %+v", c)
	}
	// A command with time waits, and measures after.
	second := make(chan *wire.Report)
	go func() { second <- r.Run(WithFresh(context.Background())) }()
	close(b.release)
	<-first
	<-b.started
	if c := (<-second).Checks[0]; c.Verdict != wire.Pass || c.Reason != "" || b.runs.Load() != 2 || b.max.Load() != 1 {
		t.Errorf("a run that waited: %d runs, %d at once, %+v", b.runs.Load(), b.max.Load(), c)
	}
}

// TestLife_ARestartRepeatsTheKeptResultsUntilTheirPeriodIsOver: an agent
// started again (a package upgrade) does not run its network test at once:
// the last complete results, kept in its data directory, are repeated until
// the check's period is over, then it measures (and keeps that). Results
// dated after now (a clock set back) are not taken.
func TestLife_ARestartRepeatsTheKeptResultsUntilTheirPeriodIsOver(t *testing.T) {
	clk := newClock()
	keep := FileKeeper(t.TempDir())
	before := &counting{verdict: wire.Pass}
	r := &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Keep: keep, Checks: []Check{Every(before, time.Hour)}}
	first := r.Run(context.Background())
	if before.runs.Load() != 1 {
		t.Fatalf("first run measured %d times", before.runs.Load())
	}

	clk.Add(20 * time.Minute) // the agent restarts
	after := &counting{verdict: wire.Pass}
	r = &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: clk.Now, Keep: keep, Checks: []Check{Every(after, time.Hour)}}
	rep := r.Run(context.Background())
	if after.runs.Load() != 0 {
		t.Fatalf("a restart 20 min into the hour measured again (%d runs)", after.runs.Load())
	}
	got := rep.Checks[0]
	if got.Measurements["rtt_seconds"] != first.Checks[0].Measurements["rtt_seconds"] ||
		got.Reason != "measured every 1h0m0s, next after 09:00:00Z; repeating the result measured at 08:00:00Z" {
		t.Errorf("after the restart: %+v", got)
	}
	clk.Add(41 * time.Minute)
	r.Run(context.Background())
	if after.runs.Load() != 1 {
		t.Errorf("past the period: %d runs, want 1", after.runs.Load())
	}
	if at, _, err := keep.Load("network"); err != nil || !at.Equal(clk.Now()) {
		t.Errorf("kept %v, %v; want the new measurement of %v", at, err, clk.Now())
	}

	// The clock set back before the kept measurement: measure now.
	back := newClock()
	back.Add(-24 * time.Hour)
	again := &counting{verdict: wire.Pass}
	r = &Runner{Site: "s", Room: "r", Standard: defaultStandard(t), Now: back.Now, Keep: keep, Checks: []Check{Every(again, time.Hour)}}
	r.Run(context.Background())
	if again.runs.Load() != 1 {
		t.Errorf("results from the future were repeated (%d runs)", again.runs.Load())
	}
}
