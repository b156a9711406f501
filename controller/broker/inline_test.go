package broker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

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
