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

// Runner runs a list of checks for one room.
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
	Log   *slog.Logger // may be nil
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
func (r *Runner) Run(ctx context.Context) *wire.Report {
	rep := &wire.Report{
		Schema:       wire.Schema,
		ID:           wire.NewID(),
		Site:         r.Site,
		Room:         r.Room,
		AgentVersion: r.AgentVersion,
		MeasuredAt:   time.Now().UTC().Truncate(time.Millisecond),
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
	for _, c := range r.Checks {
		results, devices := r.runOne(ctx, c)
		rep.Checks = append(rep.Checks, results...)
		rep.Peripherals = append(rep.Peripherals, devices...)
	}
	rep.Verdict = wire.RoomVerdictOf(rep.Checks)
	return rep
}

type outcome struct {
	results []wire.CheckResult
	devices []wire.Peripheral
	err     error
}

func (r *Runner) runOne(ctx context.Context, c Check) ([]wire.CheckResult, []wire.Peripheral) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if t, ok := c.(Timeouter); ok && t.Timeout() > timeout {
		timeout = t.Timeout()
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan outcome, 1)
	go func() {
		if ic, ok := c.(InventoryCheck); ok {
			res, devices, err := ic.RunInventory(cctx, r.Standard)
			done <- outcome{res, devices, err}
			return
		}
		res, err := c.Run(cctx, r.Standard)
		done <- outcome{results: res, err: err}
	}()
	var out outcome
	code := ""
	select {
	case out = <-done:
	case <-cctx.Done():
		// A check that ignores its context is abandoned, not waited for.
		out.err = fmt.Errorf("did not finish within %v", timeout)
	}
	took := time.Since(start).Seconds()
	if out.err == nil && cctx.Err() != nil && len(out.results) == 0 {
		out.err = fmt.Errorf("did not finish within %v", timeout)
	}
	if out.err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
		code = wire.CodeTimeout
	}
	if out.err != nil {
		if r.Log != nil {
			r.Log.Warn("check could not run", "check", c.Name(), "err", out.err)
		}
		out.results = []wire.CheckResult{{
			Check:   c.Name(),
			Target:  c.Name(),
			Verdict: wire.Error,
			Reason:  out.err.Error(),
			Code:    code,
		}}
	}
	for i := range out.results {
		res := &out.results[i]
		if res.Check == "" {
			res.Check = c.Name()
		}
		if res.DurationSeconds == 0 {
			// Targets measured together share the check's duration.
			res.DurationSeconds = took
		}
		r.Standard.Evaluate(res)
	}
	return out.results, out.devices
}
