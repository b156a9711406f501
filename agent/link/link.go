// Package link is the agent's MQTT connection (paho): birth and last will on
// the room's status topic, reports out, commands, acknowledgements and the
// room's schedule in, reconnection with backoff.
package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/siaprapat/siaprapat/internal/pahostore"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults for Options.
const (
	DefaultKeepAlive      = 30 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultPublishTimeout = 10 * time.Second
	// MaxReconnectInterval caps paho's exponential reconnect backoff.
	MaxReconnectInterval = 30 * time.Second
)

// ErrNotConnected is returned by Publish while the broker is unreachable.
var ErrNotConnected = errors.New("not connected to the MQTT broker")

// Options configure a Link.
type Options struct {
	Broker         string // mqtt://host:port, tcp://, mqtts://, ssl:// or tls://
	ClientID       string // defaults to report.AgentClientID: siaprapat-agent/SITE/ROOM
	Site, Room     string
	Username       string
	Password       string
	TLS            *tls.Config // for mqtts/ssl; nil means the system roots
	KeepAlive      time.Duration
	ConnectTimeout time.Duration
	PublishTimeout time.Duration
	Log            *slog.Logger
	// OnConnect, when set, is called (on its own goroutine) after every
	// connect, once "online" is published: the moment to send what waited.
	OnConnect func()
	// OnCommand, when set, receives each payload on the room's cmd topic,
	// to which the link subscribes at every connect. It must not block.
	OnCommand func(payload []byte)
	// OnAck, when set, receives each payload on the room's ack topic (the
	// controller's acknowledgements of stored reports). It must not block.
	OnAck func(payload []byte)
	// OnSchedule, when set, receives each payload on the room's schedule
	// topic (retained: the newest again at every connect). It must not block.
	OnSchedule func(payload []byte)
}

// Link is one room's MQTT session.
type Link struct {
	opts   Options
	client mqtt.Client
	log    *slog.Logger

	mu      sync.Mutex
	conn    net.Conn // the current network connection, for Drop
	dropped bool
	// cause is why the broker cannot be reached now, in words ("" while
	// connected): logged once per change, and told by ErrNotConnected.
	cause string
}

