package fleet

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/internal/retry"
)

// FlushInterval is how often changed rooms are written to the store. Writes
// are batched: ingest touches memory only, and one transaction a tick
// persists every room changed since the last, so a burst of reports costs
// one fsync, not one each.
const FlushInterval = 250 * time.Millisecond

var (
	bucketRooms   = []byte("rooms")
	bucketRemoved = []byte("removed") // site/room -> when its agent was revoked (RFC 3339)
)

// recordVersion is stored with each room so that later layouts can migrate.
const recordVersion = 1

type record struct {
	V    int   `json:"v"`
	Room *Room `json:"room"`
}

// encodeRecord encodes a room's record: the room's fields, and its report
// as received when the fleet still has that (encoding it again would cost
// more than everything else a flush does), else encoded afresh.
func encodeRecord(r *Room) ([]byte, error) {
	rep := r.encoded
	if rep == nil {
		if r.Report == nil {
			return json.Marshal(record{V: recordVersion, Room: r})
		}
		var err error
		if rep, err = json.Marshal(r.Report); err != nil {
			return nil, err
		}
	}
	// The room without its report (the outer, nil field hides Room's),
	// then the report spliced in as its last field.
	head, err := json.Marshal(struct {
		*Room
		Report *struct{} `json:"report,omitempty"`
	}{Room: r})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(head)+len(rep)+32)
	out = append(out, `{"v":`...)
	out = strconv.AppendInt(out, recordVersion, 10)
	out = append(out, `,"room":`...)
	out = append(out, head[:len(head)-1]...) // without its closing brace; it has fields (site, room, ...)
	out = append(out, `,"report":`...)
	out = append(out, rep...)
	return append(out, "}}"...), nil
}

type store struct {
	db      *bolt.DB
	stop    chan struct{}
	stopped sync.WaitGroup
	// onError is told about every failed flush (for a metric); may be nil.
	onError func(error)
}

// Open opens (or creates) the fleet store at dir/fleet.db, loads every room,
// and starts writing changes back every FlushInterval. onError, when not nil,
// hears of every write that failed (the rooms stay queued and are retried).
func Open(dir string, opts Options, onError func(error)) (*Fleet, error) {
	db, err := boltfile.Open(dir, "fleet.db", "fleet store", "controller")
	if err != nil {
		return nil, err
	}
	f := New(opts)
	err = boltfile.Load(db, "fleet store", func(tx *bolt.Tx) error {
		gone, err := tx.CreateBucketIfNotExists(bucketRemoved)
		if err != nil {
			return err
		}
		err = gone.ForEach(func(k, v []byte) error {
			var at time.Time
			if err := at.UnmarshalText(v); err != nil {
				return fmt.Errorf("removed room %q: %w", k, err)
			}
			f.removed[string(k)] = at
			return nil
		})
		if err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketRooms)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var rec record
			if err := json.Unmarshal(v, &rec); err != nil || rec.Room == nil {
				return fmt.Errorf("room %q: undecodable record: %v", k, err)
			}
			if rec.V != recordVersion {
				return fmt.Errorf("room %q: record version %d, this build reads %d", k, rec.V, recordVersion)
			}
			f.rooms[string(k)] = rec.Room
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, err // a *boltfile.DamagedError naming the file
	}
	f.store = &store{db: db, stop: make(chan struct{}), onError: onError}
	f.store.stopped.Add(1)
	go f.flushLoop()
	return f, nil
}

// flushLoop writes changed rooms until Close. While writes fail (a full
// disk), attempts back off to every 30 s and the failure is logged at most
// every 30 s; every failure is counted (onError). The rooms stay in memory
// (their number bounds what waits) and are served all the while.
func (f *Fleet) flushLoop() {
	defer f.store.stopped.Done()
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	var pacer retry.Pacer
	for {
		select {
		case <-f.store.stop:
			return
		case <-t.C:
		}
		if !pacer.Due(f.opts.Now()) {
			continue
		}
		err := f.Flush()
		if err == nil {
			if pacer.Succeeded() {
				f.opts.Log.Info("the fleet store is written again")
			}
			continue
		}
		if f.store.onError != nil {
			f.store.onError(err)
		}
		if log, n := pacer.Failed(f.opts.Now()); log {
			f.opts.Log.Error("could not write the fleet store; retrying with back-off", "err", err, "failures", n, "retry_in", pacer.Delay())
		}
	}
}

// Flush writes every changed room now. On failure the rooms stay queued.
func (f *Fleet) Flush() error {
	if f.store == nil {
		return nil
	}
	f.mu.Lock()
	if len(f.dirty) == 0 && len(f.tombs) == 0 {
		f.mu.Unlock()
		return nil
	}
	batch := make(map[string][]byte, len(f.dirty))   // nil: the room was removed
	removed := make(map[string][]byte, len(f.tombs)) // nil: no longer removed
	for k := range f.tombs {
		removed[k] = nil
		if at, ok := f.removed[k]; ok {
			removed[k], _ = at.MarshalText()
		}
	}
	for k := range f.dirty {
		r, ok := f.rooms[k]
		if !ok {
			batch[k] = nil
			continue
		}
		v, err := encodeRecord(r)
		if err != nil {
			f.mu.Unlock()
			return fmt.Errorf("encode room %s: %w", k, err)
		}
		batch[k] = v
		r.encoded = nil // in the batch; a later write without a new report encodes it
	}
	f.dirty, f.tombs = map[string]bool{}, map[string]bool{}
	f.mu.Unlock()

	err := boltfile.Guard(f.store.db, "fleet store", func() error {
		return f.store.db.Update(func(tx *bolt.Tx) error {
			gone := tx.Bucket(bucketRemoved)
			for k, v := range removed {
				var err error
				if v == nil {
					err = gone.Delete([]byte(k))
				} else {
					err = gone.Put([]byte(k), v)
				}
				if err != nil {
					return err
				}
			}
			b := tx.Bucket(bucketRooms)
			for k, v := range batch {
				if v == nil {
					if err := b.Delete([]byte(k)); err != nil {
						return err
					}
					continue
				}
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		f.mu.Lock()
		for k := range batch {
			f.dirty[k] = true
		}
		for k := range removed {
			f.tombs[k] = true
		}
		f.mu.Unlock()
		return fmt.Errorf("write %d rooms: %w", len(batch), err)
	}
	return nil
}

// Close writes what is pending and closes the store.
func (f *Fleet) Close() error {
	if f.store == nil {
		return nil
	}
	close(f.store.stop)
	f.store.stopped.Wait()
	err := f.Flush()
	if cerr := f.store.db.Close(); err == nil {
		err = cerr
	}
	return err
}
