package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// numbered is a check that names each of its runs in its target: run-1,
// run-2, ...
type numbered struct {
	mu   sync.Mutex
	runs int
}

func (*numbered) Name() string { return wire.CheckHost }

func (c *numbered) Run(context.Context, *standard.Standard) ([]wire.CheckResult, error) {
	c.mu.Lock()
	c.runs++
	n := c.runs
	c.mu.Unlock()
	return []wire.CheckResult{{Check: wire.CheckHost, Target: fmt.Sprintf("run-%d", n), Measurements: map[string]float64{"logical_cpus": 4}}}, nil
}

func (c *numbered) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

// count sums the field of the log's lines with this message (1 a line
// when field is "").
func count(t *testing.T, logs *testenv.Log, msg, field string) int {
	t.Helper()
	sum := 0
	for _, r := range testenv.Records[map[string]any](t, logs) {
		if r["msg"] != msg {
			continue
		}
		if field == "" {
			sum++
		} else if n, ok := r[field].(float64); ok {
			sum += int(n)
		}
	}
	return sum
}

// removed is how many reports acknowledgements removed from the spool, as
// the log says; spooled how many reports were made and spooled.
func removed(t *testing.T, logs *testenv.Log) int {
	return count(t, logs, "reports acknowledged by the controller", "removed")
}
func spooled(t *testing.T, logs *testenv.Log) int { return count(t, logs, "room checked", "") }

// acker stands for the controller: inside the broker (an inline client,
// subscribed before the broker takes connections, so that no report goes
// unheard), it acknowledges every report it hears and remembers the
// targets of those it heard.
type acker struct {
	mu      sync.Mutex
	targets map[string]int // run-N -> times heard
}

// ackingBroker starts a real broker (mochi) on addr with the acker in it.
func ackingBroker(t *testing.T, addr string) *acker {
	t.Helper()
	a := &acker{targets: map[string]int{}}
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	err := s.Subscribe(wire.Topic("s", "r", wire.KindReport), 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		var rep wire.Report
		if err := json.Unmarshal(pk.Payload, &rep); err != nil || len(rep.Checks) != 1 {
			t.Errorf("undecodable report %q: %v", pk.Payload, err)
			return
		}
		a.mu.Lock()
		a.targets[rep.Checks[0].Target]++
		a.mu.Unlock()
		p, err := (&wire.Ack{Schema: wire.AckSchema, IDs: []string{rep.ID}, At: time.Now()}).Encode()
		if err == nil {
			err = s.Publish(wire.Topic("s", "r", wire.KindAck), p, false, 1)
		}
		if err != nil {
			t.Errorf("acknowledge %s: %v", rep.ID, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddListener(listeners.NewTCP(listeners.Config{ID: "t", Address: addr})); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return a
}

// missing names the runs of 1..n not heard.
func (a *acker) missing(n int) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for i := 1; i <= n; i++ {
		if a.targets[fmt.Sprintf("run-%d", i)] == 0 {
			out = append(out, fmt.Sprintf("run-%d", i))
		}
	}
	return out
}

// TestRun_ReportsMadeBeforeTheBrokerIsUpArriveAndAcksEmptyTheSpool: the
// daemon starts while its broker is down and spools what it makes; the
// broker comes up, and every report arrives, the first ones included; each
// acknowledgement removes its report, so that when the controller has
// acknowledged them all, the spool is empty.
func TestRun_ReportsMadeBeforeTheBrokerIsUpArriveAndAcksEmptyTheSpool(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there until the broker starts
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	check, logs, dir := &numbered{}, &testenv.Log{}, t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Link:     link.Options{Broker: "mqtt://" + addr, Site: "s", Room: "r", KeepAlive: 2 * time.Second},
			Interval: 50 * time.Millisecond,
			Runner: &runner.Runner{Site: "s", Room: "r", AgentVersion: "test", Standard: std,
				Checks: []runner.Check{check}, Timeout: time.Hour},
			DataDir: dir,
			Spool:   spool.Limits{MaxReports: 1000, MaxBytes: 1 << 20, ResendAfter: 2 * time.Second},
			Log:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("20 s and not yet: %s", what)
				break
			}
		}
	}
	const early = 5
	waitFor("reports made with the broker down", func() bool { return check.count() >= early })
	if n := removed(t, logs); n != 0 {
		t.Fatalf("%d reports removed from the spool before any broker", n)
	}

	ctl := ackingBroker(t, addr)
	waitFor("the reports made before the broker was up delivered", func() bool { return len(ctl.missing(early)) == 0 })
	// The daemon goes on making reports; wait for a moment when every one
	// made so far was heard, acknowledged and removed from the spool.
	caughtUp := 0
	waitFor("the acknowledgements catching up with the reports", func() bool {
		n := check.count()
		if len(ctl.missing(n)) > 0 || removed(t, logs) != n || check.count() != n {
			return false
		}
		caughtUp = n
		return true
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(dir, spool.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	// Nothing lost: each report spooled was removed by its acknowledgement
	// or is still in the spool (one made as the test stopped, at most).
	left, _ := sp.Len()
	nRemoved, nSpooled := removed(t, logs), spooled(t, logs)
	t.Logf("%d reports spooled, %d removed by acknowledgements (%d when caught up), %d left", nSpooled, nRemoved, caughtUp, left)
	if nRemoved+left != nSpooled || left > 1 {
		t.Errorf("%d reports spooled, %d removed by acknowledgements, %d left in the spool", nSpooled, nRemoved, left)
	}
}
