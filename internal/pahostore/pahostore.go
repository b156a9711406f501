// Package pahostore is paho's in-memory message store, but it keeps and hands
// out copies of PUBLISH packets. On reconnect paho re-sends stored messages and
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

// Put stores a copy of a PUBLISH: the original goes on to the connection's
// writer, which encodes it (and sets its length) while the store keeps its own.
func (s store) Put(key string, p packets.ControlPacket) { s.MemoryStore.Put(key, clone(p)) }

// Get returns a copy of a stored PUBLISH, so setting DUP on it for a resend
// touches neither the stored packet nor one being written.
func (s store) Get(key string) packets.ControlPacket { return clone(s.MemoryStore.Get(key)) }

// clone copies a PUBLISH (its payload shared: nobody writes to it); other
// packets pass through.
func clone(p packets.ControlPacket) packets.ControlPacket {
	if pub, ok := p.(*packets.PublishPacket); ok {
		c := *pub
		return &c
	}
	return p
}
