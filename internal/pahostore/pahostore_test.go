package pahostore

import (
	"io"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestGet_CopiesPublishPackets(t *testing.T) {
	s := New()
	s.Open()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.Qos, pub.MessageID, pub.TopicName = 1, 7, "t"
	s.Put("o.7", pub)
	got := s.Get("o.7").(*packets.PublishPacket)
	got.Dup = true // what paho's resume does
	if pub.Dup {
		t.Error("setting DUP on what Get returned changed the stored packet")
	}
	if got.MessageID != 7 || got.TopicName != "t" {
		t.Errorf("copy lost fields: %+v", got)
	}
}

// TestStore_NoRaceWithTheWriter runs a writer encoding the published packet
// while the store is read, as paho's connection and resume do (go test -race).
func TestStore_NoRaceWithTheWriter(t *testing.T) {
	s := New()
	s.Open()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.Qos, pub.MessageID, pub.TopicName, pub.Payload = 1, 9, "t", []byte("payload")
	s.Put("o.9", pub)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			pub.Write(io.Discard) // the connection's writer
		}
	}()
	for range 100 {
		p := s.Get("o.9").(*packets.PublishPacket)
		p.Dup = true // resume
	}
	<-done
}
