package pahostore

import (
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
