// Package broker runs the embedded MQTT broker (mochi-mqtt), so that a
// controller needs no broker of its own to start.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/siaprapat/siaprapat/agent/report"
)

// DefaultListen is where the embedded broker listens by default: loopback
// only, as Mosquitto 2 does without credentials.
const DefaultListen = "127.0.0.1:1883"

// MaxPacketBytes bounds an MQTT packet; a report is bounded by report.MaxBytes,
// so anything much larger is refused by the broker before it costs memory.
const MaxPacketBytes = report.MaxBytes * 4

// Broker is a running embedded broker.
type Broker struct {
	server *mqtt.Server
	tcp    *listeners.TCP
}

// Start binds the listener and serves. The embedded broker has no
// authentication yet, so it refuses any address that is not loopback.
func Start(listen string, log *slog.Logger) (*Broker, error) {
	if err := loopbackOnly(listen); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = MaxPacketBytes
	s := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		// mochi logs every client's dropped connection as a warning; at a
		// province's scale that is noise, so only its errors come through.
		Logger: slog.New(errorsOnly{log.Handler()}).With("component", "broker"),
	})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: listen})
	if err := s.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", listen, err)
	}
	if err := s.Serve(); err != nil {
		s.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return &Broker{server: s, tcp: tcp}, nil
}

// Addr is the address the broker listens on, with the real port when the
// configured one was 0.
func (b *Broker) Addr() string { return b.tcp.Address() }

// URL is the broker's address as an MQTT URL for clients on this machine.
func (b *Broker) URL() string { return "mqtt://" + b.Addr() }

// Close disconnects every client and stops the broker.
func (b *Broker) Close() error { return b.server.Close() }

func loopbackOnly(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("embedded broker address %q: %w", listen, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("embedded broker address %q is not loopback: the embedded broker has no authentication yet, so it listens on loopback only (e.g. --mqtt-listen 127.0.0.1:1883); to serve agents on other machines, run an external broker with authentication and pass --broker", listen)
}

// errorsOnly passes on records at error level and above.
type errorsOnly struct{ slog.Handler }

func (h errorsOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h errorsOnly) WithAttrs(as []slog.Attr) slog.Handler {
	return errorsOnly{h.Handler.WithAttrs(as)}
}

func (h errorsOnly) WithGroup(name string) slog.Handler { return errorsOnly{h.Handler.WithGroup(name)} }
