package runner

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
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
// sound) at most once per period (every time when the period is zero). In
// between, the check's last results are reported again, their reason
// saying when they were measured, and the standard judges them again. A
// run asked for by a command always measures; so does the next run after
// one whose results were not all measured.
//
// A held-back run (quiet.WithHold: a meeting in the room, a device in use)
// does not run the check at all: its last figures are repeated as skipped,
// with the hold's code and a reason saying what held the test back and
// when the figures were measured. So is a run in which the check measured
// nothing and said why in a code (a busy link: report.CodeLinkBusy).
func Every(c Check, period time.Duration) Check {
	return &every{check: c, period: period, lock: make(chan struct{}, 1)}
}

type every struct {
	check  Check
	period time.Duration

	lock   chan struct{}      // one run at a time; a waiting run still heeds its context
	at     time.Time          // when last was measured
	last   []wire.CheckResult // the last complete measurement, as the check returned it, before judging
	repeat bool               // last may stand for a run within the period
}

func (e *every) Name() string { return e.check.Name() }

// Timeout passes on the wrapped check's own timeout.
func (e *every) Timeout() time.Duration {
	if t, ok := e.check.(Timeouter); ok {
		return t.Timeout()
	}
	return 0
}

func (e *every) Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error) {
	select {
	case e.lock <- struct{}{}:
		defer func() { <-e.lock }()
	case <-ctx.Done():
		return nil, fmt.Errorf("waited for the running %s check: %w", e.check.Name(), ctx.Err())
	}
	now := time.Now()
	if h, held := quiet.Held(ctx); held {
		return e.heldBack(h.Code, "the "+e.check.Name()+" test was held back: "+h.Reason, now), nil
	}
	if !IsFresh(ctx) && e.repeat && now.Sub(e.at) < e.period {
		out := copyResults(e.last)
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
	if len(results) == 1 && results[0].Verdict == wire.Skipped && results[0].Code != "" &&
		len(results[0].Measurements) == 0 && e.last != nil && results[0].Code != wire.CodeNotConfigured {
		return e.heldBack(results[0].Code, results[0].Reason, now), nil
	}
	e.repeat = false
	for _, r := range results {
		if r.Verdict == wire.Error || r.Verdict == wire.Skipped {
			return results, nil // not measured: measure again next time
		}
	}
	e.last, e.at, e.repeat = copyResults(results), now, true
	return results, nil
}

// heldBack is the result of a run that did not test: the last figures,
// skipped with the code and the reason, or one skipped result without any.
func (e *every) heldBack(code, reason string, now time.Time) []wire.CheckResult {
	if e.last == nil {
		return []wire.CheckResult{{Check: e.check.Name(), Target: e.check.Name(), Verdict: wire.Skipped,
			Code: code, Reason: reason + "; no earlier figures"}}
	}
	out := copyResults(e.last)
	for i := range out {
		out[i].Verdict, out[i].Code = wire.Skipped, code
		out[i].Reason = reason + "; figures repeated from the test at " + quiet.Stamp(e.at, now)
	}
	return out
}

// copyResults copies results deeply enough that judging one copy leaves
// the other alone.
func copyResults(in []wire.CheckResult) []wire.CheckResult {
	out := make([]wire.CheckResult, len(in))
	for i, r := range in {
		r.Measurements = maps.Clone(r.Measurements)
		r.Rules = nil
		out[i] = r
	}
	return out
}
