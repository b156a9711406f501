package alerts

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketOutbox = []byte("outbox")
	bucketFiring = []byte("firing")
)

// Backoff of webhook retries.
const (
	minBackoff = time.Second
	maxBackoff = 5 * time.Minute
)

// entry is one message waiting for one receiver.
type entry struct {
	Receiver    string          `json:"receiver"`
	Payload     json.RawMessage `json:"payload"`
	Attempts    int             `json:"attempts"`
	NextAttempt time.Time       `json:"next_attempt"`
	LastError   string          `json:"last_error,omitempty"`
}

// outbox keeps webhook messages in bbolt until their receiver takes them,
// retrying with backoff, across restarts.
type outbox struct {
	db     *bolt.DB
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	failed *prometheus.CounterVec
	sent   *prometheus.CounterVec
	names  map[string]string // receiver URL -> name for metrics and logs
	wake   chan struct{}
	mu     sync.Mutex // one delivery round at a time
}

func (o *outbox) enqueue(receivers []string, m Message) error {
	payload, err := json.Marshal(m)
	if err != nil {
		return err
	}
	err = o.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, r := range receivers {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := json.Marshal(entry{Receiver: r, Payload: payload})
			if err != nil {
				return err
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], seq)
			if err := b.Put(k[:], v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("queue webhook message: %w", err)
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// pending counts the messages waiting.
func (o *outbox) pending() int {
	n := 0
	o.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	return n
}

// run delivers due messages until ctx ends, waking every second or when
// something was queued.
func (o *outbox) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		o.deliver(ctx, o.now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-o.wake:
		}
	}
}

// deliver sends every due message once, in order, and records the outcome.
func (o *outbox) deliver(ctx context.Context, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	type item struct {
		key []byte
		e   entry
	}
	// Messages go to each receiver in the order they were queued: once one
	// is not due yet (backing off) or fails, the later ones wait behind it.
	var due []item
	blocked := map[string]bool{}
	o.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
			var e entry
			if err := json.Unmarshal(v, &e); err != nil || blocked[e.Receiver] {
				return nil
			}
			if now.Before(e.NextAttempt) {
				blocked[e.Receiver] = true
				return nil
			}
			due = append(due, item{append([]byte(nil), k...), e})
			return nil
		})
	})
	blocked = map[string]bool{}
	for _, it := range due {
		if blocked[it.e.Receiver] || ctx.Err() != nil {
			continue
		}
		err := o.post(ctx, it.e.Receiver, it.e.Payload)
		name := o.names[it.e.Receiver]
		if name == "" {
			name = "webhook (no longer configured)"
		}
		o.sent.WithLabelValues(name).Inc()
		werr := o.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketOutbox)
			if err == nil {
				return b.Delete(it.key)
			}
			it.e.Attempts++
			it.e.LastError = redactErr(err, it.e.Receiver)
			it.e.NextAttempt = now.Add(min(minBackoff<<min(it.e.Attempts-1, 20), maxBackoff))
			v, merr := json.Marshal(it.e)
			if merr != nil {
				return merr
			}
			return b.Put(it.key, v)
		})
		if werr != nil {
			o.log.Error("could not update the webhook outbox", "err", werr)
		}
		if err != nil {
			blocked[it.e.Receiver] = true
			o.failed.WithLabelValues(name).Inc()
			o.log.Warn("webhook not delivered; will retry", "receiver", name, "attempts", it.e.Attempts, "retry_at", it.e.NextAttempt, "err", redactErr(err, it.e.Receiver))
		}
	}
}

func (o *outbox) post(ctx context.Context, url string, payload []byte) error {
	return postJSON(ctx, o.client, url, payload)
}
