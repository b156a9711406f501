// Package history keeps every report the controller has taken, per room,
// compressed (internal/reportzip), bounded by age, by count and by bytes
// on disk, so that the API can answer "what did this
// room report since ..." and so that a report delivered twice (QoS 1
// redelivery, an agent replaying its spool) is stored once.
package history

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/internal/reportzip"
	"github.com/siaprapat/siaprapat/internal/retry"
	"github.com/siaprapat/siaprapat/wire"
)

// Defaults: a day of reports at the agent's default 60 s interval, and a
// week at most.
const (
	DefaultMaxAge     = 7 * 24 * time.Hour
	DefaultMaxPerRoom = 1440
	// DefaultMaxBytes is the byte budget: 10 GiB holds the full default
	// history (1,440 reports a room of about 945 bytes on disk) of about
	// 7,900 rooms, a province with room to spare, and keeps a larger fleet
	// (50,000 rooms would take 68 GB at the count bound) from filling the
	// controller's disk: it keeps their last 3.8 hours.
	DefaultMaxBytes = 10 << 30
	// MinMaxBytes is the smallest byte budget the controller takes: bbolt
	// grows the file 16 MiB at a time.
	MinMaxBytes = 16 << 20
	// FlushInterval is how often new reports are written, in one transaction.
	FlushInterval = 250 * time.Millisecond
	// pruneEvery is how often reports past the age bound are removed.
	pruneEvery = time.Minute
	// MaxAhead is how far ahead of the controller's clock a report's
	// measured_at may be and still be believed.
	MaxAhead = 5 * time.Minute
	// MinKeep is how long a report is kept at least after it arrived
	// (half MaxAge when that is shorter): one that its measured_at would
	// have pruned sooner (a late spool replay, a clock days behind) is
	// stored under its arrival instead. Its agent let it go when it was
	// acknowledged.
	MinKeep = 24 * time.Hour
	// DefaultMaxPendingBytes bounds the reports waiting to be written (a
	// full disk): past it, Add refuses with ErrBacklog, the report is not
	// acknowledged, and its agent keeps it in its spool and sends it again.
	DefaultMaxPendingBytes = 64 << 20
)

// ErrBacklog says the reports waiting to be written reached their bound.
var ErrBacklog = errors.New("the report history's writes are failing and its backlog is full")

var (
	bucketReports = []byte("reports") // room key, stored at, id -> stored value (see encodeValue)
	bucketIDs     = []byte("ids")     // room key, id -> stored at (reports stored under their arrival)
)

// Stored values: a report's JSON as it came, compressed (reportzip: its
// first byte reportzip.Magic), or, for a report stored under its arrival
// time because its measured_at was implausible, valueSkewed, the arrival
// time (8 bytes, Unix nanoseconds, big-endian) and the compressed JSON.
// Stores written before compression hold the JSON itself (its first byte
// '{' or white space) where the compressed JSON is now: both read.
//
// The id index maps a room's key and a report's id to the time the report
// is stored under (8 bytes), for the reports stored under their arrival
// only: the others are found by their key (room, measured_at, id). Stores
// written before this hold every report's id there, with the whole reports
// key as the value; only a key's presence is read.
const valueSkewed = 0x01

// Options bound the history.
type Options struct {
	MaxAge     time.Duration // reports measured longer ago are removed; DefaultMaxAge when zero
	MaxPerRoom int           // the oldest reports of a room past this many are removed; DefaultMaxPerRoom when zero
	// MaxBytes bounds the pages of the history's file in use: past it,
	// the oldest reports of every room alike are removed, down to 1 %
	// under it. DefaultMaxBytes when zero.
	MaxBytes int64
	// MaxPendingBytes bounds the reports waiting to be written;
	// DefaultMaxPendingBytes when zero.
	MaxPendingBytes int
	Now             func() time.Time
	Log             *slog.Logger
	OnError         func(error) // hears of every failed write (for a metric); may be nil
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

	mu           sync.Mutex
	pending      []entry
	pendingBytes int
	ids          map[string]bool // id keys pending or being written
	count        map[string]int  // stored reports per room key
	minutes      map[uint64]int  // stored reports per minute they are stored under

	used          atomic.Int64 // pages in use, bytes, as of the last write
	budgetRemoved atomic.Int64 // reports removed to keep within MaxBytes

	stop    chan struct{}
	stopped sync.WaitGroup
}

