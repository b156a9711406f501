// Package pahostore is paho's in-memory message store, but Get returns a
// copy of a stored PUBLISH. On reconnect paho re-sends stored messages and
// sets their DUP flag on the packet it got from the store; with paho's own
// MemoryStore that is the very packet the previous connection's writer may
// still be encoding (a data race the race detector reports in paho v1.5.1).
// Handing out copies keeps the two apart.
package pahostore

import (
	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

type store struct {
	*mqtt.MemoryStore
}

// New returns an in-memory store whose Get copies PUBLISH packets.
func New() mqtt.Store { return store{mqtt.NewMemoryStore()} }

// Get returns the stored packet; a PUBLISH is copied (its payload shared,
// read-only), so setting DUP on it does not touch the original.
func (s store) Get(key string) packets.ControlPacket {
	p := s.MemoryStore.Get(key)
	if pub, ok := p.(*packets.PublishPacket); ok {
		c := *pub
		return &c
	}
	return p
}
