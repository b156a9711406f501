// Package runner runs the agent's checks under deadlines, has the standard
// judge their measurements, and assembles the Report.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// Check measures one part of the room. It returns one result per target
// (one camera, one microphone...), each with measurements and, where the
// check could not run or does not apply, an error or skipped verdict and a
// reason. It does not judge: the runner has the standard do that.
type Check interface {
	Name() string
	Run(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, error)
}

// InventoryCheck is a check that also lists the room's devices; the runner
// calls RunInventory instead of Run and puts the devices in the report.
type InventoryCheck interface {
	Check
	RunInventory(ctx context.Context, std *standard.Standard) ([]wire.CheckResult, []wire.Peripheral, error)
}

// DefaultTimeout bounds one check when the runner is given none.
const DefaultTimeout = 30 * time.Second

// Timeouter is a check that needs longer than the runner's per-check
// timeout (the network check moves data for about 25 s); the runner gives
// it the longer of the two.
type Timeouter interface {
	Timeout() time.Duration
}

// Runner runs a list of checks for one room. It owns each check's life
// (life.go): one run at a time, and the last results repeated when a run
// does not measure. A Runner is used by pointer and not copied.
type Runner struct {
	Site, Room   string
	AgentVersion string
	Standard     *standard.Standard
	Checks       []Check       // the one list of checks, in the order they run
	Timeout      time.Duration // per check; DefaultTimeout when zero
	// Quiet, when set, decides before each run whether it is held back (a
	// meeting in the room, a device in use): the checks then run only
	// their passive parts and say what they held back.
	Quiet Holder
	// Keep, when set, keeps the spaced checks' last complete results
	// across restarts (the agent's data directory).
	Keep Keeper
	Now  func() time.Time // the clock; time.Now when nil
	Log  *slog.Logger     // may be nil

	mu    sync.Mutex
	lives map[string]*life // by check name
}

// Holder decides whether a run is held back (a *quiet.Gate).
type Holder = quiet.Holder

// Select returns the named checks in list order; an unknown name is an
// error listing the known ones. Empty names select every check.
func Select(checks []Check, names []string) ([]Check, error) {
	if len(names) == 0 {
		return checks, nil
	}
	var known []string
	for _, c := range checks {
		known = append(known, c.Name())
	}
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown check %q; this agent has: %s", n, strings.Join(known, ", "))
		}
	}
	var out []Check
	for _, c := range checks {
		if slices.Contains(names, c.Name()) {
			out = append(out, c)
		}
	}
	return out, nil
}

