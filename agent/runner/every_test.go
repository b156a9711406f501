package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

type counting struct {
	runs    int
	verdict wire.Verdict
}

func (c *counting) Name() string { return "network" }
func (c *counting) Run(context.Context, *standard.Standard) ([]wire.CheckResult, error) {
	c.runs++
	return []wire.CheckResult{{Check: "network", Target: "probe", Verdict: c.verdict,
		Measurements: map[string]float64{"rtt_seconds": float64(c.runs) / 100}}}, nil
}

func TestEvery_RepeatsTheLastResultsUntilDueOrAskedFor(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	inner := &counting{}
	r := &Runner{Site: "s", Room: "r", Standard: std, Checks: []Check{Every(inner, time.Hour)}}
	first := r.Run(context.Background())
	second := r.Run(context.Background())
	if inner.runs != 1 {
		t.Fatalf("measured %d times in two runs within the period, want 1", inner.runs)
	}
	a, b := first.Checks[0], second.Checks[0]
	if b.Measurements["rtt_seconds"] != a.Measurements["rtt_seconds"] || len(b.Rules) != len(a.Rules) {
		t.Errorf("repeat differs: %+v vs %+v", b, a)
	}
	if !strings.Contains(b.Reason, "measured at ") {
		t.Errorf("repeat does not say when it was measured: %q", b.Reason)
	}
	r.Run(WithFresh(context.Background()))
	if inner.runs != 2 {
		t.Errorf("a run asked for did not measure (%d runs)", inner.runs)
	}

	// A check that could not measure is measured again next time.
	inner = &counting{verdict: wire.Error}
	r.Checks = []Check{Every(inner, time.Hour)}
	r.Run(context.Background())
	r.Run(context.Background())
	if inner.runs != 2 {
		t.Errorf("an error was repeated instead of measuring again (%d runs)", inner.runs)
	}
}

// gate holds every run while on.
type gate struct{ on bool }

func (g *gate) Hold(context.Context) (quiet.Hold, bool) {
	if !g.on {
		return quiet.Hold{}, false
	}
	return quiet.Hold{Code: wire.CodeHeldBack, Reason: `meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z)`}, true
}

func TestEvery_AMeetingHoldsTheTestBackAndRepeatsTheLastFigures(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	inner := &counting{}
	g := &gate{on: true}
	r := &Runner{Site: "s", Room: "r", Standard: std, Checks: []Check{Every(inner, 0)}, Quiet: g}
	rep := r.Run(context.Background())
	c := rep.Checks[0]
	if inner.runs != 0 || c.Verdict != wire.Skipped || c.Code != wire.CodeHeldBack ||
		c.Reason != `the network test was held back: meeting "Rapat" 09:00Z to 10:00Z (quiet 08:58Z to 10:02Z); no earlier figures` {
		t.Fatalf("held with nothing measured yet: runs %d, %+v", inner.runs, c)
	}
	g.on = false
	r.Run(context.Background())
	g.on = true
	for _, ctx := range []context.Context{context.Background(), WithFresh(context.Background())} { // a command too
		c = r.Run(ctx).Checks[0]
		if inner.runs != 1 || c.Verdict != wire.Skipped || c.Code != wire.CodeHeldBack || c.Measurements["rtt_seconds"] != 0.01 ||
			!strings.Contains(c.Reason, "held back: meeting") || !strings.Contains(c.Reason, "figures repeated from the test at ") || len(c.Rules) != 0 {
			t.Fatalf("held after a test: runs %d, %+v", inner.runs, c)
		}
	}
	g.on = false
	r.Run(context.Background())
	if inner.runs != 2 {
		t.Errorf("after the meeting: %d tests, want 2", inner.runs)
	}
}

// busy measures nothing when the link is busy.
type busy struct {
	counting
	busy bool
}

func (b *busy) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	if b.busy {
		return []wire.CheckResult{{Check: "network", Target: "probe", Verdict: wire.Skipped, Code: wire.CodeLinkBusy, Reason: "link busy"}}, nil
	}
	return b.counting.Run(ctx, std)
}

func TestEvery_ABusyLinkRepeatsTheLastFiguresWithItsReason(t *testing.T) {
	std, _ := standard.Default()
	inner := &busy{}
	r := &Runner{Site: "s", Room: "r", Standard: std, Checks: []Check{Every(inner, 0)}}
	r.Run(context.Background())
	inner.busy = true
	c := r.Run(context.Background()).Checks[0]
	if c.Verdict != wire.Skipped || c.Code != wire.CodeLinkBusy || c.Measurements["rtt_seconds"] != 0.01 || !strings.HasPrefix(c.Reason, "link busy; figures repeated from the test at ") {
		t.Fatalf("busy link: %+v", c)
	}
	inner.busy = false
	if c := r.Run(context.Background()).Checks[0]; c.Verdict == wire.Skipped || c.Measurements["rtt_seconds"] != 0.02 {
		t.Errorf("after the busy link: %+v", c)
	}
}
