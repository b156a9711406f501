// Package history keeps every report the controller has taken, per room,
// bounded by age and by count, so that the API can answer "what did this
// room report since ..." and so that a report delivered twice (QoS 1
// redelivery, an agent replaying its spool) is stored once.
package history

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/agent/report"
	"github.com/siaprapat/siaprapat/internal/boltfile"
)

// Defaults: a day of reports at the agent's default 60 s interval, and a
// week at most. About 2 KiB a report, so 1,000 rooms keep about 3 GB.
const (
	DefaultMaxAge     = 7 * 24 * time.Hour
	DefaultMaxPerRoom = 1440
	// FlushInterval is how often new reports are written, in one transaction.
	FlushInterval = 250 * time.Millisecond
	// pruneEvery is how often reports past the age bound are removed.
	pruneEvery = time.Minute
)

var (
	bucketReports = []byte("reports") // room key, measured_at, id -> report JSON
	bucketIDs     = []byte("ids")     // room key, id -> reports key
)

// Options bound the history.
type Options struct {
	MaxAge     time.Duration // reports measured longer ago are removed; DefaultMaxAge when zero
	MaxPerRoom int           // the oldest reports of a room past this many are removed; DefaultMaxPerRoom when zero
	Now        func() time.Time
	Log        *slog.Logger
	OnError    func(error) // hears of every failed write (for a metric); may be nil
	// OnStored, when set, hears of reports now safely stored: after each
	// write, and at once for a report added again whose id is stored
	// already (its first acknowledgement was lost). It must not block.
	OnStored func([]Stored)
}

// Stored names a report the history holds.
type Stored struct{ Site, Room, ID string }

// History is the report history. It is safe for concurrent use.
type History struct {
	opts    Options
	db      *bolt.DB
	flushMu sync.Mutex // one flush or prune at a time

	mu      sync.Mutex
	pending []entry
	ids     map[string]bool // id keys pending or being written
	count   map[string]int  // stored reports per room key

	stop    chan struct{}
	stopped sync.WaitGroup
}

type entry struct {
	key   []byte
	value []byte
	Stored
}

// Open opens (or creates) dir/history.db and starts writing new reports
// every FlushInterval and removing old ones every minute.
func Open(dir string, opts Options) (*History, error) {
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.MaxPerRoom <= 0 {
		opts.MaxPerRoom = DefaultMaxPerRoom
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	db, err := boltfile.Open(dir, "history.db", "report history", "controller")
	if err != nil {
		return nil, err
	}
	h := &History{opts: opts, db: db, ids: map[string]bool{}, count: map[string]int{}, stop: make(chan struct{})}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketReports)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketIDs); err != nil {
			return err
		}
		return b.ForEach(func(k, _ []byte) error {
			if room, ok := roomOf(k); ok {
				h.count[room]++
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("load report history %s: %w", db.Path(), err)
	}
	h.stopped.Add(1)
	go h.loop()
	return h, nil
}

// roomKey is the prefix of a room's reports: "site/room" and a zero byte,
// which no site or room name contains.
func roomKey(site, room string) []byte { return []byte(site + "/" + room + "\x00") }

func roomOf(k []byte) (string, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", false
	}
	return string(k[:i+1]), true
}

func reportKey(rep *report.Report) []byte {
	k := roomKey(rep.Site, rep.Room)
	// A PC whose clock says 1970 or before sorts first, not last.
	k = binary.BigEndian.AppendUint64(k, uint64(max(rep.MeasuredAt.UnixNano(), 0)))
	return append(k, rep.ID...)
}

// idKey is a report's key in the id index: ids are unique per room, so a
// sender reusing another room's id cannot have that room's report dropped.
func idKey(site, room, id string) []byte { return append(roomKey(site, room), id...) }

// idKeyOf is the id index key of a reports key: its room prefix and its id.
func idKeyOf(k []byte) []byte {
	i := bytes.IndexByte(k, 0)
	return append(bytes.Clone(k[:i+1]), k[i+1+8:]...)
}

