package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/internal/pahostore"
	"github.com/siaprapat/siaprapat/wire"
)

// Session is what the controller needs of its MQTT session: a Client over
// TCP, or the embedded broker's inline one (broker.Inline). It is made
// first, so that every part that publishes can be built with it; Subscribe
// then starts the messages flowing: each message of its filters goes to one
// handler, in order.
type Session interface {
	Subscribe(handle func(topic string, payload []byte)) error
	Publish(topic string, payload []byte) error         // QoS 1
	PublishRetained(topic string, payload []byte) error // QoS 1, kept for later subscribers
	Notify(topic string, payload []byte) error          // QoS 0
	ClearRetained(topic string) error                   // an empty retained publication
	Connected() bool                                    // up and subscribed
	WaitConnected(ctx context.Context) error            // until Connected or ctx ends
	Close()
}

var _ Session = (*Client)(nil)

// Client is the controller's MQTT session: it subscribes to every room's
// status and report topics and hands each message to a handler, resubscribing
// after every reconnect.
//
// It holds two connections to the broker, under the same user: one that
// subscribes and one that publishes. paho hands messages to an ordered
// handler from the goroutine that also reads the broker's acknowledgements,
// so on a single connection a command published while the handler works
// through a burst of reports (50,000 rooms answering a fan-out) waits for the
// whole burst and times out. The publishing connection subscribes to nothing.
type Client struct {
	client  mqtt.Client // subscribes; messages go to the handler in order
	pub     mqtt.Client // publishes; its acknowledgements never wait on the handler
	log     *slog.Logger
	filters []string

	mu         sync.Mutex
	onMessage  mqtt.MessageHandler // set by Subscribe
	session    uint64              // counts connections, so a stale subscriber cannot mark a new one subscribed
	subscribed bool                // the current connection is subscribed
}

// ClientOptions configure the controller's MQTT session.
type ClientOptions struct {
	Broker   string
	Username string
	Password string
	// Filters are the topic filters subscribed to; default Filters(nil).
	Filters []string
	Log     *slog.Logger
}

// NewClient makes the session; Subscribe connects it.
func NewClient(opts ClientOptions) (*Client, error) {
	u, err := wire.BrokerURL(opts.Broker)
	if err != nil {
		return nil, err
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("broker", u.Redacted())
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	filters := opts.Filters
	if len(filters) == 0 {
		filters = Filters(nil)
	}
	c := &Client{log: log, filters: filters}
	id := "siaprapat-controller-" + hex.EncodeToString(suffix[:])
	common := func(id string) *mqtt.ClientOptions {
		return mqtt.NewClientOptions().
			AddBroker(u.String()).
			SetClientID(id).
			SetUsername(opts.Username).
			SetPassword(opts.Password).
			SetKeepAlive(30 * time.Second).
			SetCleanSession(true).
			SetStore(pahostore.New()).
			SetAutoReconnect(true).
			SetConnectRetry(true).
			SetConnectRetryInterval(2 * time.Second).
			SetMaxReconnectInterval(30 * time.Second)
	}
	publishing := log.With("connection", "publish")
	c.pub = mqtt.NewClient(common(id + "-pub").
		SetOnConnectHandler(func(mqtt.Client) { publishing.Info("connected to broker") }).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			publishing.Warn("lost the broker; reconnecting with backoff", "err", err)
		}))
	co := common(id).
		SetOrderMatters(true). // a room's online/offline must be applied in order
		SetOnConnectHandler(func(cl mqtt.Client) {
			c.mu.Lock()
			c.session++
			c.subscribed = false
			session, onMessage := c.session, c.onMessage
			c.mu.Unlock()
			c.subscribe(cl, session, onMessage)
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			c.mu.Lock()
			c.session++
			c.subscribed = false
			c.mu.Unlock()
			log.Warn("lost the broker; reconnecting with backoff", "err", err)
		})
	c.client = mqtt.NewClient(co)
	return c, nil
}

