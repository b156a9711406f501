package controller

import (
	"github.com/siaprapat/siaprapat/controller/fleet"
	"github.com/siaprapat/siaprapat/controller/ingest"
	"github.com/siaprapat/siaprapat/controller/schedule"
)

// schedulePublisher publishes the rooms' schedules through the
// controller's MQTT session.
type schedulePublisher struct{ s ingest.Session }

func (p schedulePublisher) Publish(topic string, payload []byte, retained bool) error {
	if retained {
		return p.s.PublishRetained(topic, payload)
	}
	return p.s.Publish(topic, payload)
}

// fleetRooms lists the fleet's rooms for the schedule announcer.
func fleetRooms(f *fleet.Fleet) func() []schedule.Room {
	return func() []schedule.Room {
		var out []schedule.Room
		for _, v := range f.Rooms() {
			out = append(out, schedule.Room{Site: v.Site, Room: v.Room.Room})
		}
		return out
	}
}
