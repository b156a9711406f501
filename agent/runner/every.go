package runner

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/agent/standard"
)

// Timeouter is a check that needs longer than the runner's per-check
// timeout (the network check moves data for about 25 s); the runner gives
// it the longer of the two.
type Timeouter interface {
	Timeout() time.Duration
}

type freshKey struct{}

// WithFresh marks a run as asked for (a command before a meeting): checks
// wrapped by Every measure now instead of repeating their last results.
func WithFresh(ctx context.Context) context.Context { return context.WithValue(ctx, freshKey{}, true) }

// IsFresh reports whether the run was asked for.
func IsFresh(ctx context.Context) bool { v, _ := ctx.Value(freshKey{}).(bool); return v }

// Every runs a costly check (one that loads the room's link or makes a
// sound) at most once per period. In between, the check's last results
// are reported again, their reason saying when they were measured, and the
// standard judges them again. A run asked for by a command always measures;
// so does the next run after one whose results were not all measured.
func Every(c Check, period time.Duration) Check {
	return &every{check: c, period: period, lock: make(chan struct{}, 1)}
}

type every struct {
	check  Check
	period time.Duration

	lock    chan struct{} // one run at a time; a waiting run still heeds its context
	at      time.Time
	results []report.CheckResult // as the check returned them, before judging
}

func (e *every) Name() string { return e.check.Name() }

// Timeout passes on the wrapped check's own timeout.
func (e *every) Timeout() time.Duration {
	if t, ok := e.check.(Timeouter); ok {
		return t.Timeout()
	}
	return 0
}

func (e *every) Run(ctx context.Context, std *standard.Standard) ([]report.CheckResult, error) {
	select {
	case e.lock <- struct{}{}:
		defer func() { <-e.lock }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waited for the running %s check: %w", e.check.Name(), ctx.Err())
	}
	if !IsFresh(ctx) && e.results != nil && time.Since(e.at) < e.period {
		out := copyResults(e.results)
		note := "measured at " + e.at.UTC().Format("15:04:05Z") + "; measured again after " + e.at.Add(e.period).UTC().Format("15:04:05Z")
		for i := range out {
			if out[i].Reason == "" {
				out[i].Reason = note
			} else {
				out[i].Reason += "; " + note
			}
		}
		return out, nil
	}
	results, err := e.check.Run(ctx, std)
	if err != nil {
		return results, err
	}
	e.results, e.at = nil, time.Time{}
	for _, r := range results {
		if r.Verdict == report.Error || r.Verdict == report.Skipped {
			return results, nil // not measured: measure again next time
		}
	}
	e.results, e.at = copyResults(results), time.Now()
	return results, nil
}

// copyResults copies results deeply enough that judging one copy leaves
// the other alone.
func copyResults(in []report.CheckResult) []report.CheckResult {
	out := make([]report.CheckResult, len(in))
	for i, r := range in {
		r.Measurements = maps.Clone(r.Measurements)
		r.Rules = nil
		out[i] = r
	}
	return out
}
