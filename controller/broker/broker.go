// Package broker runs the embedded MQTT broker (mochi-mqtt), so that a
// controller needs no broker of its own to start.
package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/wire"
)

// DefaultListen is where the embedded broker listens by default: loopback
// only, as Mosquitto 2 does without credentials.
const DefaultListen = "127.0.0.1:1883"

// MaxPacketBytes bounds an MQTT packet; a report is bounded by report.MaxBytes,
// so anything much larger is refused by the broker before it costs memory.
const MaxPacketBytes = wire.MaxBytes * 4

// clientWritesPending is how many messages the broker queues for one
// client's connection; past it, what the client should get is dropped.
// mochi allocates the queue up front for every connection (8,192 slots by
// default, 64 KiB: 628 MB at 10,000 agents, all of it scanned by the GC).
// An agent gets a few commands and acknowledgements (one message names
// several reports), and the controller's own session does not go through
// such a queue (Inline), so a small one is enough.
const clientWritesPending = 64

// clientReadBuffer is the size of each connection's read buffer (mochi's
// default is 2 KiB, held for as long as the agent stays connected: 20 MB
// at 10,000 rooms). An agent's packets are a CONNECT, a SUBSCRIBE, a few
// acknowledgements and pings, and one report a minute; a packet longer
// than the buffer is read straight into the packet's own bytes (bufio
// skips its buffer for long reads), so a 5 KiB report or a packet of
// MaxPacketBytes costs the same system calls with 512 bytes as with 2 KiB.
const clientReadBuffer = 512

// Options configure the embedded broker.
type Options struct {
	Listen    string // plain MQTT listener; "" for none
	TLSListen string // MQTT over TLS listener; "" for none
	TLSCert   string // PEM certificate file of the TLS listener
	TLSKey    string // PEM key file of the TLS listener
	// ClientCA, when set, is a PEM file of the CA whose client certificates
	// the TLS listener accepts; a certificate's common name SITE/ROOM logs in
	// as that enrolled agent.
	ClientCA string
	// Agents are the enrolled agents; nil means none.
	Agents Agents
	// RequireLogin refuses clients without credentials even on loopback.
	RequireLogin bool
	// ControllerPassword is what the controller's own client (ControllerUser)
	// logs in with.
	ControllerPassword string
	Registerer         prometheus.Registerer // for the broker's counters; may be nil
	// ConnectTimeout is how long a new connection has to send its CONNECT;
	// ConnectTimeout (10 s) when zero.
	ConnectTimeout time.Duration
	Log            *slog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	server    *mqtt.Server
	tcp, tls  *gatedListener
	gate      *gate
	anonymous bool
}