// Add records a report. It returns false, storing nothing, when a report
// with the same id is already in the history (or waiting to be written).
func (h *History) Add(rep *report.Report) (bool, error) { return h.AddEncoded(rep, nil) }

// AddEncoded is Add for a report whose JSON the caller has (as it came off
// the wire; nil when it has none): the history stores that, rather than
// encoding the report again, the larger part of Add's cost. The history
// keeps encoded: the caller must not change it afterwards.
func (h *History) AddEncoded(rep *report.Report, encoded []byte) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ik := string(idKey(rep.Site, rep.Room, rep.ID))
	if h.ids[ik] {
		return false, nil
	}
	var seen bool
	if err := h.db.View(func(tx *bolt.Tx) error {
		seen = tx.Bucket(bucketIDs).Get([]byte(ik)) != nil
		return nil
	}); err != nil {
		return false, fmt.Errorf("look up report %s: %w", rep.ID, err)
	}
	if seen {
		if h.opts.OnStored != nil {
			h.opts.OnStored([]Stored{{Site: rep.Site, Room: rep.Room, ID: rep.ID}})
		}
		return false, nil
	}
	v := encoded
	if v == nil {
		var err error
		if v, err = json.Marshal(rep); err != nil {
			return false, fmt.Errorf("encode report %s: %w", rep.ID, err)
		}
	}
	h.pending = append(h.pending, entry{key: reportKey(rep), value: v, Stored: Stored{Site: rep.Site, Room: rep.Room, ID: rep.ID}})
	h.ids[ik] = true
	return true, nil
}

func (h *History) loop() {
	defer h.stopped.Done()
	flush := time.NewTicker(FlushInterval)
	defer flush.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-flush.C:
			if err := h.Flush(); err != nil {
				h.failed(err)
			}
		case <-prune.C:
			if err := h.Prune(); err != nil {
				h.failed(err)
			}
		}
	}
}

func (h *History) failed(err error) {
	h.opts.Log.Error("could not write the report history; will retry", "err", err)
	if h.opts.OnError != nil {
		h.opts.OnError(err)
	}
}

// Flush writes the reports added since the last flush, and removes the
// oldest of each room past MaxPerRoom. On failure they stay queued. Add is
// not held up while the transaction commits.
func (h *History) Flush() error {
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	h.mu.Lock()
	batch := h.pending
	h.pending = nil
	counts := map[string]int{}
	for _, e := range batch {
		room, _ := roomOf(e.key)
		if _, ok := counts[room]; !ok {
			counts[room] = h.count[room]
		}
		counts[room]++
	}
	h.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		reps, ids := tx.Bucket(bucketReports), tx.Bucket(bucketIDs)
		for _, e := range batch {
			if err := reps.Put(e.key, e.value); err != nil {
				return err
			}
			if err := ids.Put(idKey(e.Site, e.Room, e.ID), e.key); err != nil {
				return err
			}
		}
		for room, n := range counts {
			if n > h.opts.MaxPerRoom {
				removed, err := removeOldest(reps, ids, []byte(room), n-h.opts.MaxPerRoom)
				if err != nil {
					return err
				}
				counts[room] = n - removed
			}
		}
		return nil
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.pending = append(batch, h.pending...)
		return fmt.Errorf("write %d reports: %w", len(batch), err)
	}
	for room, n := range counts {
		h.count[room] = n
	}
	stored := make([]Stored, len(batch))
	for i, e := range batch {
		delete(h.ids, string(idKey(e.Site, e.Room, e.ID)))
		stored[i] = e.Stored
	}
	if h.opts.OnStored != nil {
		h.opts.OnStored(stored)
	}
	return nil
}

// removeOldest removes up to n of a room's oldest reports.
func removeOldest(reps, ids *bolt.Bucket, room []byte, n int) (int, error) {
	c := reps.Cursor()
	var doomed [][]byte
	for k, _ := c.Seek(room); k != nil && bytes.HasPrefix(k, room) && len(doomed) < n; k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	return len(doomed), deleteKeys(reps, ids, doomed)
}

