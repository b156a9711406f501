// Package spool is the agent's store-and-forward queue: encoded reports wait
// in a bbolt file until the controller has acknowledged storing them, so
// that a broker outage, a broker or controller killed between taking a
// report and storing it, a dropped link or a crash of the agent loses
// nothing queued. A report sent but not acknowledged is sent again after
// ResendAfter (the controller stores each report id once).
package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
)

// Limits bound the queue; past them the oldest reports are dropped first.
type Limits struct {
	MaxReports int
	MaxBytes   int64
	// ResendAfter is how long a sent report waits for the controller's
	// acknowledgement before it is sent again; DefaultResendAfter when zero.
	ResendAfter time.Duration
}

// DefaultLimits keep about a week of reports at the default 60 s interval
// in at most 64 MiB.
var DefaultLimits = Limits{MaxReports: 10000, MaxBytes: 64 << 20}

// DefaultResendAfter: the controller acknowledges within about a second of
// storing; a minute covers a controller restart without resending much.
const DefaultResendAfter = time.Minute

// drainBatch is how many reports are sent between two writes.
const drainBatch = 64

var (
	bucket   = []byte("reports")  // sequence -> payload
	inflight = []byte("inflight") // sequence -> sent-at (8 bytes) + report id
)

// Spool is an ordered, bounded, durable queue of report payloads.
type Spool struct {
	db     *bolt.DB
	limits Limits

	mu      sync.Mutex // serialises Put and Drain
	count   int
	bytes   int64
	dropped uint64
}

// Open opens (or creates) dir/spool.db.
func Open(dir string, limits Limits) (*Spool, error) {
	if limits.MaxReports < 1 || limits.MaxBytes < 1 {
		return nil, fmt.Errorf("spool limits %+v: both must be positive", limits)
	}
	db, err := boltfile.Open(dir, "spool.db", "spool", "agent")
	if err != nil {
		return nil, err
	}
	if limits.ResendAfter <= 0 {
		limits.ResendAfter = DefaultResendAfter
	}
	s := &Spool{db: db, limits: limits}
	err = boltfile.Load(db, "spool", func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		// Reports sent before a restart are sent again at once: their
		// acknowledgements may have come while the agent was down.
		if tx.Bucket(inflight) != nil {
			if err := tx.DeleteBucket(inflight); err != nil {
				return err
			}
		}
		if _, err := tx.CreateBucket(inflight); err != nil {
			return err
		}
		return b.ForEach(func(_, v []byte) error {
			s.count++
			s.bytes += int64(len(v))
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, err // a *boltfile.DamagedError naming the file
	}
	return s, nil
}

// Put appends a payload, then drops the oldest payloads while the queue is
// over its limits. It returns how many it dropped.
func (s *Spool) Put(payload []byte) (dropped int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var count int
	var size int64
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		if err := b.Put(key(seq), payload); err != nil {
			return err
		}
		count, size = s.count+1, s.bytes+int64(len(payload))
		// Collect first, then delete: deleting under a moving cursor skips keys.
		var old [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && (count > s.limits.MaxReports || size > s.limits.MaxBytes) && count > 1; k, v = c.Next() {
			count, size = count-1, size-int64(len(v))
			old = append(old, append([]byte(nil), k...))
		}
		in := tx.Bucket(inflight)
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := in.Delete(k); err != nil {
				return err
			}
		}
		dropped = len(old)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("spool a report: %w", err)
	}
	s.count, s.bytes = count, size
	s.dropped += uint64(dropped)
	return dropped, nil
}

// Drain sends queued payloads oldest first, skipping those sent less than
// ResendAfter ago and not yet acknowledged, until every payload is in
// flight, send fails or the context ends. A payload stays in the spool
// until Ack names its report. It returns how many it sent and why it
// stopped early, if it did.
func (s *Spool) Drain(ctx context.Context, send func(payload []byte) error) (sent int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	after := []byte(nil) // resume past the last key looked at
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		now := time.Now()
		var keys, payloads [][]byte
		err := s.db.View(func(tx *bolt.Tx) error {
			c, in := tx.Bucket(bucket).Cursor(), tx.Bucket(inflight)
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if k != nil && bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(keys) < drainBatch; k, v = c.Next() {
				after = append(after[:0], k...)
				if at := in.Get(k); len(at) >= 8 && now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(at)))) < s.limits.ResendAfter {
					continue // sent recently; its acknowledgement may be on the way
				}
				keys = append(keys, bytes.Clone(k))
				payloads = append(payloads, bytes.Clone(v))
			}
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("read spool: %w", err)
		}
		if len(keys) == 0 {
			return sent, nil
		}
		n := 0
		var sendErr error
		for _, p := range payloads {
			if sendErr = ctx.Err(); sendErr != nil {
				break
			}
			if sendErr = send(p); sendErr != nil {
				break
			}
			n++
		}
		if n > 0 {
			err := s.db.Update(func(tx *bolt.Tx) error {
				in := tx.Bucket(inflight)
				for i := range n {
					v := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
					if err := in.Put(keys[i], append(v, reportID(payloads[i])...)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				// They will be sent again sooner; report ids make that harmless.
				return sent, fmt.Errorf("mark sent reports in the spool: %w", err)
			}
			sent += n
		}
		if sendErr != nil {
			return sent, sendErr
		}
	}
}

// reportID reads a payload's report id.
func reportID(payload []byte) string {
	var r struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(payload, &r) // a payload without an id is never acknowledged: it leaves by the limits
	return r.ID
}

// Ack removes the sent reports with these ids: the controller has stored
// them. It returns how many it removed.
func (s *Spool) Ack(ids []string) (int, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	removed, freed := 0, int64(0)
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, in := tx.Bucket(bucket), tx.Bucket(inflight)
		var doomed [][]byte
		if err := in.ForEach(func(k, v []byte) error {
			if len(v) > 8 && want[string(v[8:])] {
				doomed = append(doomed, bytes.Clone(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, k := range doomed {
			freed += int64(len(b.Get(k)))
			if err := b.Delete(k); err != nil {
				return err
			}
			if err := in.Delete(k); err != nil {
				return err
			}
		}
		removed = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("remove acknowledged reports from the spool: %w", err)
	}
	s.count -= removed
	s.bytes -= freed
	return removed, nil
}

// Len returns the number and total size of queued payloads.
func (s *Spool) Len() (int, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count, s.bytes
}

// Dropped returns how many payloads the limits have dropped since Open.
func (s *Spool) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Close closes the file.
func (s *Spool) Close() error { return s.db.Close() }

func key(seq uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], seq)
	return k[:]
}
