package runner

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/siaprapat/siaprapat/agent/quiet"
	"github.com/siaprapat/siaprapat/wire"
)

// A check's life, as the runner keeps it between runs: one run at a time,
// and the last result of each target, repeated when a run does not measure.
//
// A run does not measure, and the check's last results are repeated in its
// place, marked by one reason text (RepeatReason) that says why and when
// they were measured, when:
//
//   - the check is intrusive (Intrusive: the network test's traffic) and
//     the quiet gate holds the room (a meeting, a device in use): skipped,
//     with the hold's code;
//   - the check's run begun earlier is still going: it is not started
//     again. A run that outlived its deadline makes the next turns errors
//     with code timeout until it returns; one whose caller still waits for
//     it (a command beside the periodic checks) is waited for, as long as
//     this run's own deadline lets it, and then this run measures;
//   - the check is spaced out (Every) and measured completely less than its
//     period ago, and the run was not asked for (WithFresh): the figures
//     are judged again, as if measured now.
//
// A check that runs but cannot measure a target now says why with a
// skipped result, a code and no measurements (a camera in use, a busy
// link, a meeting that began during the run): that target's last result is
// repeated in its place, skipped, with the check's code and reason.

// RepeatReason is the reason of every repeated result: why the check did
// not measure now, then when the repeated result was measured, and what
// that result's own reason said. at is written as quiet.Stamp writes it.
func RepeatReason(why string, at, now time.Time, then string) string {
	s := why + "; repeating the result measured at " + quiet.Stamp(at, now)
	if then != "" && !strings.Contains(why, then) {
		s += " (" + then + ")"
	}
	return s
}

// NoEarlierResult ends the reason of a run that did not measure and has no
// earlier result to repeat.
const NoEarlierResult = "; no earlier result to repeat"

// Intrusive is a check that disturbs a meeting as soon as it starts (the
// network test loads the room's link): while the quiet gate holds the
// room, the runner does not start it and repeats its last results. A check
// that disturbs only in parts (the loopback's sound, opening a camera) asks
// quiet.Held itself before each part.
type Intrusive interface {
	Intrusive() bool
}

// Spaced is a costly check measured at most once per period (Every).
type Spaced interface {
	Every() time.Duration
}

// Unwrapper is a check wrapping another (Every); the runner looks through
// it for the optional interfaces (Timeouter, Intrusive, InventoryCheck).
type Unwrapper interface {
	Unwrap() Check
}

// as finds T on the check or on a check it wraps.
func as[T any](c Check) (T, bool) {
	for c != nil {
		if t, ok := c.(T); ok {
			return t, true
		}
		u, ok := c.(Unwrapper)
		if !ok {
			break
		}
		c = u.Unwrap()
	}
	var zero T
	return zero, false
}

type freshKey struct{}

// WithFresh marks a run as asked for (a command before a meeting): spaced
// checks measure now instead of repeating their last results.
func WithFresh(ctx context.Context) context.Context { return context.WithValue(ctx, freshKey{}, true) }

// IsFresh reports whether the run was asked for.
func IsFresh(ctx context.Context) bool { v, _ := ctx.Value(freshKey{}).(bool); return v }

// Every spaces a costly check (one that loads the room's link) out: it is
// measured at most once per period (every run when the period is zero), and
// in between the runner repeats its last complete results, judged again. A
// run asked for (WithFresh) always measures; so does the run after one
// whose results were not all measured.
func Every(c Check, period time.Duration) Check { return spaced{c, period} }

type spaced struct {
	Check
	period time.Duration
}

func (s spaced) Every() time.Duration { return s.period }
func (s spaced) Unwrap() Check        { return s.Check }

// memo is a target's last measured result, as the check returned it (with
// its duration), before judging.
type memo struct {
	at  time.Time
	res wire.CheckResult
}

// life is what the runner keeps of one check.
type life struct {
	mu       sync.Mutex
	running  chan struct{} // non-nil while a run is under way; closed when it returns
	begun    time.Time     // when the run under way began
	overran  time.Duration // non-zero once the run under way outlived this deadline
	last     map[string]memo
	targets  []string          // the targets of the last run that measured any, in its order
	devices  []wire.Peripheral // the devices the last inventory listed
	complete time.Time         // when the last run began, if it measured every target; zero if not
}

func newLife() *life { return &life{last: map[string]memo{}} }

// busy says why a run found the check still running.
type busy struct {
	begun   time.Time
	overran time.Duration // the deadline it outlived; zero if its caller still waits
}