// Connect starts the session and returns at once: paho keeps trying in the
// background, with backoff, until the broker answers, and reconnects after
// every outage. On each connect the agent publishes a retained "online";
// the broker publishes the retained last will "offline" if the agent
// vanishes without saying goodbye.
func Connect(opts Options) (*Link, error) {
	u, err := wire.BrokerURL(opts.Broker)
	if err != nil {
		return nil, err
	}
	if err := wire.CheckName("site", opts.Site); err != nil {
		return nil, err
	}
	if err := wire.CheckName("room", opts.Room); err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		opts.ClientID = wire.AgentClientID(opts.Site, opts.Room)
	}
	switch {
	case opts.KeepAlive == 0:
		opts.KeepAlive = DefaultKeepAlive
	case opts.KeepAlive < time.Second || opts.KeepAlive > 65535*time.Second:
		// MQTT counts keepalive in whole seconds; paho would turn less than
		// a second into 0, which switches keepalive (and so the will) off.
		return nil, fmt.Errorf("keepalive %v: want 1s to 18h12m15s", opts.KeepAlive)
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.PublishTimeout <= 0 {
		opts.PublishTimeout = DefaultPublishTimeout
	}
	l := &Link{opts: opts, log: opts.Log}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("broker", u.Redacted())
	status := wire.Topic(opts.Site, opts.Room, wire.KindStatus)

	co := mqtt.NewClientOptions().
		AddBroker(u.String()).
		SetClientID(opts.ClientID).
		SetUsername(opts.Username).
		SetPassword(opts.Password).
		SetKeepAlive(opts.KeepAlive).
		SetPingTimeout(opts.KeepAlive/2+time.Second).
		SetConnectTimeout(opts.ConnectTimeout).
		SetWriteTimeout(opts.PublishTimeout).
		SetCleanSession(true).
		SetStore(pahostore.New()).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(2*time.Second).
		SetMaxReconnectInterval(MaxReconnectInterval).
		SetWill(status, wire.StatusOffline, 1, true).
		SetCustomOpenConnectionFn(l.open).
		// MQTT 3.1.1 only: paho would otherwise try 3.1 after a refusal,
		// and the broker's answer to that would hide the refusal's reason.
		SetProtocolVersion(4).
		SetConnectionNotificationHandler(func(_ mqtt.Client, n mqtt.ConnectionNotification) {
			switch n := n.(type) {
			case mqtt.ConnectionNotificationBrokerFailed:
				l.failed(n.Reason)
			case mqtt.ConnectionNotificationFailed:
				l.failed(n.Reason)
			}
		}).
		SetOnConnectHandler(func(c mqtt.Client) {
			l.mu.Lock()
			l.cause = ""
			l.mu.Unlock()
			l.log.Info("connected to broker")
			// Subscribe before saying "online", so that a command sent on
			// seeing it is not missed.
			for _, sub := range []struct {
				kind, what string
				handle     func([]byte)
			}{{wire.KindCmd, "commands", opts.OnCommand}, {wire.KindAck, "acknowledgements", opts.OnAck}, {wire.KindSchedule, "the room's schedule", opts.OnSchedule}} {
				if sub.handle == nil {
					continue
				}
				topic, handle := wire.Topic(opts.Site, opts.Room, sub.kind), sub.handle
				t := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { handle(m.Payload()) })
				if !t.WaitTimeout(opts.PublishTimeout) || t.Error() != nil {
					l.log.Warn("could not subscribe to "+sub.what, "topic", topic, "err", tokenErr(t))
				} else if st, ok := t.(*mqtt.SubscribeToken); ok && st.Result()[topic] >= 0x80 {
					// paho reports a refusal (SUBACK 0x80) as success.
					l.log.Warn("the broker refused the subscription to "+sub.what+": check its ACL (Mosquitto: pattern read siaprapat/v1/%u/"+sub.kind+")", "topic", topic)
				}
			}
			t := c.Publish(status, 1, true, wire.StatusOnline)
			if !t.WaitTimeout(opts.PublishTimeout) || t.Error() != nil {
				l.log.Warn("could not publish online status", "err", tokenErr(t))
			}
			if opts.OnConnect != nil {
				opts.OnConnect()
			}
		}).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			l.log.Warn("lost the broker; reconnecting with backoff", "err", err)
		}).
		SetConnectionAttemptHandler(func(broker *url.URL, tc *tls.Config) *tls.Config {
			l.log.Debug("connecting to broker")
			return tc
		})
	l.client = mqtt.NewClient(co)
	l.client.Connect() // completes in the background; ConnectRetry keeps trying
	return l, nil
}

// open dials the broker; it stands in for paho's own dialer so that Drop can
// cut the connection the way a power cut or a pulled cable would.
func (l *Link) open(u *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: l.opts.ConnectTimeout}
	var conn net.Conn
	var err error
	if wire.SecureBroker(u) {
		cfg := l.opts.TLS
		if cfg == nil {
			cfg = &tls.Config{}
		}
		cfg = cfg.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		conn, err = tls.DialWithDialer(d, "tcp", u.Host, cfg)
	} else {
		conn, err = d.Dial("tcp", u.Host)
	}
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped {
		conn.Close()
		return nil, errors.New("link dropped")
	}
	l.conn = conn
	return conn, nil
}

// failed records why a connection attempt failed, and logs it when the
// cause is not the one logged last (once, not at every retry).
func (l *Link) failed(err error) {
	if err == nil {
		return
	}
	why := Cause(err)
	l.mu.Lock()
	same := why == l.cause
	l.cause = why
	l.mu.Unlock()
	if !same {
		l.log.Warn("cannot connect to the MQTT broker; retrying with backoff (logged again when the cause changes)", "cause", why, "err", err)
	}
}

