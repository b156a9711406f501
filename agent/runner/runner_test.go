package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

type fakeCheck struct {
	name string
	run  func(ctx context.Context) ([]wire.CheckResult, error)
}

func (f fakeCheck) Name() string { return f.name }
func (f fakeCheck) Run(ctx context.Context, _ *standard.Standard) ([]wire.CheckResult, error) {
	return f.run(ctx)
}

func newRunner(t *testing.T, checks ...Check) *Runner {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Site: "s", Room: "r", AgentVersion: "t", Standard: std, Checks: checks, Timeout: 200 * time.Millisecond}
}

func TestRunner_JudgesMeasurementsAndRecordsDuration(t *testing.T) {
	r := newRunner(t, fakeCheck{"host", func(context.Context) ([]wire.CheckResult, error) {
		time.Sleep(10 * time.Millisecond)
		return []wire.CheckResult{{Target: "pc", Measurements: map[string]float64{
			"memory_total_bytes": 16e9, "disk_total_bytes": 256e9, "cpu_used_ratio": 0.8,
			"memory_available_bytes": 8e9, "disk_free_bytes": 100e9, "disk_free_ratio": 0.4,
		}}}, nil
	}})
	rep := r.Run(context.Background())
	if rep.Verdict != wire.Degraded {
		t.Errorf("verdict %s, want degraded (cpu 80 %%)", rep.Verdict)
	}
	c := rep.Checks[0]
	if c.Check != "host" || c.Verdict != wire.Warn || c.DurationSeconds < 0.01 || len(c.Rules) != 6 {
		t.Errorf("check result: %+v", c)
	}
	if _, err := rep.Encode(); err != nil {
		t.Errorf("runner built an invalid report: %v", err)
	}
}

func TestRunner_CheckErrorAndOverrunBecomeErrorResults(t *testing.T) {
	r := newRunner(t,
		fakeCheck{"host", func(context.Context) ([]wire.CheckResult, error) { return nil, errors.New("no /proc") }},
		fakeCheck{"camera", func(ctx context.Context) ([]wire.CheckResult, error) {
			time.Sleep(time.Hour) // ignores its context
			return nil, nil
		}},
	)
	rep := r.Run(context.Background())
	if rep.Verdict != wire.NotReady || len(rep.Checks) != 2 {
		t.Fatalf("report: %+v", rep)
	}
	if c := rep.Checks[0]; c.Verdict != wire.Error || c.Reason != "no /proc" {
		t.Errorf("failing check: %+v", c)
	}
	if c := rep.Checks[1]; c.Verdict != wire.Error || c.Reason != "did not finish within 200ms" || c.DurationSeconds < 0.2 {
		t.Errorf("overrunning check: %+v", c)
	}
}

// TestRunner_ARunStoppedByShutdownSaysSo: a check under way when the agent
// stops is not said to have overrun its time (it read "did not finish
// within 30s" after a SIGTERM).
func TestRunner_ARunStoppedByShutdownSaysSo(t *testing.T) {
	r := newRunner(t, fakeCheck{"camera", func(ctx context.Context) ([]wire.CheckResult, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	r.Timeout = time.Minute
	ctx, stop := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, stop)
	rep := r.Run(ctx)
	if c := rep.Checks[0]; c.Verdict != wire.Error || c.Reason != "stopped before it finished: the agent is stopping" || c.Code == wire.CodeTimeout {
		t.Errorf("a run stopped by shutdown: %+v", c)
	}
}

func TestRunner_SkippedCheckDoesNotCount(t *testing.T) {
	r := newRunner(t, fakeCheck{"camera", func(context.Context) ([]wire.CheckResult, error) {
		return []wire.CheckResult{{Target: "/dev/video0", Verdict: wire.Skipped, Reason: "in use"}}, nil
	}})
	if rep := r.Run(context.Background()); rep.Verdict != wire.Ready || rep.Checks[0].Verdict != wire.Skipped {
		t.Errorf("report: %+v", rep)
	}
}

func TestSelect(t *testing.T) {
	all := []Check{fakeCheck{name: "host"}, fakeCheck{name: "network"}}
	got, err := Select(all, ParseOnly(" network, "))
	if err != nil || len(got) != 1 || got[0].Name() != "network" {
		t.Errorf("Select(network) = %v, %v", got, err)
	}
	if _, err := Select(all, []string{"camera"}); err == nil || err.Error() != `unknown check "camera"; this agent has: host, network` {
		t.Errorf("err = %v", err)
	}
	if got, _ := Select(all, nil); len(got) != 2 {
		t.Errorf("no --only selects %d checks", len(got))
	}
}
