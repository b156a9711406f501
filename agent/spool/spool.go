// Package spool is the agent's store-and-forward queue: encoded reports wait
// in a bbolt file until the broker has acknowledged them, so that a broker
// outage, a dropped link or a crash of the agent loses nothing queued.
package spool

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
)

// Limits bound the queue; past them the oldest reports are dropped first.
type Limits struct {
	MaxReports int
	MaxBytes   int64
}

// DefaultLimits keep about a week of reports at the default 60 s interval
// in at most 64 MiB.
var DefaultLimits = Limits{MaxReports: 10000, MaxBytes: 64 << 20}

// drainBatch is how many reports are sent between two deletes.
const drainBatch = 64

var bucket = []byte("reports")

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
	s := &Spool{db: db, limits: limits}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
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
		return nil, fmt.Errorf("open spool %s: %w", db.Path(), err)
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
		for _, k := range old {
			if err := b.Delete(k); err != nil {
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

// Drain sends queued payloads oldest first until the queue is empty, send
// fails or the context ends; each is deleted only after send succeeded. It
// returns how many it sent and why it stopped early, if it did.
func (s *Spool) Drain(ctx context.Context, send func(payload []byte) error) (sent int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		var keys, payloads [][]byte
		err := s.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			for k, v := c.First(); k != nil && len(keys) < drainBatch; k, v = c.Next() {
				keys = append(keys, append([]byte(nil), k...))
				payloads = append(payloads, append([]byte(nil), v...))
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
				b := tx.Bucket(bucket)
				for i := range n {
					if err := b.Delete(keys[i]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				// The sent reports will be sent again; report ids make that harmless.
				return sent, fmt.Errorf("remove sent reports from the spool: %w", err)
			}
			sent += n
			for i := range n {
				s.count--
				s.bytes -= int64(len(payloads[i]))
			}
		}
		if sendErr != nil {
			return sent, sendErr
		}
	}
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
