package premeeting

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/readiness"
	"github.com/siaprapat/siaprapat/controller/sessions"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

type pub struct {
	mu     sync.Mutex
	topics []string
}

func (p *pub) Publish(topic string, _ []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.topics = append(p.topics, topic)
	return nil
}

// t0 is the tests' present: every part the planner reads takes its time
// from the tests' clock, never from the machine's, so the date is free.
var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC) // 08:00 WIB

// clock is the tests' clock, shared by the fleet, the commands and the planner.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	return t
}

func setup(t *testing.T) (*Planner, *pub, *fleet.Fleet, *sessions.Store, *alerts.Manager) {
	t.Helper()
	p, pb, f, st, am, _ := setupClock(t)
	return p, pb, f, st, am
}

// setupClock is setup with the clock every part reads, at t0.
func setupClock(t *testing.T) (*Planner, *pub, *fleet.Fleet, *sessions.Store, *alerts.Manager, *clock) {
	t.Helper()
	c := &clock{t: t0}
	f := fleet.New(fleet.Options{Freshness: time.Hour, Now: c.now})
	p := &pub{}
	reg := prometheus.NewPedanticRegistry()
	d, err := commands.New(p, f, reg, c.now)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sessions.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	am, err := alerts.New(alerts.Options{Now: c.now}, reg)
	if err != nil {
		t.Fatal(err)
	}
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Standard: std, Now: c.now}, st, f, d, am), p, f, st, am, c
}

// readyReport is a report of the room with the verdict v: ready with its
// host check passing, else with the CPU rule failing.
func readyReport(v wire.RoomVerdict, at time.Time) *wire.Report {
	cpu := 0.95
	check := wire.CheckResult{Check: "host", Target: "pc", Verdict: wire.Fail,
		Rules: []wire.RuleResult{{Rule: "host_cpu", Verdict: wire.Fail, Observed: &cpu, Reason: "cpu_used_ratio 95 % is above the fail limit 90 %", Want: "<= 70 %"}}}
	if v == wire.Ready {
		cpu = 0.2
		check.Verdict, check.Rules[0].Verdict, check.Rules[0].Reason = wire.Pass, wire.Pass, ""
	}
	return &wire.Report{Schema: wire.Schema, ID: wire.NewID(), Site: "s", Room: "r", MeasuredAt: at, Verdict: v,
		Checks: []wire.CheckResult{check}}
}

func TestPlanner_ChecksAtEachLeadTimeOnce(t *testing.T) {
	p, pb, f, st, _ := setup(t)
	f.ApplyStatus("s", "r", wire.StatusOnline, t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	ctx := context.Background()
	for _, at := range []time.Duration{0, 29 * time.Minute, 30 * time.Minute, 30*time.Minute + time.Second, 49 * time.Minute, 50 * time.Minute, 55 * time.Minute, 61 * time.Minute} {
		p.Step(ctx, t0.Add(at))
	}
	if len(pb.topics) != 2 {
		t.Errorf("%d commands sent, want 2 (T-30 and T-10): %v", len(pb.topics), pb.topics)
	}
}

func TestPlanner_LateSessionGetsOneCheck(t *testing.T) {
	p, pb, f, st, _ := setup(t)
	f.ApplyStatus("s", "r", wire.StatusOnline, t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(5 * time.Minute), End: t0.Add(time.Hour)})
	p.Step(context.Background(), t0)
	p.Step(context.Background(), t0.Add(time.Second))
	if len(pb.topics) != 1 {
		t.Errorf("%d commands for a session 5 min away, want 1", len(pb.topics))
	}
}

