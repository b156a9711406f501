package commands

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/wire"
)

type sent struct {
	topic   string
	payload []byte
}

type fakePub struct {
	mu   sync.Mutex
	msgs []sent
	err  error
}

func (p *fakePub) Publish(topic string, payload []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, sent{topic, payload})
	return p.err
}

func setup(t *testing.T) (*Dispatcher, *fakePub, *fleet.Fleet) {
	t.Helper()
	f := fleet.New(fleet.Options{Freshness: time.Minute})
	f.ApplyStatus("s", "up", wire.StatusOnline, time.Now())
	f.ApplyStatus("s", "down", wire.StatusOffline, time.Now())
	pub := &fakePub{}
	d, err := New(pub, f, prometheus.NewPedanticRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return d, pub, f
}

func TestDispatcher_SendsCommandAndTakesTheResult(t *testing.T) {
	d, pub, _ := setup(t)
	c, err := d.Start("s", "up", []string{"host"}, time.Minute)
	if err != nil || c.Status != Pending {
		t.Fatalf("start: %+v, %v", c, err)
	}
	if len(pub.msgs) != 1 || pub.msgs[0].topic != "siaprapat/v1/s/up/cmd" {
		t.Fatalf("published %+v", pub.msgs)
	}
	cmd, err := wire.DecodeCommand(pub.msgs[0].payload)
	if err != nil || cmd.ID != c.ID || cmd.Checks[0] != "host" {
		t.Fatalf("command %+v, %v", cmd, err)
	}
	rep := &wire.Report{Schema: wire.Schema, ID: "r1", Site: "s", Room: "up", MeasuredAt: time.Now(), Verdict: wire.Degraded}
	if d.Resolve("s", "other", &wire.Result{CommandID: c.ID, Report: rep}) {
		t.Error("a result from another room's topic was taken")
	}
	if !d.Resolve("s", "up", &wire.Result{CommandID: c.ID, Report: rep}) {
		t.Fatal("the result was not taken")
	}
	got, _ := d.Wait(context.Background(), c.ID)
	if got.Status != Done || got.Verdict != wire.Degraded || got.Report.ID != "r1" {
		t.Errorf("check %+v", got)
	}
	if d.Resolve("s", "up", &wire.Result{CommandID: c.ID, Report: rep}) {
		t.Error("a second result for a finished check was taken")
	}
}

func TestDispatcher_OfflineUnknownTimeoutAndFailures(t *testing.T) {
	d, pub, _ := setup(t)
	if _, err := d.Start("s", "nowhere", nil, 0); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("unknown room: %v", err)
	}
	c, _ := d.Start("s", "down", nil, 0)
	if c.Status != Offline || c.Verdict != wire.NotReady || !strings.HasPrefix(c.Reason, "the room's agent is offline") || len(pub.msgs) != 0 {
		t.Errorf("offline agent: %+v (sent %d)", c, len(pub.msgs))
	}
	c, _ = d.Start("s", "up", nil, 50*time.Millisecond)
	got, _ := d.Wait(context.Background(), c.ID)
	if got.Status != Timeout || got.Verdict != wire.NotReady || got.Reason != "the agent did not answer within 50ms" {
		t.Errorf("timeout: %+v", got)
	}
	c, _ = d.Start("s", "up", nil, time.Minute)
	d.Resolve("s", "up", &wire.Result{CommandID: c.ID, Error: `unknown check "camera"`})
	if got, _ := d.Get(c.ID); got.Status != Failed || !strings.Contains(got.Reason, `unknown check "camera"`) {
		t.Errorf("failed: %+v", got)
	}
	pub.err = errors.New("broker gone")
	if _, err := d.Start("s", "up", nil, time.Minute); !errors.Is(err, ErrCannotSend) || err.Error() != "could not send the command to the agent: broker gone" {
		t.Errorf("send failure: %v", err)
	}
	pub.err = nil
	if _, err := d.Start("s", "up", []string{"Host"}, time.Minute); err == nil || err.Error() != `checks: "Host" is not a check name (lower case letters, digits and '_', e.g. host)` {
		t.Errorf("bad check name: %v", err)
	}
	for range MaxPendingPerRoom {
		if _, err := d.Start("s", "up", nil, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Start("s", "up", nil, time.Minute); !errors.Is(err, ErrBusy) {
		t.Errorf("past the pending limit: %v", err)
	}
	if _, err := d.Start("s", "up", nil, time.Hour); err == nil {
		t.Error("an hour's timeout was accepted")
	}
	if n := testutil.ToFloat64(d.outcomes.WithLabelValues("offline")); n != 1 {
		t.Errorf("offline outcomes = %v", n)
	}
}

func TestDispatcher_PendingLimitIsPerRoomAndFreedWhenChecksEnd(t *testing.T) {
	d, pub, f := setup(t)
	f.ApplyStatus("s", "up2", wire.StatusOnline, time.Now())
	var ids []string
	for range MaxPendingPerRoom {
		c, err := d.Start("s", "up", nil, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := d.Start("s", "up", nil, time.Minute); !errors.Is(err, ErrBusy) {
		t.Fatalf("past the pending limit: %v", err)
	}
	if _, err := d.Start("s", "up2", nil, time.Minute); err != nil {
		t.Errorf("another room is held by the first room's limit: %v", err)
	}
	// An agent's answer frees a place; a send that fails takes none.
	d.Resolve("s", "up", &wire.Result{CommandID: ids[0], Error: "busy"})
	pub.err = errors.New("broker gone")
	if _, err := d.Start("s", "up", nil, time.Minute); !errors.Is(err, ErrCannotSend) {
		t.Fatalf("send failure: %v", err)
	}
	pub.err = nil
	c, err := d.Start("s", "up", nil, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("after one check ended and one send failed: %v", err)
	}
	// A timeout frees a place too.
	d.Wait(context.Background(), c.ID)
	if _, err := d.Start("s", "up", nil, time.Minute); err != nil {
		t.Errorf("after a check timed out: %v", err)
	}
	if _, err := d.Start("s", "up", nil, time.Minute); !errors.Is(err, ErrBusy) {
		t.Errorf("past the pending limit again: %v", err)
	}
}

func TestDispatcher_ConcurrentStartsKeepTheLimit(t *testing.T) {
	d, pub, _ := setup(t)
	var ok, busy atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			switch _, err := d.Start("s", "up", nil, time.Minute); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrBusy):
				busy.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != MaxPendingPerRoom || busy.Load() != 50-MaxPendingPerRoom || len(pub.msgs) != MaxPendingPerRoom {
		t.Errorf("%d started, %d busy, %d sent; want %d started and sent", ok.Load(), busy.Load(), len(pub.msgs), MaxPendingPerRoom)
	}
}

// A fan-out to more rooms than the newest checks kept with their reports:
// the planner reads each check's outcome when its session starts, so an
// older check keeps its status and reason (not its report) until it is
// older than the longest lead time.
func TestDispatcher_KeepsOutcomesOfALargeFanOutUntilTheSessionsStart(t *testing.T) {
	d, _, _ := setup(t)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	answered, _ := d.Start("s", "up", nil, time.Minute)
	rep := &wire.Report{Schema: wire.Schema, ID: "r1", Site: "s", Room: "up", MeasuredAt: now, Verdict: wire.Ready}
	if !d.Resolve("s", "up", &wire.Result{CommandID: answered.ID, Report: rep}) {
		t.Fatal("the result was not taken")
	}
	offline, _ := d.Start("s", "down", nil, time.Minute)
	for range keepReports + 10 {
		now = now.Add(time.Millisecond)
		if _, err := d.Start("s", "down", nil, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(30 * time.Minute) // the sessions start
	if got, ok := d.Get(answered.ID); !ok || got.Status != Done || got.Verdict != wire.Ready || got.Report != nil {
		t.Errorf("the first check, %d checks later: %+v, %v; want done, ready, without its report", keepReports+11, got, ok)
	}
	if got, ok := d.Get(offline.ID); !ok || got.Status != Offline || !strings.HasPrefix(got.Reason, "the room's agent is offline") {
		t.Errorf("the offline check, %d checks later: %+v, %v", keepReports+10, got, ok)
	}
	newest, _ := d.Start("s", "up", nil, time.Minute)
	d.Resolve("s", "up", &wire.Result{CommandID: newest.ID, Report: rep})
	if got, _ := d.Get(newest.ID); got.Report == nil || got.Report.ID != "r1" {
		t.Errorf("the newest check lost its report: %+v", got)
	}

	now = now.Add(keepFinishedFor)
	if _, err := d.Start("s", "down", nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Get(answered.ID); ok {
		t.Error("a check finished more than a day ago is still kept")
	}
	if n := len(d.checks); n != keepReports {
		t.Errorf("%d checks kept after a day, want the newest %d", n, keepReports)
	}
}

func TestDispatcher_UnknownCheckIsRefusedBeforeSending(t *testing.T) {
	d, pub, _ := setup(t)
	if _, err := d.Start("s", "up", []string{"host", "smell"}, time.Minute); err == nil || !strings.Contains(err.Error(), `"smell" is not a check`) {
		t.Errorf("err = %v", err)
	}
	pub.mu.Lock()
	defer pub.mu.Unlock()
	if len(pub.msgs) != 0 {
		t.Error("a command naming an unknown check was sent")
	}
}