type entry struct {
	key    []byte
	value  []byte
	skewed bool // stored under its arrival: in the id index
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
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxPendingBytes <= 0 {
		opts.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	db, err := boltfile.Open(dir, "history.db", "report history", "controller")
	if err != nil {
		return nil, err
	}
	h := &History{opts: opts, db: db, ids: map[string]bool{}, count: map[string]int{}, minutes: map[uint64]int{}, stop: make(chan struct{})}
	err = boltfile.Load(db, "report history", func(tx *bolt.Tx) error {
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
			if m, ok := minute(k); ok {
				h.minutes[m]++
			}
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, err // a *boltfile.DamagedError naming the file
	}
	h.flushMu.Lock()
	err = h.keepBudget() // a budget lowered since the last start
	h.flushMu.Unlock()
	if err != nil {
		db.Close()
		return nil, err
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

// reportKey is a report's key: its room, the time it is stored under and its id.
func reportKey(site, room string, at time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(roomKey(site, room), nanos(at)), id...)
}

// nanos is a time as the keys hold it: Unix nanoseconds, 0 for 1970 or
// before, and the largest for after 2262 (which UnixNano cannot say).
func nanos(t time.Time) uint64 {
	switch {
	case t.Unix() <= 0:
		return 0
	case t.After(maxKeyTime):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

var maxKeyTime = time.Unix(0, math.MaxInt64)

// idKey is a report's key in the id index: ids are unique per room, so a
// sender reusing another room's id cannot have that room's report dropped.
func idKey(site, room, id string) []byte { return append(roomKey(site, room), id...) }

// storedAt is the time part of a reports key.
func storedAt(k []byte) []byte {
	i := bytes.IndexByte(k, 0)
	return k[i+1 : i+1+8]
}

// idKeyOf is the id index key of a reports key: its room prefix and its id.
func idKeyOf(k []byte) []byte {
	i := bytes.IndexByte(k, 0)
	return append(bytes.Clone(k[:i+1]), k[i+1+8:]...)
}

// Add records a report. It returns false, storing nothing, when a report
// with the same id is already in the history (or waiting to be written).
func (h *History) Add(rep *wire.Report) (bool, error) { return h.AddEncoded(rep, nil) }

// AddEncoded is Add for a report whose JSON the caller has (as it came off
// the wire; nil when it has none): the history stores that, rather than
// encoding the report again, the larger part of Add's cost. The history
// keeps encoded: the caller must not change it afterwards.
func (h *History) AddEncoded(rep *wire.Report, encoded []byte) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ik := string(idKey(rep.Site, rep.Room, rep.ID))
	if h.ids[ik] {
		return false, nil
	}
	// A report is stored under its measured_at (then its key says it is
	// there) or, when that was implausible, under its arrival, in the id
	// index too (stores written before this hold every id there).
	asMeasured := reportKey(rep.Site, rep.Room, rep.MeasuredAt, rep.ID)
	var seen bool
	if err := boltfile.Guard(h.db, "report history", func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			seen = tx.Bucket(bucketReports).Get(asMeasured) != nil || tx.Bucket(bucketIDs).Get([]byte(ik)) != nil
			return nil
		})
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
	// A report is kept under its measured_at where that is plausible, else
	// under the time it arrived, so that a PC with a wrong clock (or a long
	// spool replay) is neither pruned at once after being acknowledged nor
	// written past the end of the key space.
	now := h.opts.Now()
	at := rep.MeasuredAt
	var head []byte
	skewed := at.Before(now.Add(-h.opts.MaxAge+min(MinKeep, h.opts.MaxAge/2))) || at.After(now.Add(MaxAhead))
	if skewed {
		at = now
		head = binary.BigEndian.AppendUint64([]byte{valueSkewed}, uint64(now.UnixNano()))
	}
	v = reportzip.Compress(head, v)
	if h.pendingBytes+len(v) > h.opts.MaxPendingBytes {
		return false, fmt.Errorf("report %s: %w (%d reports, %d bytes)", rep.ID, ErrBacklog, len(h.pending), h.pendingBytes)
	}
	h.pending = append(h.pending, entry{key: reportKey(rep.Site, rep.Room, at, rep.ID), value: v, skewed: skewed, Stored: Stored{Site: rep.Site, Room: rep.Room, ID: rep.ID}})
	h.pendingBytes += len(v)
	h.ids[ik] = true
	return true, nil
}

// loop writes and prunes until Close. While writes fail (a full disk),
// attempts back off to every 30 s and the failure is logged at most every
// 30 s; every failure is counted (OnError).
func (h *History) loop() {
	defer h.stopped.Done()
	flush := time.NewTicker(FlushInterval)
	defer flush.Stop()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	var pacer retry.Pacer
	for {
		var err error
		select {
		case <-h.stop:
			return
		case <-flush.C:
			if !pacer.Due(h.opts.Now()) {
				continue
			}
			err = h.Flush()
		case <-prune.C:
			if !pacer.Due(h.opts.Now()) {
				continue
			}
			err = h.Prune()
		}
		if err == nil {
			if pacer.Succeeded() {
				h.opts.Log.Info("the report history is written again")
			}
			continue
		}
		if h.opts.OnError != nil {
			h.opts.OnError(err)
		}
		if log, n := pacer.Failed(h.opts.Now()); log {
			h.mu.Lock()
			waiting, bytes := len(h.pending), h.pendingBytes
			h.mu.Unlock()
			h.opts.Log.Error("could not write the report history; retrying with back-off", "err", err, "failures", n,
				"retry_in", pacer.Delay(), "reports_waiting", waiting, "bytes_waiting", bytes)
		}
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
	var batchBytes int
	for _, e := range batch {
		room, _ := roomOf(e.key)
		if _, ok := counts[room]; !ok {
			counts[room] = h.count[room]
		}
		counts[room]++
		batchBytes += len(e.value)
	}
	h.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	var removedKeys [][]byte
	err := boltfile.Guard(h.db, "report history", func() error {
		return h.db.Update(func(tx *bolt.Tx) error {
			reps, ids := tx.Bucket(bucketReports), tx.Bucket(bucketIDs)
			// A room's reports are added at the end of its keys, and
			// leave from their start: split pages full, not halved.
			reps.FillPercent = 1.0
			for _, e := range batch {
				if err := reps.Put(e.key, e.value); err != nil {
					return err
				}
				if !e.skewed {
					continue
				}
				if err := ids.Put(idKey(e.Site, e.Room, e.ID), storedAt(e.key)); err != nil {
					return err
				}
			}
			removedKeys = removedKeys[:0]
			for room, n := range counts {
				if n > h.opts.MaxPerRoom {
					removed, err := removeOldest(reps, ids, []byte(room), n-h.opts.MaxPerRoom)
					if err != nil {
						return err
					}
					counts[room] = n - len(removed)
					removedKeys = append(removedKeys, removed...)
				}
			}
			return nil
		})
	})
	h.mu.Lock()
	if err != nil {
		h.pending = append(batch, h.pending...)
		h.mu.Unlock()
		return fmt.Errorf("write %d reports: %w", len(batch), err)
	}
	h.pendingBytes -= batchBytes
	for room, n := range counts {
		h.count[room] = n
	}
	stored := make([]Stored, len(batch))
	for i, e := range batch {
		delete(h.ids, string(idKey(e.Site, e.Room, e.ID)))
		stored[i] = e.Stored
		if m, ok := minute(e.key); ok {
			h.minutes[m]++
		}
	}
	h.forget(minutesOf(removedKeys))
	h.mu.Unlock()
	if h.opts.OnStored != nil {
		h.opts.OnStored(stored)
	}
	return h.keepBudget()
}

// removeOldest removes up to n of a room's oldest reports.
func removeOldest(reps, ids *bolt.Bucket, room []byte, n int) ([][]byte, error) {
	c := reps.Cursor()
	var doomed [][]byte
	for k, _ := c.Seek(room); k != nil && bytes.HasPrefix(k, room) && len(doomed) < n; k, _ = c.Next() {
		doomed = append(doomed, bytes.Clone(k))
	}
	return doomed, deleteKeys(reps, ids, doomed)
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
	h.flushMu.Lock()
	defer h.flushMu.Unlock()
	if _, err := h.removeBefore(nanos(h.opts.Now().Add(-h.opts.MaxAge))); err != nil {
		return fmt.Errorf("remove reports older than %v: %w", h.opts.MaxAge, err)
	}
	return h.keepBudget()
}

// removeBefore removes every report stored under a time before cutoff (Unix
// nanoseconds), in every room, and returns how many. flushMu is held.
func (h *History) removeBefore(cutoff uint64) (int, error) {
	removed := map[string]int{}
	var minutes []uint64
	err := boltfile.Guard(h.db, "report history", func() error {
		return h.db.Update(func(tx *bolt.Tx) error {
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
			minutes = minutesOf(doomed)
			return deleteKeys(reps, ids, doomed)
		})
	})
	if err != nil {
		return 0, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for room, r := range removed {
		n += r
		h.count[room] -= r
		if h.count[room] <= 0 {
			delete(h.count, room)
		}
	}
	h.forget(minutes)
	return n, nil
}

// minute is the minute (Unix nanoseconds, truncated) a reports key is
// stored under: the history counts its reports by it, to find how far
// back the byte budget leaves them.
func minute(k []byte) (uint64, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) < i+1+8 {
		return 0, false
	}
	at := binary.BigEndian.Uint64(k[i+1:])
	return at - at%uint64(time.Minute), true
}

func minutesOf(keys [][]byte) []uint64 {
	out := make([]uint64, 0, len(keys))
	for _, k := range keys {
		if m, ok := minute(k); ok {
			out = append(out, m)
		}
	}
	return out
}

// forget takes removed reports off the count by minute. mu is held.
func (h *History) forget(minutes []uint64) {
	for _, m := range minutes {
		if h.minutes[m]--; h.minutes[m] <= 0 {
			delete(h.minutes, m)
		}
	}
}

// budgetSlack is how far under MaxBytes the byte budget brings the
// history when it removes reports, so that it does not remove a few at
// every write.
const budgetSlack = 0.01

// keepBudget removes the oldest reports, of every room alike (all those
// stored before one minute), while the pages in use pass MaxBytes. flushMu
// is held.
func (h *History) keepBudget() error {
	for range 8 { // the pages freed follow the reports removed only roughly
		used, err := h.usedBytes()
		if err != nil {
			return err
		}
		h.used.Store(used)
		if used <= h.opts.MaxBytes {
			return nil
		}
		h.mu.Lock()
		var total int
		for _, n := range h.count {
			total += n
		}
		if total == 0 {
			h.mu.Unlock()
			return nil
		}
		perReport := float64(used) / float64(total)
		want := int((float64(used)-float64(h.opts.MaxBytes)*(1-budgetSlack))/perReport) + 1
		mins := make([]uint64, 0, len(h.minutes))
		for m := range h.minutes {
			mins = append(mins, m)
		}
		slices.Sort(mins)
		var cutoff uint64
		for i, got := 0, 0; i < len(mins) && got < want; i++ {
			got += h.minutes[mins[i]]
			cutoff = mins[i] + uint64(time.Minute)
		}
		h.mu.Unlock()
		n, err := h.removeBefore(cutoff)
		if err != nil {
			return fmt.Errorf("keep the report history within %d bytes: %w", h.opts.MaxBytes, err)
		}
		h.budgetRemoved.Add(int64(n))
		h.opts.Log.Info("removed the oldest reports to keep the report history within its byte budget",
			"reports", n, "before", time.Unix(0, int64(cutoff)).UTC(), "bytes", used, "max_bytes", h.opts.MaxBytes)
	}
	return nil
}

// usedBytes is the size of the pages of the history's file in use: the
// pages it has, less those free for reuse.
func (h *History) usedBytes() (int64, error) {
	var size int64
	err := boltfile.Guard(h.db, "report history", func() error {
		return h.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil })
	})
	return size - int64(h.db.Stats().FreeAlloc), err
}

// Bytes is the size of the history's pages in use, as of its last write:
// what MaxBytes bounds.
func (h *History) Bytes() int64 { return h.used.Load() }

// MaxBytes is the byte budget.
func (h *History) MaxBytes() int64 { return h.opts.MaxBytes }

// BudgetRemoved counts the reports removed to keep within MaxBytes.
func (h *History) BudgetRemoved() int64 { return h.budgetRemoved.Load() }

// MaxList bounds one List answer.
const MaxList = 1000

// Entry is a stored report. ReceivedAt and ClockSkewSeconds are set for a
// report whose measured_at was implausible (older than the history keeps,
// or ahead of the controller's clock), stored under the time it arrived:
// the skew is measured_at minus that time.
type Entry struct {
	*wire.Report
	ReceivedAt       *time.Time `json:"received_at,omitempty"`
	ClockSkewSeconds *float64   `json:"clock_skew_seconds,omitempty"`
}

// Query selects a page of a room's history: reports stored at or after
// Since, or, with After (the Next of the page before), the ones after it.
type Query struct {
	Since time.Time
	After string
	Limit int // at most MaxList; MaxList when zero
}

// Page is a page of a room's reports, oldest first; Next, when not empty,
// asks for the reports that follow (Query.After), none skipped or repeated.
type Page struct {
	Reports []Entry
	Next    string
	// Waiting counts the reports of every room not yet written, when they
	// could not be (a full disk): the page holds what is written only.
	Waiting int
}

// Has reports whether the history holds reports of the room (written or
// waiting to be).
func (h *History) Has(site, room string) bool {
	prefix := roomKey(site, room)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count[string(prefix)] > 0 {
		return true
	}
	for _, e := range h.pending {
		if bytes.HasPrefix(e.key, prefix) {
			return true
		}
	}
	return false
}

// ErrCursor says a Query.After is not a cursor this history gave.
var ErrCursor = errors.New("not a cursor of this room's history")

// List returns a page of a room's reports. Reports not yet written are
// included: List flushes first. When the flush fails (a full disk), the
// page has what is written, and Waiting says how many wait.
func (h *History) List(site, room string, q Query) (Page, error) {
	if q.Limit <= 0 || q.Limit > MaxList {
		q.Limit = MaxList
	}
	prefix := roomKey(site, room)
	start := binary.BigEndian.AppendUint64(bytes.Clone(prefix), nanos(q.Since))
	var after []byte
	if q.After != "" {
		suffix, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || len(suffix) < 8 {
			return Page{}, fmt.Errorf("after %q: %w", q.After, ErrCursor)
		}
		start = append(bytes.Clone(prefix), suffix...)
		after = start
	}
	var page Page
	if err := h.Flush(); err != nil {
		h.mu.Lock()
		page.Waiting = len(h.pending)
		h.mu.Unlock()
	}
	var last []byte // the key of the page's last report
	err := boltfile.Guard(h.db, "report history", func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketReports).Cursor()
			for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if after != nil && bytes.Equal(k, after) {
					continue
				}
				if len(page.Reports) == q.Limit {
					page.Next = base64.RawURLEncoding.EncodeToString(last[len(prefix):])
					return nil
				}
				e, err := decodeValue(v)
				if err != nil {
					return fmt.Errorf("stored report %x: %w", k[len(prefix):], err)
				}
				page.Reports = append(page.Reports, e)
				last = append(last[:0], k...)
			}
			return nil
		})
	})
	if err != nil {
		return Page{}, fmt.Errorf("read report history of %s/%s: %w", site, room, err)
	}
	return page, nil
}

