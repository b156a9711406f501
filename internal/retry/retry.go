// Package retry paces a background writer that keeps failing (a full disk,
// a read-only file system): its attempts back off, doubling from Min to
// Max, and its failures are to be logged at most once per LogEvery, saying
// how many there were; the caller counts every one in its metric.
package retry

import "time"

// Defaults of a Pacer.
const (
	DefaultMin      = time.Second
	DefaultMax      = 30 * time.Second
	DefaultLogEvery = 30 * time.Second
)

// Pacer paces one writer. The zero value uses the defaults. It is not safe
// for concurrent use: one writer's loop owns it.
type Pacer struct {
	Min, Max, LogEvery time.Duration

	next    time.Time     // no attempt before this
	delay   time.Duration // the current back-off
	logged  time.Time     // when a failure was last logged
	unsaid  int           // failures since then
	failing bool
}

// Due reports whether an attempt may be made at now.
func (p *Pacer) Due(now time.Time) bool { return !now.Before(p.next) }

// Failed records a failed attempt at now. It reports whether to log it,
// and how many failures (this one included) the log line stands for.
func (p *Pacer) Failed(now time.Time) (log bool, failures int) {
	minD, maxD, every := p.Min, p.Max, p.LogEvery
	if minD <= 0 {
		minD = DefaultMin
	}
	if maxD <= 0 {
		maxD = DefaultMax
	}
	if every <= 0 {
		every = DefaultLogEvery
	}
	p.delay = min(max(2*p.delay, minD), maxD)
	p.next = now.Add(p.delay)
	p.failing = true
	p.unsaid++
	if p.logged.IsZero() || now.Sub(p.logged) >= every {
		p.logged, failures, p.unsaid = now, p.unsaid, 0
		return true, failures
	}
	return false, 0
}

// Succeeded records a successful attempt: the next may come at once. It
// reports whether the writer was failing until now (worth a log line).
func (p *Pacer) Succeeded() (recovered bool) {
	recovered = p.failing
	p.next, p.delay, p.failing, p.unsaid, p.logged = time.Time{}, 0, false, 0, time.Time{}
	return recovered
}

// Delay is the current back-off: zero while the writer succeeds.
func (p *Pacer) Delay() time.Duration { return p.delay }