// Start binds the listeners and serves. Clients without credentials are let
// in only while every listener is on loopback; otherwise each agent logs in
// with its enrolled credentials or certificate.
func Start(o Options) (*Broker, error) {
	if o.Listen == "" && o.TLSListen == "" {
		return nil, errors.New("embedded broker: no listener: give --mqtt-listen or --mqtt-tls-listen")
	}
	anonymous := !o.RequireLogin
	for _, addr := range []string{o.Listen, o.TLSListen} {
		if addr == "" {
			continue
		}
		lo, err := isLoopback(addr)
		if err != nil {
			return nil, err
		}
		anonymous = anonymous && lo
	}
	var tlsConfig *tls.Config
	if o.TLSListen != "" {
		var err error
		if tlsConfig, err = serverTLS(o.TLSCert, o.TLSKey, o.ClientCA); err != nil {
			return nil, err
		}
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hook := &authHook{
		agents: o.Agents, controllerPass: o.ControllerPassword, anonymous: anonymous, log: log.With("component", "broker"),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_broker_connections_refused_total",
			Help: "MQTT connections the embedded broker refused, by reason: at login (anonymous, credentials, certificate, cert_mismatch, client_id, will), or before it (connect_timeout, connect_too_large, pending_limit, address_limit).",
		}, []string{"reason"}),
		oversized: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_broker_packets_oversized_total",
			Help: "MQTT clients the embedded broker cut off for a packet over its size limit.",
		}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "siaprapat_broker_acl_denied_total",
			Help: "Publications and subscriptions the embedded broker denied an agent: a topic outside its own room.",
		}, []string{"action"}),
		logs: newRateLimit(10 * time.Second),
	}
	for _, r := range []string{RefusedAnonymous, RefusedCredentials, RefusedCertificate, RefusedCertMixup, RefusedClientID, RefusedWill} {
		hook.refused.WithLabelValues(r)
	}
	hook.denied.WithLabelValues("publish")
	hook.denied.WithLabelValues("subscribe")
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{hook.refused, hook.denied, hook.oversized} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = MaxPacketBytes
	caps.MaximumClientWritesPending = clientWritesPending
	// mochi's default removes every retained message and every unanswered
	// QoS 1 delivery a day after it was published, whatever the client
	// asked. A room's schedule stays retained until it changes, as with
	// Mosquitto: only an MQTT 5 message's own expiry interval expires it.
	caps.MaximumMessageExpiryInterval = 0
	s := mqtt.New(&mqtt.Options{
		Capabilities:            caps,
		ClientNetReadBufferSize: clientReadBuffer,
		InlineClient:            true, // the controller's own session (Inline)
		// mochi publishes its $SYS topics every second by default, reading
		// the runtime's memory statistics (which stops the world) each
		// time; nothing here reads them that often.
		SysTopicResendInterval: 60,
		// mochi logs every client's dropped connection as a warning; at a
		// province's scale that is noise, so only its errors come through.
		Logger: slog.New(errorsOnly{log.Handler()}).With("component", "broker"),
	})
	if err := s.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := slowSweeps(s, sweepEvery); err != nil {
		log.Warn("embedded broker: some of its expiry sweeps run every second", "err", err)
	}
	gate := newGate(o.ConnectTimeout, hook.refused, log.With("component", "broker"))
	b := &Broker{server: s, anonymous: anonymous, gate: gate}
	if o.Registerer != nil {
		pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "siaprapat_broker_connections_pending",
			Help: "MQTT connections open but not yet logged in (bounded: at most 1024, 64 from one address, each for at most 10 s).",
		}, func() float64 { return float64(gate.Pending()) })
		if err := o.Registerer.Register(pending); err != nil {
			return nil, err
		}
	}
	if o.Listen != "" {
		b.tcp = &gatedListener{id: "tcp", address: o.Listen, gate: gate, server: s}
		if err := s.AddListener(b.tcp); err != nil {
			return nil, fmt.Errorf("embedded broker: listen on %s: %w", o.Listen, err)
		}
	}
	if o.TLSListen != "" {
		b.tls = &gatedListener{id: "tls", address: o.TLSListen, tls: tlsConfig, gate: gate, server: s}
		if err := s.AddListener(b.tls); err != nil {
			s.Close()
			return nil, fmt.Errorf("embedded broker: listen on %s: %w", o.TLSListen, err)
		}
	}
	if err := s.Serve(); err != nil {
		s.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	return b, nil
}

func serverTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("embedded broker: --mqtt-tls-listen needs --mqtt-tls-cert and --mqtt-tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("embedded broker: client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("embedded broker: client CA %s: no PEM certificate in it", caFile)
		}
		c.ClientCAs = pool
		// A certificate is optional: an agent may log in with its password.
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// Addr is the plain listener's address (with the real port when the
// configured one was 0), or the TLS listener's when there is no plain one.
func (b *Broker) Addr() string {
	if b.tcp != nil {
		return b.tcp.Address()
	}
	return b.tls.Address()
}

// TLSAddr is the TLS listener's address, "" when there is none.
func (b *Broker) TLSAddr() string {
	if b.tls == nil {
		return ""
	}
	return b.tls.Address()
}

// Anonymous reports whether clients without credentials are let in (every
// listener is on loopback).
func (b *Broker) Anonymous() bool { return b.anonymous }

// URL is the broker's address as an MQTT URL for clients on this machine.
func (b *Broker) URL() string {
	if b.tcp != nil {
		return "mqtt://" + b.tcp.Address()
	}
	return "mqtts://" + b.tls.Address()
}

// Kick disconnects every client logged in as the user (a revoked agent).
func (b *Broker) Kick(username string) int {
	n := 0
	for _, cl := range b.server.Clients.GetAll() {
		if !cl.Net.Inline && string(cl.Properties.Username) == username && !cl.Closed() {
			// No last will: a revoked room must not come back as "offline".
			atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
			_ = b.server.DisconnectClient(cl, packets.ErrNotAuthorized)
			n++
		}
	}
	return n
}

// Close disconnects every client and stops the broker.
func (b *Broker) Close() error { return b.server.Close() }

func isLoopback(listen string) (bool, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false, fmt.Errorf("embedded broker address %q: %w", listen, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
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
