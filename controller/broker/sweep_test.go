package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// retain puts a message straight into the broker's retained store, with
// the times mochi would have given it.
func retain(b *Broker, topic string, version byte, created, expiry time.Time) {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Retain: true, Qos: 1},
		TopicName:       topic,
		Payload:         []byte("x"),
		ProtocolVersion: version,
		Created:         created.Unix(),
	}
	if !expiry.IsZero() {
		pk.Expiry = expiry.Unix()
	}
	b.server.Topics.RetainMessage(pk)
}

func retained(b *Broker, topic string) bool { return len(b.server.Topics.Messages(topic)) == 1 }

// The embedded broker sweeps its retained messages, inflight messages and
// sessions once a minute, not mochi's every second (each sweep copies what
// it looks at), and a retained message stays however old it is, as with
// Mosquitto: only an MQTT 5 message's own expiry removes it.
func TestBroker_SweepsAreSlowed(t *testing.T) {
	if sweepEvery != time.Minute {
		t.Fatalf("sweepEvery = %v, want a minute", sweepEvery)
	}
	if err := slowSweeps(startBroker(t).server, time.Minute); err != nil {
		t.Fatalf("this version of mochi: %v", err)
	}
	defer func(d time.Duration) { sweepEvery = d }(sweepEvery)
	now := time.Now()

	// Slowed: an expired message outlives mochi's one-second sweep.
	sweepEvery = time.Hour
	b := startBroker(t)
	retain(b, "v5/expired", 5, now.Add(-time.Hour), now.Add(-time.Minute))
	time.Sleep(2500 * time.Millisecond)
	if !retained(b, "v5/expired") {
		t.Fatal("an expired retained message went within 2.5 s: the broker still sweeps every second (did mochi rename Server.loop.retainedExpiry?)")
	}

	// The sweep still runs at its own pace, and removes only what the
	// client itself gave an expiry.
	sweepEvery = 20 * time.Millisecond
	b = startBroker(t)
	retain(b, "v5/expired", 5, now.Add(-time.Hour), now.Add(-time.Minute))
	retain(b, "v5/later", 5, now.Add(-time.Hour), now.Add(time.Hour))
	retain(b, "v4/two-days-old", 4, now.Add(-48*time.Hour), time.Time{})
	deadline := time.Now().Add(5 * time.Second)
	for retained(b, "v5/expired") {
		if time.Now().After(deadline) {
			t.Fatal("an expired MQTT 5 retained message was not removed within 5 s of sweeps every 20 ms")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, topic := range []string{"v5/later", "v4/two-days-old"} {
		if !retained(b, topic) {
			t.Errorf("%s: removed by the sweep; want it kept", topic)
		}
	}
}