// Cause words why a connection to the broker failed, for a technician:
// refused, name not found, TLS, credentials, timed out.
func Cause(err error) string {
	// paho tells a failed dial twice: as it is, then wrapped as "network
	// Error : <the dial's error>". Both are the one cause, worded alike, or
	// each attempt would log a change of cause twice.
	if multi, ok := err.(interface{ Unwrap() []error }); ok && errors.Is(err, packets.ErrorNetworkError) {
		if errs := multi.Unwrap(); len(errs) == 2 && errs[0] == packets.ErrorNetworkError {
			err = errs[1]
		}
	}
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var badCert x509.CertificateInvalidError
	var record tls.RecordHeaderError
	var alert tls.AlertError
	var ne net.Error
	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return "credentials refused: check --username and SIAPRAPAT_MQTT_PASSWORD (is this room enrolled? siaprapat-controller agent add SITE/ROOM)"
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "client id refused by the broker"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return "the broker is unavailable (busy or starting)"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there (is the broker running? is the port right?)"
	case errors.As(err, &dns):
		return "name not found: " + dns.Name
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to the broker's host"
	case errors.As(err, &unknownCA), errors.As(err, &badHost), errors.As(err, &badCert):
		return "TLS: the broker's certificate is not trusted here: " + err.Error()
	case errors.As(err, &record), errors.As(err, &alert):
		return "TLS: the handshake failed (is this the broker's TLS port?): " + err.Error()
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out: no answer (a firewall, or a wrong address?)"
	}
	return err.Error()
}

// Connected reports whether the session is up now.
func (l *Link) Connected() bool { return l.client.IsConnectionOpen() }

// WaitConnected waits until the session is up or the context ends.
func (l *Link) WaitConnected(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !l.Connected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect to %s: %w", l.opts.Broker, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// PublishReport publishes a report on the room's report topic with QoS 1 and
// waits for the broker's acknowledgement.
func (l *Link) PublishReport(r *wire.Report) error {
	payload, err := r.Encode()
	if err != nil {
		return err
	}
	return l.PublishEncoded(payload)
}

// PublishResult publishes an answer to a command on the room's result topic.
func (l *Link) PublishResult(r *wire.Result) error {
	payload, err := r.Encode()
	if err != nil {
		return err
	}
	return l.publish(wire.Topic(l.opts.Site, l.opts.Room, wire.KindResult), payload, false)
}

// PublishEncoded publishes an encoded report (from Report.Encode) on the
// room's report topic with QoS 1 and waits for the broker's acknowledgement.
func (l *Link) PublishEncoded(payload []byte) error {
	return l.publish(wire.Topic(l.opts.Site, l.opts.Room, wire.KindReport), payload, false)
}

func (l *Link) publish(topic string, payload []byte, retain bool) error {
	if !l.client.IsConnectionOpen() {
		l.mu.Lock()
		why := l.cause
		l.mu.Unlock()
		if why != "" {
			return fmt.Errorf("%w %s: %s", ErrNotConnected, Describe(l.opts.Broker), why)
		}
		return fmt.Errorf("%w %s", ErrNotConnected, Describe(l.opts.Broker))
	}
	t := l.client.Publish(topic, 1, retain, payload)
	if !t.WaitTimeout(l.opts.PublishTimeout) {
		return fmt.Errorf("publish to %s: not acknowledged within %v", topic, l.opts.PublishTimeout)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// Close says goodbye: it publishes a retained "offline" (a clean disconnect
// does not fire the last will) and disconnects.
func (l *Link) Close() {
	if l.client.IsConnectionOpen() {
		if err := l.publish(wire.Topic(l.opts.Site, l.opts.Room, wire.KindStatus), []byte(wire.StatusOffline), true); err != nil {
			l.log.Warn("could not publish offline status", "err", err)
		}
	}
	l.client.Disconnect(250)
}

// Drop cuts the network connection without a word and stops reconnecting,
// as a power cut would: the broker then publishes the last will.
func (l *Link) Drop() {
	l.mu.Lock()
	l.dropped = true
	conn := l.conn
	l.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	l.client.Disconnect(0)
}

func tokenErr(t mqtt.Token) error {
	if err := t.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}

// Describe names a broker URL for logs, without its password.
func Describe(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable broker URL)"
}
