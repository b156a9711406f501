package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"
	"unsafe"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/internal/retry"
	"github.com/siaprapat/siaprapat/wire"
)

// FlushInterval is how often changed rooms are written to the store. Writes
// are batched: ingest touches memory only, and one transaction a tick
// persists every room changed since the last, so a burst of reports costs
// one fsync, not one each.
const FlushInterval = 250 * time.Millisecond

var (
	bucketRooms   = []byte("rooms")   // site/room -> record: the room's fields
	bucketReports = []byte("reports") // site/room -> its newest report's JSON, as received (with what ingest added)
	bucketRemoved = []byte("removed") // site/room -> when its agent was revoked (RFC 3339)
)

// recordVersion is stored with each room so that later layouts can migrate.
// Version 1 had the room's newest report inside its record; version 2 keeps
// it in bucketReports, written only when a new one arrives. Version 1
// records are read and written again as version 2.
const recordVersion = 2

type record struct {
	V    int   `json:"v"`
	Room *Room `json:"room"`
}

// reportOfV1 is the newest report inside a version 1 record.
type reportOfV1 struct {
	Room struct {
		Report json.RawMessage `json:"report"`
	} `json:"room"`
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
		reps, err := tx.CreateBucketIfNotExists(bucketReports)
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
			r := rec.Room
			var encoded []byte
			switch rec.V {
			case 1:
				var old reportOfV1
				if err := json.Unmarshal(v, &old); err != nil {
					return fmt.Errorf("room %q: undecodable record: %v", k, err)
				}
				if len(old.Room.Report) > 0 && string(old.Room.Report) != "null" {
					encoded = old.Room.Report // a copy, as json.RawMessage is
					f.reports[string(k)] = true
				}
				f.dirty[string(k)] = true // written again as version 2
			case recordVersion:
				encoded = reps.Get(k) // valid in this transaction only: decoded at once
			default:
				return fmt.Errorf("room %q: record version %d, this build reads %d", k, rec.V, recordVersion)
			}
			if encoded != nil {
				rep, err := wire.Decode(encoded)
				if err != nil {
					return fmt.Errorf("room %q: its newest report: %w", k, err)
				}
				r.Report = newNewest(rep)
				if f.reports[string(k)] {
					r.encoded = encoded
				}
			}
			f.rooms[string(k)] = r
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

// Flush writes every changed room now, and every new report. On failure
// they stay queued.
func (f *Fleet) Flush() error {
	if f.store == nil {
		return nil
	}
	f.mu.Lock()
	if len(f.dirty) == 0 && len(f.tombs) == 0 && len(f.reports) == 0 {
		f.mu.Unlock()
		return nil
	}
	batch := make(map[string][]byte, len(f.dirty))   // nil: the room was removed
	removed := make(map[string][]byte, len(f.tombs)) // nil: no longer removed
	reports := make(map[string][]byte, len(f.reports))
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
		v, err := json.Marshal(record{V: recordVersion, Room: r})
		if err != nil {
			f.mu.Unlock()
			return fmt.Errorf("encode room %s: %w", k, err)
		}
		batch[k] = v
	}
	for k := range f.reports {
		if r, ok := f.rooms[k]; ok && r.encoded != nil {
			reports[k] = r.encoded
		}
	}
	f.dirty, f.tombs, f.reports = map[string]bool{}, map[string]bool{}, map[string]bool{}
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
			b, reps := tx.Bucket(bucketRooms), tx.Bucket(bucketReports)
			for k, v := range batch {
				if v == nil {
					if err := b.Delete([]byte(k)); err != nil {
						return err
					}
					if err := reps.Delete([]byte(k)); err != nil {
						return err
					}
					continue
				}
				if err := b.Put([]byte(k), v); err != nil {
					return err
				}
			}
			for k, v := range reports {
				if v, ok := batch[k]; ok && v == nil {
					continue // the room left before its report was written
				}
				if err := reps.Put([]byte(k), v); err != nil {
					return err
				}
			}
			return nil
		})
	})
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		for k := range batch {
			f.dirty[k] = true
		}
		for k := range removed {
			f.tombs[k] = true
		}
		for k := range reports {
			f.reports[k] = true
		}
		return fmt.Errorf("write %d rooms: %w", len(batch), err)
	}
	// The reports written leave memory, unless a newer one came meanwhile.
	for k, v := range reports {
		if r, ok := f.rooms[k]; ok && unsafe.SliceData(r.encoded) == unsafe.SliceData(v) {
			r.encoded = nil
		}
	}
	return nil
}

// NewestReport reads the room's newest report, whole: as the agent sent it,
// with what ingest added (the controller's inventory results, the checks
// not run). It is nil, without error, when the fleet has no report of the
// room.
func (f *Fleet) NewestReport(site, room string) (*wire.Report, error) {
	k := key(site, room)
	f.mu.RLock()
	r, ok := f.rooms[k]
	has := ok && r.Report != nil
	var encoded []byte
	if has {
		encoded = r.encoded
	}
	f.mu.RUnlock()
	if !has {
		return nil, nil
	}
	if encoded == nil && f.store != nil {
		// Written: a flush drops a report from memory only once it is.
		err := boltfile.Guard(f.store.db, "fleet store", func() error {
			return f.store.db.View(func(tx *bolt.Tx) error {
				encoded = bytes.Clone(tx.Bucket(bucketReports).Get([]byte(k)))
				return nil
			})
		})
		if err != nil {
			return nil, fmt.Errorf("read the newest report of %s: %w", k, err)
		}
	}
	if encoded == nil {
		return nil, fmt.Errorf("read the newest report of %s: the fleet store has none", k)
	}
	rep, err := wire.Decode(encoded)
	if err != nil {
		return nil, fmt.Errorf("read the newest report of %s: %w", k, err)
	}
	return rep, nil
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