func TestPlanner_AlertFiresInTheWindowAndEndsWhenTheSessionEnds(t *testing.T) {
	p, _, f, st, am := setup(t)
	f.ApplyReport(readyReport(wire.NotReady, t0), t0)
	sess, _ := st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	ctx := context.Background()
	p.Step(ctx, t0)
	if n := len(am.Firing()); n != 0 {
		t.Fatalf("%d alerts an hour before, outside the 30 min window", n)
	}
	p.Step(ctx, t0.Add(31*time.Minute))
	firing := am.Firing()
	if len(firing) != 1 {
		t.Fatalf("%d alerts in the window, want 1", len(firing))
	}
	a := firing[0]
	if a.Labels["session"] != sess.ID || a.Annotations["description"] != "- Room PC CPU use 95 %, at most 90" ||
		a.Annotations["description_id"] != "- Pemakaian CPU PC ruang 95 %, maksimal 90" ||
		a.Annotations["summary"] != `Room s/r is not ready for "Rapat" at Tue 24 Nov 2026 09:00 WIB` {
		t.Errorf("alert %+v", a)
	}
	p.Step(ctx, t0.Add(40*time.Minute))
	if n := len(am.Firing()); n != 1 {
		t.Errorf("%d alerts after another step, want the same 1", n)
	}
	p.Step(ctx, t0.Add(2*time.Hour+time.Second))
	if n := len(am.Firing()); n != 0 {
		t.Errorf("%d alerts after the session ended, want 0", n)
	}
}

// TestPlanner_OfflineAgentAlertsAfterGraceAndOnlyANewReportResolves: an
// agent that goes away is given the grace period; past it the room is
// offline; when the agent comes back, the report read again (measured
// before it went away) does not resolve the alert; a new passing one does.
func TestPlanner_OfflineAgentAlertsAfterGraceAndOnlyANewReportResolves(t *testing.T) {
	p, _, f, st, am, c := setupClock(t)
	f.ApplyReport(readyReport(wire.Ready, t0), t0)
	f.ApplyStatus("s", "r", wire.StatusOffline, t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	ctx := context.Background()
	for _, at := range []time.Duration{0, time.Minute, DefaultOfflineGrace - time.Second} {
		p.Step(ctx, c.set(t0.Add(at)))
		if n := len(am.Firing()); n != 0 {
			t.Fatalf("%d alerts %v after the agent left, within the grace period", n, at)
		}
	}
	p.Step(ctx, c.set(t0.Add(DefaultOfflineGrace)))
	firing := am.Firing()
	if len(firing) != 1 || firing[0].Causes[0].Kind != readiness.KindOffline ||
		firing[0].Annotations["description"] != "- the room's agent is offline since 08:00 WIB" {
		t.Fatalf("offline agent past the grace period: %+v", firing)
	}
	back := c.set(t0.Add(3 * time.Minute))
	f.ApplyStatus("s", "r", wire.StatusOnline, back)
	p.Step(ctx, back)
	if n := len(am.Firing()); n != 1 {
		t.Fatalf("%d alerts once the agent is back with only its old report, want the 1 still firing", n)
	}
	f.ApplyReport(readyReport(wire.Ready, back.Add(time.Second)), back.Add(time.Second))
	p.Step(ctx, c.set(back.Add(2*time.Second)))
	if n := len(am.Firing()); n != 0 {
		t.Errorf("%d alerts after a passing report measured after the failure", n)
	}
}

// TestPlanner_AgentRestartInsideTheWindowChangesNothing: an alert for a
// failing rule stays exactly as it was while the agent restarts (offline,
// then online with the same report, then a new report failing the same way).
func TestPlanner_AgentRestartInsideTheWindowChangesNothing(t *testing.T) {
	p, _, f, st, am, c := setupClock(t)
	f.ApplyReport(readyReport(wire.NotReady, t0), t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(12 * time.Minute), End: t0.Add(time.Hour)})
	ctx := context.Background()
	p.Step(ctx, t0)
	before := am.Firing()
	if len(before) != 1 {
		t.Fatalf("%d alerts, want 1", len(before))
	}
	f.ApplyStatus("s", "r", wire.StatusOffline, c.set(t0.Add(10*time.Second)))
	for _, at := range []time.Duration{11 * time.Second, 12 * time.Second, 13 * time.Second} {
		p.Step(ctx, c.set(t0.Add(at)))
	}
	f.ApplyStatus("s", "r", wire.StatusOnline, c.set(t0.Add(14*time.Second)))
	p.Step(ctx, t0.Add(14*time.Second))
	f.ApplyReport(readyReport(wire.NotReady, t0.Add(15*time.Second)), c.set(t0.Add(15*time.Second)))
	p.Step(ctx, t0.Add(16*time.Second))
	after := am.Firing()
	if len(after) != 1 || after[0].Fingerprint != before[0].Fingerprint || !maps.Equal(after[0].Annotations, before[0].Annotations) {
		t.Errorf("alert changed by a restart:\nbefore %+v\nafter  %+v", before, after)
	}
}

