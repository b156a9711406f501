package runner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/agent/standard"
)

type counting struct {
	runs    int
	verdict report.Verdict
}

func (c *counting) Name() string { return "network" }
func (c *counting) Run(context.Context, *standard.Standard) ([]report.CheckResult, error) {
	c.runs++
	return []report.CheckResult{{Check: "network", Target: "probe", Verdict: c.verdict,
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
	inner = &counting{verdict: report.Error}
	r.Checks = []Check{Every(inner, time.Hour)}
	r.Run(context.Background())
	r.Run(context.Background())
	if inner.runs != 2 {
		t.Errorf("an error was repeated instead of measuring again (%d runs)", inner.runs)
	}
}
