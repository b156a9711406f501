// Package commands sends check commands to agents over MQTT and follows
// each one to its end: the agent's result, its deadline passing, or the
// agent being offline in the first place.
package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/wire"
)

// Status of a check command.
type Status string

const (
	Pending Status = "pending" // sent, no answer yet
	Done    Status = "done"    // the agent answered with a report
	Failed  Status = "failed"  // the agent answered that it could not run the checks
	Timeout Status = "timeout" // no answer by the deadline
	Offline Status = "offline" // the room's agent is offline: nothing was sent
)

// Limits on timeouts and on the finished checks kept for lookups.
const (
	DefaultTimeout = 2 * time.Minute
	MaxTimeout     = 10 * time.Minute

	// Finished checks are kept for lookups: the newest keepReports with
	// the agent's report, older ones without it for keepFinishedFor after
	// they finished, and never more than keepFinishedMax. The planner reads
	// a check's outcome when its session starts, up to the longest lead
	// time (24 h) after sending it: a fan-out to more rooms than a count
	// kept would otherwise forget most of its timeouts before then.
	keepReports     = 2000
	keepFinishedFor = 24*time.Hour + MaxTimeout
	keepFinishedMax = 250_000
)

// Errors of Start.
var (
	ErrUnknownRoom = errors.New("unknown room")                            // no agent has ever reported for it
	ErrBusy        = errors.New("too many checks pending")                 // MaxPendingPerRoom reached
	ErrCannotSend  = errors.New("could not send the command to the agent") // the controller's broker is away
)

// MaxPendingPerRoom bounds the checks waiting for one room's agent.
const MaxPendingPerRoom = 4

// Publisher sends one MQTT message (QoS 1).
type Publisher interface {
	Publish(topic string, payload []byte) error
}

// Check is one check command and what came of it.
type Check struct {
	ID       string           `json:"id"`
	Site     string           `json:"site"`
	Room     string           `json:"room"`
	Checks   []string         `json:"checks,omitempty"`
	IssuedAt time.Time        `json:"issued_at"`
	Deadline time.Time        `json:"deadline"`
	Status   Status           `json:"status"`
	Verdict  wire.RoomVerdict `json:"verdict,omitempty"` // the room's readiness by this check; not_ready when offline, failed or timed out
	Reason   string           `json:"reason,omitempty"`
	Report   *wire.Report     `json:"report,omitempty"`
	// FinishedAt is when the check ended; zero while pending.
	FinishedAt time.Time `json:"finished_at,omitzero"`

	done chan struct{}
}

type roomKey struct{ site, room string }

// Dispatcher sends commands and tracks them. It is safe for concurrent use;
// Start calls the Publisher from the caller's goroutine, so concurrent
// Starts publish concurrently.
type Dispatcher struct {
	pub   Publisher
	fleet *fleet.Fleet
	now   func() time.Time

	mu       sync.Mutex
	checks   map[string]*Check
	pending  map[roomKey]int // pending checks per room, so that Start need not scan every check
	finished []string        // ids in the order they finished, for trimming

	outcomes *prometheus.CounterVec
}

// New returns a dispatcher publishing through pub, registering its counter
// on reg; now is the controller's clock (time.Now when nil).
func New(pub Publisher, f *fleet.Fleet, reg prometheus.Registerer, now func() time.Time) (*Dispatcher, error) {
	if now == nil {
		now = time.Now
	}
	d := &Dispatcher{
		pub: pub, fleet: f, now: now, checks: map[string]*Check{}, pending: map[roomKey]int{},
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_check_commands_total",
			Help: "Check commands sent to agents, by outcome (ready, degraded, not_ready, failed, timeout, offline).",
		}, []string{"outcome"}),
	}
	for _, o := range []string{"ready", "degraded", "not_ready", "failed", "timeout", "offline"} {
		d.outcomes.WithLabelValues(o)
	}
	if err := reg.Register(d.outcomes); err != nil {
		return nil, err
	}
	return d, nil
}

