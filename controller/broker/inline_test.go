package broker

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/ingest"
	"github.com/siaprapat/siaprapat/wire"
)

var _ ingest.Session = (*Inline)(nil)

func startBroker(t *testing.T) *Broker {
	t.Helper()
	b, err := Start(Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// connect is an anonymous client on the loopback listener.
func connect(t *testing.T, b *Broker, id string) paho.Client {
	t.Helper()
	cl := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID(id).SetOrderMatters(true))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	return cl
}

// received collects what an Inline session hands over, by topic.
type received struct {
	mu    sync.Mutex
	byTop map[string][]string
	n     int
	gate  chan struct{} // closed when the handler may go on
}

func newReceived() *received {
	r := &received{byTop: map[string][]string{}, gate: make(chan struct{})}
	close(r.gate)
	return r
}

func (r *received) handle(topic string, payload []byte) {
	<-r.gate
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byTop[topic] = append(r.byTop[topic], string(payload))
	r.n++
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *received) waitFor(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("handed over %d messages, want %d", r.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// While the controller's handler is stuck, agents publish many times what
// the session holds: they wait, and nothing is dropped or reordered.
func TestInline_SlowHandlerHoldsBackPublishersWithoutLoss(t *testing.T) {
	b := startBroker(t)
	r := newReceived()
	r.gate = make(chan struct{})
	in := b.Inline(ingest.Filters(nil))
	if err := in.Subscribe(r.handle); err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	const rooms, each = 4, 2 * inlineBacklog
	var wg sync.WaitGroup
	for i := range rooms {
		cl := connect(t, b, fmt.Sprintf("room-%d", i))
		topic := wire.Topic("site", fmt.Sprintf("r%d", i), wire.KindReport)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				cl.Publish(topic, 1, false, strconv.Itoa(j)) // not waited: the broker stops reading
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if n := r.count(); n != 0 {
		t.Fatalf("handled %d messages through a closed gate", n)
	}
	close(r.gate)
	wg.Wait()
	r.waitFor(t, rooms*each)

	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, got := range r.byTop {
		if len(got) != each {
			t.Errorf("%s: %d messages, want %d", topic, len(got), each)
		}
		for j, p := range got {
			if p != strconv.Itoa(j) {
				t.Fatalf("%s: message %d is %q: out of order", topic, j, p)
			}
		}
	}
}

// Retained statuses published before the controller subscribes reach it;
// ClearRetained removes one (the controller hears the empty message) and
// its commands reach the room's agent.
func TestInline_RetainedCommandsAndClose(t *testing.T) {
	b := startBroker(t)
	agent := connect(t, b, "agent")
	status := wire.Topic("site", "r1", wire.KindStatus)
	if tok := agent.Publish(status, 1, true, wire.StatusOnline); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish status: %v", tok.Error())
	}
	cmds := make(chan string, 4)
	cmd := wire.Topic("site", "r1", wire.KindCmd)
	if tok := agent.Subscribe(cmd, 1, func(_ paho.Client, m paho.Message) { cmds <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	r := newReceived()
	in := b.Inline(ingest.Filters(nil))
	if err := in.Subscribe(r.handle); err != nil {
		t.Fatal(err)
	}
	if err := in.WaitConnected(context.Background()); err != nil || !in.Connected() {
		t.Fatalf("WaitConnected: %v, Connected: %v", err, in.Connected())
	}
	r.waitFor(t, 1)

	if err := in.Publish(cmd, []byte("check")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-cmds:
		if got != "check" {
			t.Fatalf("agent got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent did not get the command")
	}

	if err := in.ClearRetained(status); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 2)
	r.mu.Lock()
	got := r.byTop[status]
	r.mu.Unlock()
	if len(got) != 2 || got[0] != wire.StatusOnline || got[1] != "" {
		t.Fatalf("status messages %q, want online then empty", got)
	}
	if n := len(b.server.Topics.Messages(status)); n != 0 {
		t.Fatalf("%d retained messages left on %s", n, status)
	}

	in.Close()
	if in.Connected() || in.Publish(cmd, nil) == nil || in.WaitConnected(context.Background()) == nil {
		t.Fatal("a closed session still works")
	}
	if tok := agent.Publish(wire.Topic("site", "r1", wire.KindReport), 1, false, "late"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish after Close: %v", tok.Error())
	}
	time.Sleep(50 * time.Millisecond)
	if n := r.count(); n != 2 {
		t.Fatalf("handled %d messages, want 2: one after Close", n)
	}
}

// Kick never disconnects the controller's own session.
func TestInline_KickLeavesTheControllerAlone(t *testing.T) {
	b := startBroker(t)
	in := b.Inline(ingest.Filters(nil))
	if err := in.Subscribe(newReceived().handle); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if n := b.Kick(""); n != 0 {
		t.Fatalf("Kick(\"\") closed %d sessions", n)
	}
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Inline && cl.Closed() {
			t.Fatal("the inline client was closed")
		}
	}
}

// A retained publication reaches an agent that subscribes afterwards.
func TestInline_RetainedPublicationReachesLaterSubscribers(t *testing.T) {
	b := startBroker(t)
	in := b.Inline(ingest.Filters(nil))
	if err := in.Subscribe(newReceived().handle); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	topic := wire.Topic("site", "r1", wire.KindSchedule)
	if err := in.PublishRetained(topic, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := in.PublishRetained(topic, []byte("second")); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	agent := connect(t, b, "agent")
	if tok := agent.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	select {
	case p := <-got:
		if p != "second" {
			t.Fatalf("retained %q, want the newest, second", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retained message for a later subscriber")
	}
}

// With the broker's small per-connection read buffer, a report of the
// usual size and the largest packet the broker takes (MaxPacketBytes, four
// times report.MaxBytes) reach the controller whole, and one byte more cuts
// the client off and is counted; the controller's largest messages reach
// an agent.
func TestInline_LargestPacketsGoThrough(t *testing.T) {
	b, reg := startGated(t, 10*time.Second)
	r := newReceived()
	in := b.Inline(ingest.Filters(nil))
	if err := in.Subscribe(r.handle); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	agent := connect(t, b, "agent")
	topic := wire.Topic("site", "r1", wire.KindReport)
	// PUBLISH at QoS 1: remaining length = 2 + topic + 2 (packet id) + payload,
	// and the broker takes remaining length + 1 up to MaxPacketBytes.
	largest := MaxPacketBytes - 1 - 4 - len(topic)
	for i, size := range []int{5 << 10, wire.MaxBytes, largest} {
		payload := bytes.Repeat([]byte{byte('a' + i)}, size)
		if tok := agent.Publish(topic, 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d bytes: %v", size, tok.Error())
		}
		r.waitFor(t, i+1)
		r.mu.Lock()
		got := r.byTop[topic][i]
		r.mu.Unlock()
		if got != string(payload) {
			t.Fatalf("a %d-byte report arrived as %d bytes (or changed)", size, len(got))
		}
	}

	got := make(chan []byte, 1)
	sched := wire.Topic("site", "r1", wire.KindSchedule)
	if tok := agent.Subscribe(sched, 1, func(_ paho.Client, m paho.Message) { got <- m.Payload() }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	big := bytes.Repeat([]byte("s"), wire.MaxBytes)
	if err := in.Publish(sched, big); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if !bytes.Equal(p, big) {
			t.Fatalf("the agent got %d bytes of a %d-byte message", len(p), len(big))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not get the controller's largest message")
	}

	// A client of its own that does not reconnect, so that the packet is
	// sent once (paho sends it again after each reconnection).
	once := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("once").SetAutoReconnect(false))
	if tok := once.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer once.Disconnect(0)
	once.Publish(topic, 1, false, bytes.Repeat([]byte("x"), largest+1))
	deadline := time.Now().Add(10 * time.Second)
	for oversized(t, reg) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("a packet one byte over the limit: %v cut off, want 1", oversized(t, reg))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := r.count(); n != 3 {
		t.Fatalf("the controller got %d reports, want 3: the oversized one went through", n)
	}
}

func oversized(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "siaprapat_broker_packets_oversized_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
