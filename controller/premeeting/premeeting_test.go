package premeeting

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/controller/alerts"
	"github.com/siaprapat/siaprapat/controller/commands"
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/sessions"
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

var t0 = time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC) // 08:00 WIB

func setup(t *testing.T) (*Planner, *pub, *fleet.Fleet, *sessions.Store, *alerts.Manager) {
	t.Helper()
	f := fleet.New(fleet.Options{Freshness: time.Hour, Now: func() time.Time { return t0 }})
	p := &pub{}
	reg := prometheus.NewPedanticRegistry()
	d, err := commands.New(p, f, reg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sessions.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	am, err := alerts.New(alerts.Options{}, reg)
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{}, st, f, d, am), p, f, st, am
}

func readyReport(v report.RoomVerdict, at time.Time) *report.Report {
	return &report.Report{Schema: report.Schema, ID: report.NewID(), Site: "s", Room: "r", MeasuredAt: at, Verdict: v,
		Checks: []report.CheckResult{{Check: "host", Target: "pc", Verdict: report.Fail,
			Rules: []report.RuleResult{{Rule: "host_cpu", Verdict: report.Fail, Reason: "cpu_used_ratio 95 % is above the fail limit 90 %", Want: "<= 70 %"}}}}}
}

func TestPlanner_ChecksAtEachLeadTimeOnce(t *testing.T) {
	p, pb, f, st, _ := setup(t)
	f.ApplyStatus("s", "r", report.StatusOnline, t0)
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
	f.ApplyStatus("s", "r", report.StatusOnline, t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(5 * time.Minute), End: t0.Add(time.Hour)})
	p.Step(context.Background(), t0)
	p.Step(context.Background(), t0.Add(time.Second))
	if len(pb.topics) != 1 {
		t.Errorf("%d commands for a session 5 min away, want 1", len(pb.topics))
	}
}

func TestPlanner_AlertFiresInTheWindowAndResolvesWhenTheSessionEnds(t *testing.T) {
	p, _, f, st, am := setup(t)
	f.ApplyReport(readyReport(report.NotReady, t0), t0)
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
	if a.Labels["session"] != sess.ID || !strings.Contains(a.Annotations["description"], "host_cpu (host pc): cpu_used_ratio 95 %") ||
		a.Annotations["summary"] != `Room s/r is not ready for "Rapat" at 2026-11-24 09:00 WIB` {
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

func TestPlanner_OfflineAgentAlertsAndRecoveryResolves(t *testing.T) {
	p, _, f, st, am := setup(t)
	f.ApplyReport(readyReport(report.Ready, t0), t0)
	f.ApplyStatus("s", "r", report.StatusOffline, t0)
	st.Put(sessions.Session{Site: "s", Room: "r", Title: "Rapat", Start: t0.Add(10 * time.Minute), End: t0.Add(time.Hour)})
	ctx := context.Background()
	p.Step(ctx, t0)
	firing := am.Firing()
	if len(firing) != 1 || !strings.Contains(firing[0].Annotations["description"], "offline") {
		t.Fatalf("offline agent: %+v", firing)
	}
	f.ApplyStatus("s", "r", report.StatusOnline, t0)
	f.ApplyReport(readyReport(report.Ready, t0.Add(time.Second)), t0.Add(time.Second))
	p.Step(ctx, t0.Add(2*time.Second))
	if n := len(am.Firing()); n != 0 {
		t.Errorf("%d alerts after the room recovered", n)
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
	d, err := commands.New(sp, f, prometheus.NewPedanticRegistry())
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
		status := report.StatusOnline
		if i == 7 {
			status = report.StatusOffline
		} else {
			want = append(want, report.Topic("s", room, report.KindCmd))
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
		ready, problems := p.readiness(s)
		if s.Room == "r07" {
			if ready || !strings.Contains(problems[0], "pre-meeting check offline") {
				t.Errorf("offline room: ready %v, %v", ready, problems)
			}
			continue
		}
		if c, ok := d.Get(p.lastCheck[s.ID]); !ok || c.Status != commands.Pending {
			t.Errorf("room %s: last check %+v, %v", s.Room, c, ok)
		}
	}
}
