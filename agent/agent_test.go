package agent

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/siaprapat/siaprapat/agent/link"
	"github.com/siaprapat/siaprapat/agent/runner"
	"github.com/siaprapat/siaprapat/agent/spool"
	"github.com/siaprapat/siaprapat/standard"
	"github.com/siaprapat/siaprapat/wire"
)

// broker is a real MQTT broker (mochi) in the test's process, on loopback.
func broker(t *testing.T, addr string) (*mochi.Server, string) {
	t.Helper()
	s := mochi.New(&mochi.Options{InlineClient: true})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: addr})
	if err := s.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	return s, tcp.Address()
}

// controllerSide stands for the controller: it hears the room's reports
// and, when acking, acknowledges each one.
type controllerSide struct {
	c    paho.Client
	mu   sync.Mutex
	seen map[string]int // report id -> times received
	ack  bool
}

func listen(t *testing.T, addr string) *controllerSide {
	t.Helper()
	cs := &controllerSide{seen: map[string]int{}}
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("controller").SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			c.Subscribe(wire.Topic("s", "r", wire.KindReport), 1, func(c paho.Client, m paho.Message) {
				var rep struct{ ID string }
				json.Unmarshal(m.Payload(), &rep)
				cs.mu.Lock()
				cs.seen[rep.ID]++
				ack := cs.ack
				cs.mu.Unlock()
				if ack {
					p, _ := (&wire.Ack{Schema: wire.AckSchema, IDs: []string{rep.ID}, At: time.Now()}).Encode()
					c.Publish(wire.Topic("s", "r", wire.KindAck), 0, false, p)
				}
			}).Wait()
		})
	cs.c = paho.NewClient(opts)
	cs.c.Connect().Wait()
	t.Cleanup(func() { cs.c.Disconnect(100) })
	return cs
}

func (cs *controllerSide) counts() (distinct, resent int) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, n := range cs.seen {
		distinct++
		resent += n - 1
	}
	return
}

// quick is a check that measures nothing in no time.
type quick struct{}

func (quick) Name() string { return wire.CheckHost }
func (quick) Run(context.Context, *standard.Standard) ([]wire.CheckResult, error) {
	return []wire.CheckResult{{Check: wire.CheckHost, Target: "pc", Measurements: map[string]float64{"logical_cpus": 4}}}, nil
}

// TestRun_SpoolsUntilAcknowledgedAndSendsAgainAfterAnOutage runs the daemon
// against a real broker: reports not acknowledged are sent again; once the
// controller acknowledges, the spool empties; reports made while the
// broker is down arrive when it is back.
func TestRun_SpoolsUntilAcknowledgedAndSendsAgainAfterAnOutage(t *testing.T) {
	b, addr := broker(t, "127.0.0.1:0")
	cs := listen(t, addr)
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{
			Link:     link.Options{Broker: "mqtt://" + addr, Site: "s", Room: "r", KeepAlive: 2 * time.Second},
			Interval: 100 * time.Millisecond,
			Runner:   &runner.Runner{Site: "s", Room: "r", AgentVersion: "test", Standard: std, Checks: []runner.Check{quick{}}},
			DataDir:  dir,
			Spool:    spool.Limits{MaxReports: 1000, MaxBytes: 1 << 20, ResendAfter: 300 * time.Millisecond},
		})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("10 s and not yet: %s", what)
			}
		}
	}
	// No acknowledgements: what was sent is sent again.
	waitFor("reports sent again while not acknowledged", func() bool { _, resent := cs.counts(); return resent > 0 })
	// Acknowledged: sent once more at most, then the spool lets them go.
	cs.mu.Lock()
	cs.ack = true
	cs.mu.Unlock()
	time.Sleep(time.Second)
	// The broker goes away for a second, and comes back on the same port.
	b.Close()
	before, _ := cs.counts()
	time.Sleep(time.Second)
	b2, _ := broker(t, addr)
	defer b2.Close()
	waitFor("reports made during the outage delivered", func() bool { n, _ := cs.counts(); return n >= before+5 })
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(dir, spool.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	n, _ := sp.Len()
	distinct, resent := cs.counts()
	t.Logf("%d reports received, %d sent again; %d left in the spool", distinct, resent, n)
	if n > 2 {
		t.Errorf("%d reports left in the spool after they were acknowledged", n)
	}
}