func TestPlanner_DeletedSessionEndsItsAlertAsCancelled(t *testing.T) {
	p, _, f, st, am := setup(t)
	dir := t.TempDir()
	hooked, err := alerts.New(alerts.Options{DataDir: dir}, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer hooked.Close()
	_ = am
	p.alerts = hooked
	f.ApplyReport(readyReport(wire.NotReady, t0), t0)
	sess, _ := st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	ctx := context.Background()
	p.Step(ctx, t0)
	if len(hooked.Firing()) != 1 {
		t.Fatal("no alert")
	}
	if err := st.Delete(sess.ID); err != nil {
		t.Fatal(err)
	}
	want := map[string]alerts.End{"s/r/" + sess.ID: alerts.Cancelled}
	if got := p.ends(nil, t0.Add(time.Second)); !maps.Equal(got, want) {
		t.Errorf("ends %v, want %v", got, want)
	}
	p.Step(ctx, t0.Add(time.Second))
	if n := len(hooked.Firing()); n != 0 {
		t.Errorf("%d alerts after the session was deleted", n)
	}
}

func TestPlanner_EndsOfAlertsWhoseSessionMovedOrIsOver(t *testing.T) {
	p, _, f, st, am := setup(t)
	f.ApplyReport(readyReport(wire.NotReady, t0), t0)
	moved, _ := st.Put(sessions.Session{Site: "s", Room: "r", Title: "Dipindah", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	over, _ := st.Put(sessions.Session{Site: "s", Room: "r", Title: "Selesai", Start: t0.Add(-time.Hour), End: t0.Add(time.Minute)})
	p.Step(context.Background(), t0)
	if n := len(am.Firing()); n != 2 {
		t.Fatalf("%d alerts, want 2", n)
	}
	moved.Start, moved.End = t0.Add(5*time.Hour), t0.Add(6*time.Hour)
	st.Put(moved)
	want := map[string]alerts.End{"s/r/" + moved.ID: alerts.Rescheduled, "s/r/" + over.ID: alerts.Ended}
	if got := p.ends(nil, t0.Add(2*time.Minute)); !maps.Equal(got, want) {
		t.Errorf("ends %v, want %v", got, want)
	}
}

func TestPlanner_RemovedAgentSaysSo(t *testing.T) {
	p, _, f, st, am, c := setupClock(t)
	f.ApplyReport(readyReport(wire.Ready, t0), t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	f.Revoke("s", "r", t0.Add(time.Minute))
	p.Step(context.Background(), c.set(t0.Add(2*time.Minute)))
	firing := am.Firing()
	if len(firing) != 1 || firing[0].Causes[0].Kind != readiness.KindRemoved ||
		firing[0].Annotations["description_id"] != "- agen ruang ini dihapus pada 08.01 WIB" {
		t.Errorf("removed agent: %+v", firing)
	}
}

// TestPlanner_CheckThatFoundTheAgentOfflineIsSentAgainWhenItIsBack: an
// agent restarting at a lead time still gets its room checked.
func TestPlanner_CheckThatFoundTheAgentOfflineIsSentAgainWhenItIsBack(t *testing.T) {
	p, pb, f, st, _, c := setupClock(t)
	f.ApplyReport(readyReport(wire.Ready, t0), t0)
	f.ApplyStatus("s", "r", wire.StatusOffline, t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	ctx := context.Background()
	p.Step(ctx, t0) // the T-10 check finds the agent offline: nothing sent
	if len(pb.topics) != 0 {
		t.Fatalf("sent %v to an offline agent", pb.topics)
	}
	f.ApplyStatus("s", "r", wire.StatusOnline, c.set(t0.Add(20*time.Second)))
	for _, at := range []time.Duration{21 * time.Second, 22 * time.Second} {
		p.Step(ctx, c.set(t0.Add(at)))
	}
	if len(pb.topics) != 1 {
		t.Errorf("%d checks sent after the agent came back, want 1", len(pb.topics))
	}
}

// slowPub acknowledges each publish after a while and records how many
// were waiting at once.
type slowPub struct {
	pub
	inFlight, most atomic.Int64
}

func (p *slowPub) Publish(topic string, payload []byte) error {
	n := p.inFlight.Add(1)
	for m := p.most.Load(); n > m && !p.most.CompareAndSwap(m, n); m = p.most.Load() {
	}
	time.Sleep(5 * time.Millisecond)
	p.inFlight.Add(-1)
	return p.pub.Publish(topic, payload)
}

func TestPlanner_SendsDueChecksSeveralAtOnceAndEachOnce(t *testing.T) {
	f := fleet.New(fleet.Options{Freshness: time.Hour, Now: func() time.Time { return t0 }})
	sp := &slowPub{}
	d, err := commands.New(sp, f, prometheus.NewPedanticRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sessions.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var want []string
	for i := range 20 {
		room := fmt.Sprintf("r%02d", i)
		status := wire.StatusOnline
		if i == 7 {
			status = wire.StatusOffline
		} else {
			want = append(want, wire.Topic("s", room, wire.KindCmd))
		}
		f.ApplyStatus("s", room, status, t0)
		st.Put(sessions.Session{Site: "s", Room: room, Title: "Rapat", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	}
	p := New(Options{Sending: 4}, st, f, d, nil)
	p.Step(context.Background(), t0)
	p.Step(context.Background(), t0.Add(time.Second))
	slices.Sort(sp.topics)
	if !slices.Equal(sp.topics, want) {
		t.Errorf("sent to %v, want once to each online room", sp.topics)
	}
	if m := sp.most.Load(); m < 2 || m > 4 {
		t.Errorf("%d sends waited at once, want 2 to 4", m)
	}
	// Every session knows its check as soon as the step is over.
	for _, s := range st.List(sessions.Filter{}) {
		if s.Room == "r07" {
			// Offline since t0: within the grace period the room is judged
			// by its (absent) report; past it, it is offline.
			if a := p.assess(s, t0.Add(3*time.Minute)); a.ready || a.blocking[0].Kind != readiness.KindOffline {
				t.Errorf("offline room: %+v", a)
			}
			continue
		}
		if c, ok := d.Get(p.lastCheck[s.ID]); !ok || c.Status != commands.Pending {
			t.Errorf("room %s: last check %+v, %v", s.Room, c, ok)
		}
	}
}

func TestPlanner_TellsASessionsLeadTimesAndLastCheck(t *testing.T) {
	p, _, f, st, _ := setup(t)
	f.ApplyStatus("s", "r", wire.StatusOnline, t0)
	s, err := st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.LeadTimes("s", "r"); !slices.Equal(got, []time.Duration{30 * time.Minute, 10 * time.Minute}) {
		t.Errorf("lead times %v", got)
	}
	if id, ok := p.LastCheck(s.ID); ok {
		t.Errorf("a check %s before any lead time", id)
	}
	p.Step(context.Background(), t0.Add(30*time.Minute))
	id, ok := p.LastCheck(s.ID)
	if c, found := p.commands.Get(id); !ok || !found || c.Site != "s" || c.Room != "r" {
		t.Errorf("last check %q %v: %+v", id, ok, c)
	}
}
