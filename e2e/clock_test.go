package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent"
	"github.com/siaprapat/siaprapat/agent/fleetsim"
	"github.com/siaprapat/siaprapat/agent/host"
	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/controller"
	"github.com/siaprapat/siaprapat/standard"
)

// TestClock_ARoomPCsWrongClockIsACause: the controller's clock stands ten
// minutes ahead of the room PC's (as a PC whose clock lost ten minutes
// sees it); the agent measures the offset from the acknowledgements' time
// and the room is not ready for it, in words.
func TestClock_ARoomPCsWrongClockIsACause(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	std.Freshness = 24 * time.Hour // the PC's reports are ten minutes old to the controller
	ahead := func() time.Time { return time.Now().Add(10 * time.Minute) }
	c := startWith(t, controller.Config{Standard: std, Now: ahead})
	clock := &host.ClockOffset{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- agent.Run(ctx, agent.Config{
			Link:     link.Options{Broker: c.BrokerURL(), Site: "kalbar", Room: "aula", KeepAlive: 2 * time.Second},
			Interval: time.Second,
			DataDir:  t.TempDir(),
			Spool:    spool.DefaultLimits,
			Clock:    clock,
			Runner: &runner.Runner{Site: "kalbar", Room: "aula", AgentVersion: "test", Standard: std,
				Checks: []runner.Check{&host.Check{Source: fleetsim.NewSource(fleetsim.ProfileReady, "pc-1", 3), Clock: clock}}},
		})
	}()
	stopped := false
	defer func() {
		cancel()
		if !stopped {
			<-done
		}
	}()
	var got apiRoom
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = apiState(t, c, "kalbar", "aula")
		if slices.ContainsFunc(got.Problems, func(p apiProblem) bool { return p.Rule == "host_clock" }) {
			break
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("agent stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no host_clock cause 20 s on: %+v", got)
		}
	}
	for _, p := range got.Problems {
		if p.Rule == "host_clock" {
			t.Logf("room %s: %s / %s", got.State, p.Text, p.TextID)
			if p.Verdict != "fail" || !strings.HasPrefix(p.Text, "Room PC clock off by 10m0s, at most 5m0s") {
				t.Errorf("cause %+v", p)
			}
		}
	}
	if got.State != "not_ready" {
		t.Errorf("state %s, want not_ready", got.State)
	}
}