// Start sends a check command to a room's agent. An agent that is offline
// gets nothing: the check ends at once as offline (not ready). The check
// times out, not ready, if no answer comes within timeout.
func (d *Dispatcher) Start(site, room string, checks []string, timeout time.Duration) (Check, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if timeout > MaxTimeout {
		return Check{}, fmt.Errorf("timeout %v is over the %v limit", timeout, MaxTimeout)
	}
	for _, name := range checks {
		if err := wire.CheckCheckName(name); err != nil {
			return Check{}, fmt.Errorf("checks: %w", err)
		}
		if !wire.KnownCheck(name) {
			return Check{}, fmt.Errorf("checks: %q is not a check; want some of %s", name, strings.Join(wire.Checks, ", "))
		}
	}
	v, ok := d.fleet.Get(site, room)
	if !ok {
		return Check{}, fmt.Errorf("%w %s/%s: no agent has reported for it", ErrUnknownRoom, site, room)
	}
	now := d.now()
	c := &Check{
		ID: wire.NewID(), Site: site, Room: room, Checks: checks,
		IssuedAt: now, Deadline: now.Add(timeout), Status: Pending, done: make(chan struct{}),
	}
	key := roomKey{site, room}
	d.mu.Lock()
	if d.pending[key] >= MaxPendingPerRoom {
		d.mu.Unlock()
		return Check{}, fmt.Errorf("%w: %s/%s already has %d checks waiting for its agent", ErrBusy, site, room, MaxPendingPerRoom)
	}
	d.checks[c.ID] = c
	d.pending[key]++
	d.mu.Unlock()
	if v.AgentStatus == wire.StatusOffline {
		d.finish(c.ID, Offline, "", "the room's agent is offline (since "+v.StatusAt.UTC().Format(time.RFC3339)+")", nil)
		return d.snapshot(c), nil
	}
	cmd := wire.Command{Schema: wire.CommandSchema, ID: c.ID, Kind: wire.CommandCheck, Checks: checks,
		Deadline: c.Deadline, TimeoutSeconds: timeout.Seconds()}
	payload, err := cmd.Encode()
	if err == nil {
		err = d.pub.Publish(wire.Topic(site, room, wire.KindCmd), payload)
	}
	if err != nil {
		// Not the room's fault: the controller could not check it.
		d.mu.Lock()
		if c.Status == Pending {
			d.unpendLocked(key)
		}
		delete(d.checks, c.ID)
		d.mu.Unlock()
		return Check{}, fmt.Errorf("%w: %v", ErrCannotSend, err)
	}
	time.AfterFunc(timeout, func() {
		d.finish(c.ID, Timeout, "", fmt.Sprintf("the agent did not answer within %v", timeout), nil)
	})
	return d.snapshot(c), nil
}

// Resolve takes an agent's result. A result for an unknown, finished or
// other room's command is ignored and reported as false.
func (d *Dispatcher) Resolve(site, room string, res *wire.Result) bool {
	d.mu.Lock()
	c, ok := d.checks[res.CommandID]
	ok = ok && c.Site == site && c.Room == room && c.Status == Pending
	d.mu.Unlock()
	if !ok {
		return false
	}
	if res.Report == nil {
		return d.finish(res.CommandID, Failed, "", "the agent could not run the checks: "+res.Error, nil)
	}
	return d.finish(res.CommandID, Done, res.Report.Verdict, "", res.Report)
}

// finish ends a pending check once; later calls change nothing.
func (d *Dispatcher) finish(id string, st Status, verdict wire.RoomVerdict, reason string, rep *wire.Report) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.checks[id]
	if !ok || c.Status != Pending {
		return false
	}
	if verdict == "" {
		verdict = wire.NotReady
	}
	c.Status, c.Verdict, c.Reason, c.Report, c.FinishedAt = st, verdict, reason, rep, d.now()
	d.unpendLocked(roomKey{c.Site, c.Room})
	outcome := string(st)
	if st == Done {
		outcome = string(verdict)
	}
	d.outcomes.WithLabelValues(outcome).Inc()
	close(c.done)
	d.finished = append(d.finished, id)
	if n := len(d.finished) - keepReports - 1; n >= 0 {
		d.checks[d.finished[n]].Report = nil // no longer among the newest
	}
	cutoff := c.FinishedAt.Add(-keepFinishedFor)
	for len(d.finished) > keepReports &&
		(len(d.finished) > keepFinishedMax || !d.checks[d.finished[0]].FinishedAt.After(cutoff)) {
		delete(d.checks, d.finished[0])
		d.finished = d.finished[1:]
	}
	return true
}

// unpendLocked counts one of a room's pending checks as no longer pending.
// Callers hold d.mu.
func (d *Dispatcher) unpendLocked(key roomKey) {
	if d.pending[key]--; d.pending[key] <= 0 {
		delete(d.pending, key)
	}
}

// snapshot copies a check as it is now. It takes the check itself, not its
// id: under many concurrent Starts, a check that finished at once may have
// been trimmed from d.checks by the time its Start returns.
func (d *Dispatcher) snapshot(c *Check) Check {
	d.mu.Lock()
	defer d.mu.Unlock()
	return *c
}

// Get returns a check by id.
func (d *Dispatcher) Get(id string) (Check, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.checks[id]
	if !ok {
		return Check{}, false
	}
	return *c, true
}

// Wait waits until the check has finished or ctx ends, and returns it as it is then.
func (d *Dispatcher) Wait(ctx context.Context, id string) (Check, bool) {
	d.mu.Lock()
	c, ok := d.checks[id]
	d.mu.Unlock()
	if !ok {
		return Check{}, false
	}
	select {
	case <-c.done:
	case <-ctx.Done():
	}
	return d.Get(id)
}
