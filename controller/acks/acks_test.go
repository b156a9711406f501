package acks_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/acks"
	"github.com/siaprapat/siaprapat/controller/broker"
	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/wire"
)

// An agent subscribed to its ack topic hears every id the history stored
// for its room, in messages of at most wire.MaxAckIDs ids, stamped with the
// controller's clock; another room's ids never reach it.
func TestAcker_TellsEachRoomItsStoredReportsThroughTheBroker(t *testing.T) {
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	session := b.Inline(nil)
	defer session.Close()

	got := make(chan *wire.Ack, 16)
	agent := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("kalbar-aula"))
	if tok := agent.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer agent.Disconnect(0)
	tok := agent.Subscribe(wire.Topic("kalbar", "aula", wire.KindAck), 0, func(_ paho.Client, m paho.Message) {
		a, err := wire.DecodeAck(m.Payload())
		if err != nil {
			t.Errorf("ack: %v", err)
			return
		}
		got <- a
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	a := acks.New(session, reg, func() time.Time { return at }, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = a.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()

	var stored []history.Stored
	for i := range wire.MaxAckIDs + 5 {
		stored = append(stored, history.Stored{Site: "kalbar", Room: "aula", ID: fmt.Sprintf("r%d", i)})
	}
	stored = append(stored, history.Stored{Site: "kalbar", Room: "lobby", ID: "other"})
	a.Stored(stored)

	ids := map[string]bool{}
	for len(ids) < wire.MaxAckIDs+5 {
		select {
		case ack := <-got:
			if len(ack.IDs) > wire.MaxAckIDs {
				t.Fatalf("an ack of %d ids, at most %d", len(ack.IDs), wire.MaxAckIDs)
			}
			if !ack.At.Equal(at) {
				t.Errorf("ack at %v, want the controller's clock %v", ack.At, at)
			}
			for _, id := range ack.IDs {
				if id == "other" {
					t.Fatal("another room's id reached this room's agent")
				}
				ids[id] = true
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("acknowledged %d of %d ids", len(ids), wire.MaxAckIDs+5)
		}
	}
	// Two messages for this room, one for the other.
	deadline := time.Now().Add(5 * time.Second)
	for value(reg, "siaprapat_acks_sent_total") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := value(reg, "siaprapat_acks_sent_total"); n != 3 {
		t.Errorf("siaprapat_acks_sent_total = %v, want 3", n)
	}
}

// When the session cannot publish, the acknowledgement is counted as failed
// and dropped: the agent sends the report again later. Run goes on.
func TestAcker_CountsWhatCannotBeSent(t *testing.T) {
	b, err := broker.Start(broker.Options{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	session := b.Inline(nil)
	session.Close() // a closed session refuses every publication

	reg := prometheus.NewRegistry()
	a := acks.New(session, reg, time.Now, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = a.Run(ctx) }()
	a.Stored([]history.Stored{{Site: "kalbar", Room: "aula", ID: "r1"}})
	deadline := time.Now().Add(5 * time.Second)
	for value(reg, "siaprapat_acks_failed_total") < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := value(reg, "siaprapat_acks_failed_total"); n != 1 {
		t.Errorf("siaprapat_acks_failed_total = %v, want 1", n)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return when its context ended")
	}
}

// value is a registered counter's value, 0 when it is not there.
func value(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
