package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/siaprapat/siaprapat/agent/report"
)

// Client is the controller's MQTT session: it subscribes to every room's
// status and report topics and hands each message to a handler, resubscribing
// after every reconnect.
type Client struct {
	client     mqtt.Client
	log        *slog.Logger
	subscribed atomic.Bool // connected and subscribed
}

// ClientOptions configure the controller's MQTT session.
type ClientOptions struct {
	Broker   string
	Username string
	Password string
	Log      *slog.Logger
}

// Dial starts the session and returns at once; paho keeps trying to
// connect, and reconnects with backoff after an outage.
func Dial(opts ClientOptions, handle func(topic string, payload []byte)) (*Client, error) {
	u, err := report.BrokerURL(opts.Broker)
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
	c := &Client{log: log}
	onMessage := func(_ mqtt.Client, m mqtt.Message) { handle(m.Topic(), m.Payload()) }
	co := mqtt.NewClientOptions().
		AddBroker(u.String()).
		SetClientID("siaprapat-controller-" + hex.EncodeToString(suffix[:])).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetKeepAlive(30 * time.Second).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2 * time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetOrderMatters(true). // a room's online/offline must be applied in order
		SetOnConnectHandler(func(cl mqtt.Client) {
			filters := map[string]byte{}
			for _, f := range Filters() {
				filters[f] = 1
			}
			t := cl.SubscribeMultiple(filters, onMessage)
			if !t.WaitTimeout(10*time.Second) || t.Error() != nil {
				log.Error("could not subscribe; reconnecting", "err", t.Error())
				cl.Disconnect(0)
				return
			}
			c.subscribed.Store(true)
			log.Info("connected to broker and subscribed", "filters", Filters())
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			c.subscribed.Store(false)
			log.Warn("lost the broker; reconnecting with backoff", "err", err)
		})
	c.client = mqtt.NewClient(co)
	c.client.Connect()
	return c, nil
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

// Connected reports whether the session is up and subscribed.
func (c *Client) Connected() bool { return c.subscribed.Load() && c.client.IsConnectionOpen() }

// Close disconnects.
func (c *Client) Close() { c.client.Disconnect(250) }
