package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// inlineBacklog is how many messages the controller's inline session holds
// between the broker and the handler. Past it, a publisher waits (its
// connection is not read meanwhile) instead of the message being dropped.
const inlineBacklog = 1024

// inlineID identifies the controller's subscriptions among the broker's
// inline ones; one id for every filter, so that a message matching two of
// them is delivered once.
const inlineID = 1

// Inline is the controller's own MQTT session inside the embedded broker
// (mochi's inline client): no TCP connection and no per-client queue, which
// would drop messages past its length, QoS 1 or not. Messages are handed to
// the handler by one goroutine, in the order the broker published them (so
// a room's messages keep their order); when the handler falls behind, the
// agents publishing wait.
type Inline struct {
	server  *mqtt.Server
	filters []string
	handle  func(topic string, payload []byte)

	msgs     chan message
	done     chan struct{}
	stopped  chan struct{}
	closeOne sync.Once

	mu         sync.Mutex
	subscribed bool
}

var errClosed = errors.New("the controller's session in the embedded broker is closed")

type message struct {
	topic   string
	payload []byte
}

// Inline makes the controller's session inside the broker. It can publish
// at once; Subscribe starts handing it messages. Close it before the broker.
func (b *Broker) Inline(filters []string) *Inline {
	return &Inline{
		server: b.server, filters: filters,
		msgs: make(chan message, inlineBacklog), done: make(chan struct{}), stopped: make(chan struct{}),
	}
}

// Subscribe subscribes the session to its filters: every message
// published to them, including retained ones, goes to handle, one at a
// time. Call it once.
func (s *Inline) Subscribe(handle func(topic string, payload []byte)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subscribed {
		return errors.New("the controller's session in the embedded broker is already subscribed")
	}
	if !s.Connected() {
		return errClosed
	}
	s.subscribed, s.handle = true, handle
	// The handler runs before subscribing: the retained messages (each
	// room's status) are handed over during Subscribe.
	go s.run()
	for _, f := range s.filters {
		if err := s.server.Subscribe(f, inlineID, s.deliver); err != nil {
			return fmt.Errorf("embedded broker: subscribe the controller to %s: %w", f, err)
		}
	}
	return nil
}

// deliver is mochi's inline handler. It runs on the publisher's goroutine
// (an agent's connection, a last will, a retained message at Subscribe).
func (s *Inline) deliver(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	select {
	case s.msgs <- message{topic: pk.TopicName, payload: pk.Payload}:
	case <-s.done:
	}
}

func (s *Inline) run() {
	defer close(s.stopped)
	for {
		select {
		case <-s.done:
			return
		case m := <-s.msgs:
			s.handle(m.topic, m.payload)
		}
	}
}

// Publish sends one message at QoS 1 to the clients subscribed to its topic.
func (s *Inline) Publish(topic string, payload []byte) error {
	return s.publish(topic, payload, false, 1)
}

// Notify sends one message at QoS 0: for messages whose loss only costs a
// retry (acknowledgements).
func (s *Inline) Notify(topic string, payload []byte) error {
	return s.publish(topic, payload, false, 0)
}

// PublishRetained sends one message at QoS 1 that the broker keeps for
// whoever subscribes later (a room's schedule).
func (s *Inline) PublishRetained(topic string, payload []byte) error {
	return s.publish(topic, payload, true, 1)
}

// ClearRetained removes the broker's retained message on a topic (an empty
// retained publication).
func (s *Inline) ClearRetained(topic string) error {
	return s.publish(topic, []byte{}, true, 1)
}

func (s *Inline) publish(topic string, payload []byte, retain bool, qos byte) error {
	if !s.Connected() {
		return errClosed
	}
	if err := s.server.Publish(topic, payload, retain, qos); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Connected reports whether the session is open; it is subscribed from the
// start.
func (s *Inline) Connected() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// WaitConnected returns at once while the session is open: it needs no
// connection.
func (s *Inline) WaitConnected(context.Context) error {
	if !s.Connected() {
		return errClosed
	}
	return nil
}

// Close unsubscribes and stops handing messages over; what is not yet
// handed over is dropped, as a client's disconnection would.
func (s *Inline) Close() {
	s.closeOne.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		close(s.done)
		if !s.subscribed {
			return
		}
		for _, f := range s.filters {
			_ = s.server.Unsubscribe(f, inlineID)
		}
		<-s.stopped
	})
}