// acquire waits for the check to be free and marks a run begun now
// under way, returning its token; release ends it. A run under way that
// outlived its deadline is not waited for; one whose caller still waits
// is, until ctx ends.
func (l *life) acquire(ctx context.Context, now func() time.Time) (chan struct{}, *busy) {
	for {
		l.mu.Lock()
		if l.running == nil {
			run := make(chan struct{})
			l.running, l.begun, l.overran = run, now(), 0
			l.mu.Unlock()
			return run, nil
		}
		running, b := l.running, &busy{begun: l.begun, overran: l.overran}
		l.mu.Unlock()
		if b.overran != 0 {
			return nil, b
		}
		select {
		case <-running:
		case <-ctx.Done():
			return nil, b
		}
	}
}

// abandon records that the run (its token) outlived its deadline: its
// caller reports it as overrun and does not wait for it.
func (l *life) abandon(run chan struct{}, deadline time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running == run {
		l.overran = deadline
	}
}

// release ends the run begun at `at`, remembering what it measured, even
// when its caller gave up on it.
func (l *life) release(at time.Time, results []wire.CheckResult, devices []wire.Peripheral, inventory bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.running)
	l.running, l.overran = nil, 0
	l.remember(at, results, devices, inventory)
}

// release without a run: the rate limit let the check off.
func (l *life) free() {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.running)
	l.running, l.overran = nil, 0
}

// measured says whether a result is a measurement (or a verdict the check
// reached itself, "no camera found"), not an error or a skip.
func measured(r wire.CheckResult) bool {
	return r.Verdict != wire.Error && r.Verdict != wire.Skipped
}

func (l *life) remember(at time.Time, results []wire.CheckResult, devices []wire.Peripheral, inventory bool) {
	complete := len(results) > 0
	var targets []string
	for _, r := range results {
		if !measured(r) {
			complete = false
			if _, ok := l.last[r.Target]; ok {
				targets = append(targets, r.Target)
			}
			continue
		}
		l.last[r.Target] = memo{at: at, res: copyResult(r)}
		targets = append(targets, r.Target)
	}
	if len(targets) > 0 {
		l.targets = targets
	}
	if inventory && len(devices) > 0 {
		l.devices = devices
	}
	l.complete = time.Time{}
	if complete {
		l.complete = at
	}
}

// completeAt says whether the last complete measurement is the run begun at `at`.
func (l *life) completeAt(at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.complete.IsZero() && l.complete.Equal(at)
}

// due says whether a spaced check measures now; if not, the time it is next.
func (l *life) due(every time.Duration, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if every <= 0 || l.complete.IsZero() {
		return time.Time{}, true
	}
	next := l.complete.Add(every)
	return next, !now.Before(next)
}

// repeat is the results of a run that did not start the check: the last
// result of each target of the last run that measured, with the verdict and
// code given (an empty verdict: as measured, judged again) and the reason saying why;
// or one result saying there is none.
func (l *life) repeat(check string, v wire.Verdict, code, why string, now time.Time) ([]wire.CheckResult, []wire.Peripheral) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []wire.CheckResult
	for _, t := range l.targets {
		m, ok := l.last[t]
		if !ok {
			continue
		}
		out = append(out, repeated(m, v, code, why, now))
	}
	if len(out) == 0 {
		if v == "" {
			v = wire.Skipped
		}
		return []wire.CheckResult{{Check: check, Target: check, Verdict: v, Code: code, Reason: why + NoEarlierResult}}, nil
	}
	return out, l.devices
}

// fill puts each target's last result in place of a skipped result with a
// code and no measurements (the check could not measure it now and said
// why): skipped, with the check's code and reason.
func (l *life) fill(results []wire.CheckResult, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, r := range results {
		if r.Verdict != wire.Skipped || r.Code == "" || r.Code == wire.CodeNotConfigured || len(r.Measurements) > 0 {
			continue
		}
		m, ok := l.last[r.Target]
		if !ok {
			results[i].Reason += NoEarlierResult
			continue
		}
		results[i] = repeated(m, wire.Skipped, r.Code, r.Reason, now)
	}
}

func repeated(m memo, v wire.Verdict, code, why string, now time.Time) wire.CheckResult {
	r := copyResult(m.res)
	if v != "" {
		r.Verdict, r.Code = v, code
	}
	r.Reason = RepeatReason(why, m.at, now, m.res.Reason)
	return r
}

// copyResult copies a result deeply enough that judging one copy leaves
// the other alone.
func copyResult(r wire.CheckResult) wire.CheckResult {
	r.Measurements = maps.Clone(r.Measurements)
	r.Rules = nil
	return r
}

// stillRunning says why a run did not start the check.
func stillRunning(check string, b *busy, now time.Time) (wire.Verdict, string, string) {
	why := fmt.Sprintf("the %s check was not started again: its run begun at %s is still going", check, quiet.Stamp(b.begun, now))
	if b.overran != 0 {
		return wire.Error, wire.CodeTimeout, why + fmt.Sprintf(", past its %v deadline", b.overran)
	}
	return wire.Skipped, "", why
}
