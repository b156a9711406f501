package controller

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/siaprapat/siaprapat/controller/history"
	"github.com/siaprapat/siaprapat/wire"
)

// acker tells agents which of their reports are stored, on each room's ack
// topic, so that they can let them go from their spools. It never blocks
// the history: stored ids queue here and one goroutine publishes them. An
// acknowledgement that cannot be sent is dropped: the agent sends the
// report again after a while and is acknowledged then.
type acker struct {
	log    *slog.Logger
	now    func() time.Time // stamps each acknowledgement: agents measure their clock by it
	sent   prometheus.Counter
	failed prometheus.Counter

	mu      sync.Mutex
	publish func(topic string, payload []byte) error
	pending map[[2]string][]string // site, room -> ids
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

func newAcker(reg prometheus.Registerer, now func() time.Time, log *slog.Logger) *acker {
	a := &acker{
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
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	reg.MustRegister(a.sent, a.failed)
	go a.loop()
	return a
}

// use sets how acknowledgements are published (the MQTT session, once it exists).
func (a *acker) use(publish func(topic string, payload []byte) error) {
	a.mu.Lock()
	a.publish = publish
	a.mu.Unlock()
}

// stored queues acknowledgements; it is history.Options.OnStored.
func (a *acker) stored(s []history.Stored) {
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

func (a *acker) loop() {
	defer close(a.stopped)
	for {
		select {
		case <-a.done:
			return
		case <-a.wake:
		}
		a.mu.Lock()
		batch, publish := a.pending, a.publish
		a.pending = map[[2]string][]string{}
		a.mu.Unlock()
		for room, ids := range batch {
			for len(ids) > 0 {
				n := min(len(ids), wire.MaxAckIDs)
				payload, _ := (&wire.Ack{Schema: wire.AckSchema, IDs: ids[:n], At: a.now().UTC()}).Encode()
				ids = ids[n:]
				err := errors.New("no MQTT session yet")
				if publish != nil {
					err = publish(wire.Topic(room[0], room[1], wire.KindAck), payload)
				}
				if err != nil {
					a.failed.Inc()
					a.log.Debug("could not acknowledge stored reports; the agent will send them again", "site", room[0], "room", room[1], "err", err)
					continue
				}
				a.sent.Inc()
			}
		}
	}
}

func (a *acker) close() {
	close(a.done)
	<-a.stopped
}