// decodeValue reads a stored value (see valueSkewed).
func decodeValue(v []byte) (Entry, error) {
	var e Entry
	raw := v
	if len(v) > 0 && v[0] == valueSkewed {
		if len(v) < 9 {
			return e, errors.New("a skewed report's value is cut short")
		}
		received := time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))).UTC()
		e.ReceivedAt, raw = &received, v[9:]
	}
	raw, err := reportzip.Decompress(nil, raw)
	if err != nil {
		return e, err
	}
	var rep wire.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return e, err
	}
	e.Report = &rep
	if e.ReceivedAt != nil {
		skew := rep.MeasuredAt.Sub(*e.ReceivedAt).Seconds()
		e.ClockSkewSeconds = &skew
	}
	return e, nil
}

// PendingBytes is the size of the reports waiting to be written.
func (h *History) PendingBytes() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pendingBytes
}

// Latest returns a room's n newest reports by measured_at, newest first
// (the board's timeline). Reports not yet written are included: Latest
// flushes first.
func (h *History) Latest(site, room string, n int) ([]*wire.Report, error) {
	if n <= 0 || n > MaxList {
		n = MaxList
	}
	if err := h.Flush(); err != nil {
		return nil, err
	}
	prefix := roomKey(site, room)
	// Past every key of the room: the prefix, then more than a timestamp of 0xff.
	end := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 9)...)
	var out []*wire.Report
	err := boltfile.Guard(h.db, "report history", func() error {
		return h.db.View(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketReports).Cursor()
			k, _ := c.Seek(end)
			var v []byte
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < n; k, v = c.Prev() {
				e, err := decodeValue(v)
				if err != nil {
					return fmt.Errorf("stored report %x: %w", k[len(prefix):], err)
				}
				out = append(out, e.Report)
			}
			return nil
		})
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