// ParseOnly splits a comma-separated --only list.
func ParseOnly(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Run runs every check and returns the report. A check that fails to run, or
// overruns its deadline, becomes an error result saying why; Run itself
// always returns a complete report.
func (r *Runner) Run(ctx context.Context) *wire.Report { return r.RunChecks(ctx, r.Checks) }

// RunChecks runs the given checks, some of r.Checks (Select), as Run runs
// them all.
func (r *Runner) RunChecks(ctx context.Context, checks []Check) *wire.Report {
	rep := &wire.Report{
		Schema:       wire.Schema,
		ID:           wire.NewID(),
		Site:         r.Site,
		Room:         r.Room,
		AgentVersion: r.AgentVersion,
		MeasuredAt:   r.now().UTC().Truncate(time.Millisecond),
		Standard:     r.Standard.String(),
	}
	if _, held := quiet.HoldFrom(ctx); !held && r.Quiet != nil {
		// Held at the start: the whole run is. Otherwise each check asks
		// the gate again just before its intrusive act.
		if h, ok := r.Quiet.Hold(ctx); ok {
			ctx = quiet.WithHold(ctx, h)
			if r.Log != nil {
				r.Log.Info("intrusive checks held back", "code", h.Code, "why", h.Reason)
			}
		} else {
			ctx = quiet.WithGate(ctx, r.Quiet)
		}
	}
	for _, c := range checks {
		results, devices := r.runOne(ctx, c)
		rep.Checks = append(rep.Checks, results...)
		rep.Peripherals = append(rep.Peripherals, devices...)
	}
	rep.Verdict = wire.RoomVerdictOf(rep.Checks)
	return rep
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// life returns what the runner keeps of the named check.
func (r *Runner) life(name string) *life {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lives == nil {
		r.lives = map[string]*life{}
	}
	l, ok := r.lives[name]
	if !ok {
		l = newLife()
		r.lives[name] = l
		r.recall(name, l)
	}
	return l
}

// recall gives a new life the results Keep kept of its check, when they
// were measured before now (a clock set back makes them useless).
func (r *Runner) recall(name string, l *life) {
	if r.Keep == nil {
		return
	}
	at, results, err := r.Keep.Load(name)
	switch {
	case err != nil:
		if r.Log != nil {
			r.Log.Warn("could not read the check's last results; it measures anew", "check", name, "err", err)
		}
	case len(results) > 0 && !at.IsZero() && !at.After(r.now()):
		l.remember(at, results, nil, false)
	}
}

type outcome struct {
	results []wire.CheckResult
	devices []wire.Peripheral
	err     error
}

// runOne runs one check, or repeats its last results when it does not
// measure now (life.go), and has the standard judge the results.
func (r *Runner) runOne(ctx context.Context, c Check) ([]wire.CheckResult, []wire.Peripheral) {
	name := c.Name()
	l := r.life(name)
	now := r.now()
	if h, held := quiet.Held(ctx); held {
		if i, ok := as[Intrusive](c); ok && i.Intrusive() {
			results, devices := l.repeat(name, wire.Skipped, h.Code, "the "+name+" check was held back: "+h.Reason, now)
			return r.judge(name, results), devices
		}
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if t, ok := as[Timeouter](c); ok && t.Timeout() > timeout {
		timeout = t.Timeout()
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	run, b := l.acquire(cctx, r.now)
	if b != nil {
		v, code, why := stillRunning(name, b, r.now())
		if r.Log != nil {
			r.Log.Warn("check still running: not started again", "check", name, "since", b.begun)
		}
		results, devices := l.repeat(name, v, code, why, r.now())
		return r.judge(name, results), devices
	}
	now = r.now() // waiting for a run under way took time
	if s, ok := as[Spaced](c); ok && !IsFresh(ctx) {
		if next, due := l.due(s.Every(), now); !due {
			l.free()
			why := fmt.Sprintf("measured every %v, next after %s", s.Every(), quiet.Stamp(next, now))
			results, devices := l.repeat(name, "", "", why, now)
			return r.judge(name, results), devices
		}
	}
	inventory, isInventory := as[InventoryCheck](c)
	done := make(chan outcome, 1)
	go func() {
		var out outcome
		if isInventory {
			out.results, out.devices, out.err = inventory.RunInventory(cctx, r.Standard)
		} else {
			out.results, out.err = c.Run(cctx, r.Standard)
		}
		took := r.now().Sub(now).Seconds()
		for i := range out.results {
			res := &out.results[i]
			if res.Check == "" {
				res.Check = name
			}
			if res.DurationSeconds == 0 {
				// Targets measured together share the check's duration.
				res.DurationSeconds = took
			}
		}
		// Remembered even when the runner gave up on the run: it is the
		// check's latest measurement.
		if out.err == nil {
			l.release(now, out.results, out.devices, isInventory)
			r.keep(c, name, l, now, out.results)
		} else {
			l.release(now, nil, nil, false)
		}
		done <- out
	}()
	var out outcome
	select {
	case out = <-done:
	case <-cctx.Done():
		// A check that ignores its context is not waited for; it is not
		// started again while it runs (life.acquire).
		l.abandon(run, timeout)
		out.err = unfinished(ctx, timeout)
	}
	if cctx.Err() != nil && ((out.err == nil && len(out.results) == 0) ||
		errors.Is(out.err, context.Canceled) || errors.Is(out.err, context.DeadlineExceeded)) {
		out.err = unfinished(ctx, timeout) // (not a bare "context canceled")
	}
	if out.err != nil {
		code := ""
		if errors.Is(cctx.Err(), context.DeadlineExceeded) {
			code = wire.CodeTimeout
		}
		if r.Log != nil {
			r.Log.Warn("check could not run", "check", name, "err", out.err)
		}
		return r.judge(name, []wire.CheckResult{{
			Check:           name,
			Target:          name,
			Verdict:         wire.Error,
			Reason:          out.err.Error(),
			Code:            code,
			DurationSeconds: r.now().Sub(now).Seconds(),
		}}), nil
	}
	results := make([]wire.CheckResult, len(out.results))
	for i, res := range out.results {
		results[i] = copyResult(res)
	}
	l.fill(results, r.now())
	return r.judge(name, results), out.devices
}

// judge has the standard judge the results.
func (r *Runner) judge(name string, results []wire.CheckResult) []wire.CheckResult {
	for i := range results {
		if results[i].Check == "" {
			results[i].Check = name
		}
		r.Standard.Evaluate(&results[i])
	}
	return results
}

// keep saves a spaced check's results measured at `at` when they were
// complete (the ones its life repeats).
func (r *Runner) keep(c Check, name string, l *life, at time.Time, results []wire.CheckResult) {
	if s, ok := as[Spaced](c); !ok || s.Every() <= 0 || r.Keep == nil || !l.completeAt(at) {
		return
	}
	if err := r.Keep.Save(name, at, results); err != nil && r.Log != nil {
		r.Log.Warn("could not keep the check's results for a restart", "check", name, "err", err)
	}
}

// unfinished says why a check's run ended before its results: the run
// itself was stopped (the agent shutting down), or its time ran out.
func unfinished(run context.Context, timeout time.Duration) error {
	if run.Err() != nil {
		return errors.New("stopped before it finished: the agent is stopping")
	}
	return fmt.Errorf("did not finish within %v", timeout)
}