func deleteKeys(reps, ids *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := ids.Delete(idKeyOf(k)); err != nil {
			return err
		}
		if err := reps.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// Prune removes every report measured before MaxAge ago.
func (h *History) Prune() error {
	cutoff := uint64(h.opts.Now().Add(-h.opts.MaxAge).UnixNano())
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	removed := map[string]int{}
	err := h.db.Update(func(tx *bolt.Tx) error {
		reps, ids := tx.Bucket(bucketReports), tx.Bucket(bucketIDs)
		var doomed [][]byte
		c := reps.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			room, ok := roomOf(k)
			if !ok || len(k) < len(room)+8 {
				continue
			}
			if at := binary.BigEndian.Uint64(k[len(room):]); at < cutoff {
				doomed = append(doomed, bytes.Clone(k))
				removed[room]++
			} else {
				// The rest of this room is newer: jump to the next room.
				next := append([]byte(room[:len(room)-1]), 1)
				if k, _ = c.Seek(next); k == nil {
					break
				}
				c.Prev()
			}
		}
		return deleteKeys(reps, ids, doomed)
	})
	if err != nil {
		return fmt.Errorf("remove reports older than %v: %w", h.opts.MaxAge, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for room, n := range removed {
		h.count[room] -= n
		if h.count[room] <= 0 {
			delete(h.count, room)
		}
	}
	return nil
}

// MaxList bounds one Since answer.
const MaxList = 1000

// Since returns up to limit of a room's reports measured at or after since,
// oldest first, with whether more follow. Reports not yet written are
// included: Since flushes first.
func (h *History) Since(site, room string, since time.Time, limit int) ([]*report.Report, bool, error) {
	if limit <= 0 || limit > MaxList {
		limit = MaxList
	}
	if err := h.Flush(); err != nil {
		return nil, false, err
	}
	prefix := roomKey(site, room)
	start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), uint64(max(since.UnixNano(), 0)))
	var out []*report.Report
	more := false
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReports).Cursor()
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(out) == limit {
				more = true
				return nil
			}
			var rep report.Report
			if err := json.Unmarshal(v, &rep); err != nil {
				return fmt.Errorf("stored report %x: %w", k[len(prefix):], err)
			}
			out = append(out, &rep)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read report history of %s/%s: %w", site, room, err)
	}
	return out, more, nil
}

// Latest returns a room's n newest reports by measured_at, newest first
// (the board's timeline). Reports not yet written are included: Latest
// flushes first.
func (h *History) Latest(site, room string, n int) ([]*report.Report, error) {
	if n <= 0 || n > MaxList {
		n = MaxList
	}
	if err := h.Flush(); err != nil {
		return nil, err
	}
	prefix := roomKey(site, room)
	// Past every key of the room: the prefix, then more than a timestamp of 0xff.
	end := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 9)...)
	var out []*report.Report
	err := h.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReports).Cursor()
		k, v := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < n; k, v = c.Prev() {
			var rep report.Report
			if err := json.Unmarshal(v, &rep); err != nil {
				return fmt.Errorf("stored report %x: %w", k[len(prefix):], err)
			}
			out = append(out, &rep)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read report history of %s/%s: %w", site, room, err)
	}
	return out, nil
}

// Len returns how many reports of a room are stored (after the next flush).
func (h *History) Len(site, room string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.count[string(roomKey(site, room))]
	for _, e := range h.pending {
		if r, _ := roomOf(e.key); r == string(roomKey(site, room)) {
			n++
		}
	}
	return n
}

// Close writes what is pending and closes the store.
func (h *History) Close() error {
	close(h.stop)
	h.stopped.Wait()
	err := h.Flush()
	if cerr := h.db.Close(); err == nil {
		err = cerr
	}
	return err
}
