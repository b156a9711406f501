// Package acks tells agents which of their reports are stored, on each
// room's ack topic, so that they can let them go from their spools.
package acks

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/wire"
)

// Notifier sends one message at QoS 0 (the controller's MQTT session): an
// acknowledgement that is lost only costs the agent a retry.
type Notifier interface {
	Notify(topic string, payload []byte) error
}

// Acker never blocks the history: stored ids queue here and Run publishes
// them. An acknowledgement that cannot be sent is dropped: the agent sends
// the report again after a while and is acknowledged then.
type Acker struct {
	out    Notifier
	log    *slog.Logger
	now    func() time.Time // stamps each acknowledgement: agents measure their clock by it
	sent   prometheus.Counter
	failed prometheus.Counter

	mu      sync.Mutex
	pending map[[2]string][]string // site, room -> ids
	wake    chan struct{}
}

// New makes an Acker that publishes through out; its counters go to reg.
func New(out Notifier, reg prometheus.Registerer, now func() time.Time, log *slog.Logger) *Acker {
	a := &Acker{
		out: out,
		log: log,
		now: now,
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_acks_sent_total",
			Help: "Acknowledgements of stored reports sent to agents (one message may name several reports).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "siaprapat_acks_failed_total",
			Help: "Acknowledgements that could not be sent (the agents send those reports again later).",
		}),
		pending: map[[2]string][]string{},
		wake:    make(chan struct{}, 1),
	}
	reg.MustRegister(a.sent, a.failed)
	return a
}

// Stored queues acknowledgements; it is history.Options.OnStored.
func (a *Acker) Stored(s []history.Stored) {
	a.mu.Lock()
	for _, r := range s {
		k := [2]string{r.Site, r.Room}
		a.pending[k] = append(a.pending[k], r.ID)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// Run publishes queued acknowledgements until ctx ends; what is still
// queued then is dropped (the agents send those reports again).
func (a *Acker) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.wake:
		}
		a.mu.Lock()
		batch := a.pending
		a.pending = map[[2]string][]string{}
		a.mu.Unlock()
		for room, ids := range batch {
			for len(ids) > 0 {
				n := min(len(ids), wire.MaxAckIDs)
				payload, _ := (&wire.Ack{Schema: wire.AckSchema, IDs: ids[:n], At: a.now().UTC()}).Encode()
				ids = ids[n:]
				if err := a.out.Notify(wire.Topic(room[0], room[1], wire.KindAck), payload); err != nil {
					a.failed.Inc()
					a.log.Debug("could not acknowledge stored reports; the agent will send them again", "site", room[0], "room", room[1], "err", err)
					continue
				}
				a.sent.Inc()
			}
		}
	}
}