// Subscribe connects and returns at once: paho keeps trying to connect,
// subscribes handle to the filters on every connection, and reconnects
// with backoff after an outage. Call it once.
func (c *Client) Subscribe(handle func(topic string, payload []byte)) error {
	c.mu.Lock()
	if c.onMessage != nil {
		c.mu.Unlock()
		return errors.New("the controller's MQTT session is already subscribed")
	}
	c.onMessage = func(_ mqtt.Client, m mqtt.Message) { handle(m.Topic(), m.Payload()) }
	c.mu.Unlock()
	c.pub.Connect()
	c.client.Connect()
	return nil
}

// subscribe subscribes the connection of one session, retrying with backoff
// while that connection lasts. (Disconnecting to retry would stop paho from
// reconnecting at all: a disconnect asked for is final.)
func (c *Client) subscribe(cl mqtt.Client, session uint64, onMessage mqtt.MessageHandler) {
	filters := map[string]byte{}
	for _, f := range c.filters {
		filters[f] = 1
	}
	backoff := time.Second
	for {
		t := cl.SubscribeMultiple(filters, onMessage)
		err := subscribeError(t)
		c.mu.Lock()
		current := c.session == session
		if err == nil && current {
			c.subscribed = true
		}
		c.mu.Unlock()
		switch {
		case !current:
			return // the connection is gone; the next one subscribes afresh
		case err == nil:
			c.log.Info("connected to broker and subscribed", "filters", c.filters)
			return
		}
		c.log.Error("could not subscribe; retrying", "err", err, "retry_in", backoff)
		time.Sleep(backoff)
		backoff = min(backoff*2, 30*time.Second)
	}
}

// subscribeError waits for a subscription and says what went wrong, including
// a broker's refusal (SUBACK 0x80), which paho does not report as an error.
func subscribeError(t mqtt.Token) error {
	if !t.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("no SUBACK within 10s")
	}
	if err := t.Error(); err != nil {
		return err
	}
	if st, ok := t.(*mqtt.SubscribeToken); ok {
		for filter, code := range st.Result() {
			if code >= 0x80 {
				return fmt.Errorf("the broker refused the subscription to %s (code %#x); check its ACL", filter, code)
			}
		}
	}
	return nil
}

// ClearRetained removes the broker's retained message on a topic (an empty
// retained publication), waiting for the acknowledgement.
func (c *Client) ClearRetained(topic string) error {
	if !c.pub.IsConnectionOpen() {
		return fmt.Errorf("not connected to the MQTT broker")
	}
	t := c.pub.Publish(topic, 1, true, []byte{})
	if !t.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("clear %s: not acknowledged within 10s", topic)
	}
	return t.Error()
}

// PublishRetained sends one message with QoS 1 that the broker keeps for
// later subscribers (a room's schedule), and waits for the acknowledgement.
func (c *Client) PublishRetained(topic string, payload []byte) error {
	if !c.pub.IsConnectionOpen() {
		return fmt.Errorf("not connected to the MQTT broker")
	}
	t := c.pub.Publish(topic, 1, true, payload)
	if !t.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("publish to %s: not acknowledged within 10s", topic)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Notify sends one message at QoS 0, without waiting: for messages whose
// loss only costs a retry (acknowledgements).
func (c *Client) Notify(topic string, payload []byte) error {
	if !c.pub.IsConnectionOpen() {
		return fmt.Errorf("not connected to the MQTT broker")
	}
	t := c.pub.Publish(topic, 0, false, payload)
	if !t.WaitTimeout(5 * time.Second) {
		return fmt.Errorf("publish to %s: not written within 5s", topic)
	}
	return t.Error()
}

// Publish sends one message with QoS 1 and waits for the broker's
// acknowledgement.
func (c *Client) Publish(topic string, payload []byte) error {
	if !c.pub.IsConnectionOpen() {
		return fmt.Errorf("not connected to the MQTT broker")
	}
	t := c.pub.Publish(topic, 1, false, payload)
	if !t.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("publish to %s: not acknowledged within 10s", topic)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// WaitConnected waits until the session is up and subscribed, or the context ends.
func (c *Client) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !c.Connected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect to the MQTT broker: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Connected reports whether the session is up and subscribed, and can publish.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscribed && c.client.IsConnectionOpen() && c.pub.IsConnectionOpen()
}

// Close disconnects both connections.
func (c *Client) Close() {
	c.client.Disconnect(250)
	c.pub.Disconnect(250)
}
