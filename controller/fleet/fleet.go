// Package fleet keeps the state of every room: its agent's status, its
// latest report and the readiness that follows, persisted in bbolt so that a
// restart keeps the fleet.
package fleet

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/siaprapat/siaprapat/wire"
)

// State is a room's readiness.
type State string

const (
	Ready    State = "ready"
	Degraded State = "degraded"
	NotReady State = "not_ready"
	Offline  State = "offline" // the agent said goodbye, or its last will fired
	Unknown  State = "unknown" // no report newer than the freshness window
)

// States lists every state, for state-set metrics.
var States = []State{Ready, Degraded, NotReady, Offline, Unknown}

// Room is what the fleet knows of one room.
type Room struct {
	Site        string    `json:"site"`
	Room        string    `json:"room"`
	AgentStatus string    `json:"agent_status,omitempty"` // "online", "offline" or empty when never heard
	StatusAt    time.Time `json:"status_at,omitzero"`
	// Report is what the fleet keeps of the newest report by measured_at
	// (nil before the first): the whole report is in the store, read by
	// Fleet.NewestReport. The store writes it apart from the room's fields.
	Report     *Newest   `json:"-"`
	ReceivedAt time.Time `json:"received_at,omitzero"`
	FirstSeen  time.Time `json:"first_seen"`
	// Changed is when an update last changed the room's state; State()
	// derives the current state from the fields above and the clock.
	Changed time.Time `json:"changed"`

	// encoded is the newest report's JSON, until the store has written it;
	// a fleet without a store keeps it (for NewestReport).
	encoded []byte
}

// Outcome says what the fleet did with a report.
type Outcome int

const (
	Stored    Outcome = iota // the room's newest report (or status)
	Duplicate                // the same id as the stored report: ignored
	Older                    // older than the stored report: not the room's state
	Refused                  // a new room past Options.MaxRooms: ignored
)

// Options configure a fleet.
type Options struct {
	Freshness time.Duration    // a report older than this makes the room unknown
	MaxRooms  int              // rooms beyond this many are refused; 0 means DefaultMaxRooms
	Now       func() time.Time // the clock; time.Now when nil
	Log       *slog.Logger
}

// DefaultMaxRooms bounds the fleet so that messages for made-up rooms cannot
// grow it without end; a province has hundreds to a few thousand rooms.
const DefaultMaxRooms = 100_000

// Fleet is the set of rooms. It is safe for concurrent use.
type Fleet struct {
	opts  Options
	store *store

	mu      sync.RWMutex
	rooms   map[string]*Room
	removed map[string]time.Time // rooms whose agent was revoked, and when
	dirty   map[string]bool      // rooms to write
	reports map[string]bool      // rooms whose newest report is to write
	tombs   map[string]bool      // removed entries to write
}

func key(site, room string) string { return site + "/" + room }

// New returns an in-memory fleet with no persistence.
func New(opts Options) *Fleet {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxRooms <= 0 {
		opts.MaxRooms = DefaultMaxRooms
	}
	return &Fleet{opts: opts, rooms: map[string]*Room{}, removed: map[string]time.Time{}, dirty: map[string]bool{}, reports: map[string]bool{}, tombs: map[string]bool{}}
}

// Freshness is the window after which a room without reports is unknown.
func (f *Fleet) Freshness() time.Duration { return f.opts.Freshness }

// State returns the room's state at now, and since when it holds.
func (r *Room) State(now time.Time, freshness time.Duration) (State, time.Time) {
	if r.AgentStatus == wire.StatusOffline {
		return Offline, r.StatusAt
	}
	return r.ReportState(now, freshness)
}

// ReportState is the state the room's newest report gives it at now,
// whatever its agent's status: what the room was when its agent went away.
func (r *Room) ReportState(now time.Time, freshness time.Duration) (State, time.Time) {
	if r.Report == nil {
		return Unknown, r.Changed
	}
	if stale := freshAt(r).Add(freshness); !now.Before(stale) {
		// Unknown since the report went stale, or since the room came back
		// online with a stale report, whichever is later.
		if r.Changed.After(stale) {
			return Unknown, r.Changed
		}
		return Unknown, stale
	}
	return stateOfReport(r.Report), r.Changed
}

// ReportTakenAt is when the room's newest report counts as taken (its
// measured_at, never later than it arrived); zero without a report.
func (r *Room) ReportTakenAt() time.Time {
	if r.Report == nil {
		return time.Time{}
	}
	return freshAt(r)
}

// freshAt is when the room's report counts as taken: its measured_at, but
// never later than it arrived, so that an agent's fast clock cannot keep a
// silent room looking fresh.
func freshAt(r *Room) time.Time { return takenAt(r.Report.MeasuredAt, r.ReceivedAt) }

// takenAt is a report's measured_at, or when it arrived if that is earlier.
// Reports are ordered by it, so one report from a PC whose clock ran ahead
// cannot make every later, correct report look older.
func takenAt(measuredAt, receivedAt time.Time) time.Time {
	if measuredAt.After(receivedAt) {
		return receivedAt
	}
	return measuredAt
}

// stateOfReport is the state a fresh report gives its room.
func stateOfReport(r *Newest) State {
	switch r.Verdict {
	case wire.Ready:
		return Ready
	case wire.Degraded:
		return Degraded
	}
	return NotReady
}

// roomLocked returns the room, creating it when new, or nil when a new room
// would pass MaxRooms; k is its key. Callers hold f.mu.
func (f *Fleet) roomLocked(k, site, room string, now time.Time) *Room {
	r := f.rooms[k]
	if r == nil {
		if len(f.rooms) >= f.opts.MaxRooms {
			return nil
		}
		// The room's names share the key's bytes.
		r = &Room{Site: k[:len(site)], Room: k[len(site)+1:], FirstSeen: now, Changed: now}
		f.rooms[k] = r
		if _, ok := f.removed[k]; ok {
			delete(f.removed, k) // an agent speaks for it again
			f.tombs[k] = true
		}
	}
	return r
}

// settle records a change of state at now of the room under key k.
// Callers hold f.mu.
func (f *Fleet) settle(k string, r *Room, before State, now time.Time) {
	if after, _ := r.State(now, f.opts.Freshness); after != before {
		r.Changed = now
	}
	f.dirty[k] = true
}

// ApplyReport records a decoded report received at receivedAt. A report
// with the id of the stored one is a duplicate; one measured before the
// stored one is older and leaves the room's state alone.
func (f *Fleet) ApplyReport(rep *wire.Report, receivedAt time.Time) Outcome {
	return f.ApplyEncoded(rep, nil, receivedAt)
}

// ApplyEncoded is ApplyReport for a report whose JSON the caller has (nil
// when it has none, and the fleet encodes it): the store writes that, and
// the fleet keeps only what its readers need of the report. The fleet
// keeps encoded until it is written: the caller must not change it
// afterwards. Nothing of rep is kept: the caller may reuse it.
func (f *Fleet) ApplyEncoded(rep *wire.Report, encoded []byte, receivedAt time.Time) Outcome {
	// Cut and encode before taking the lock: ingest calls this for every
	// report, from as many goroutines as the broker has.
	n := newNewest(rep)
	if encoded == nil {
		var err error
		if encoded, err = json.Marshal(rep); err != nil {
			// A decoded report always encodes. Were one not to, its room
			// would still take its state; the store keeps the report before.
			f.opts.Log.Error("encode a report for the fleet store", "site", rep.Site, "room", rep.Room, "id", rep.ID, "err", err)
		}
	}
	now := f.opts.Now()
	k := key(rep.Site, rep.Room)
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.roomLocked(k, rep.Site, rep.Room, now)
	if r == nil {
		return Refused
	}
	if r.Report != nil {
		if r.Report.ID == rep.ID {
			return Duplicate
		}
		if takenAt(rep.MeasuredAt, receivedAt).Before(freshAt(r)) {
			return Older
		}
	}
	before, _ := r.State(now, f.opts.Freshness)
	r.Report, r.ReceivedAt = n, receivedAt
	if encoded != nil {
		r.encoded = encoded
		f.reports[k] = true
	}
	// A report proves the agent is up, even if its "online" was lost.
	if r.AgentStatus != wire.StatusOnline {
		r.AgentStatus, r.StatusAt = wire.StatusOnline, receivedAt
	}
	f.settle(k, r, before, now)
	return Stored
}

// ApplyStatus records an agent's "online" or "offline". A repeat of the
// current status (a retained message delivered again after a resubscribe)
// changes nothing.
func (f *Fleet) ApplyStatus(site, room, status string, at time.Time) Outcome {
	now := f.opts.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(site, room)
	r := f.roomLocked(k, site, room, now)
	if r == nil {
		return Refused
	}
	if r.AgentStatus == status {
		return Duplicate
	}
	before, _ := r.State(now, f.opts.Freshness)
	r.AgentStatus, r.StatusAt = status, at
	f.settle(k, r, before, now)
	return Stored
}

// View is a room with its state at one instant.
type View struct {
	*Room
	State State     `json:"state"`
	Since time.Time `json:"since"`
}

// Admits reports whether a report for the room would be taken: the room
// is known, or the fleet is under its room limit.
func (f *Fleet) Admits(site, room string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, known := f.rooms[key(site, room)]
	return known || len(f.rooms) < f.opts.MaxRooms
}

// Remove forgets a room (its site went to another shard): it leaves the
// metrics, the API and the store. It reports whether the room was known.
func (f *Fleet) Remove(site, room string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(site, room)
	if _, ok := f.rooms[k]; !ok {
		return false
	}
	delete(f.rooms, k)
	f.dirty[k] = true
	return true
}

// Revoke forgets a room whose agent was removed, as Remove does, and
// remembers when (RemovedAt), so that what is said of the room's meetings
// is "agent removed". A report or status from the room brings it back. It
// reports whether the room was known.
func (f *Fleet) Revoke(site, room string, at time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := key(site, room)
	_, known := f.rooms[k]
	delete(f.rooms, k)
	f.removed[k] = at
	f.dirty[k], f.tombs[k] = true, true
	return known
}

// RemovedAt is when the room's agent was removed; zero when it was not, or
// when an agent has spoken for the room since.
func (f *Fleet) RemovedAt(site, room string) time.Time {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.removed[key(site, room)]
}

// Rooms returns every room with its current state, sorted by site and room.
// The rooms are copies; their reports are shared and must not be changed.
func (f *Fleet) Rooms() []View {
	now := f.opts.Now()
	f.mu.RLock()
	out := make([]View, 0, len(f.rooms))
	for _, r := range f.rooms {
		out = append(out, view(r, now, f.opts.Freshness))
	}
	f.mu.RUnlock()
	slices.SortFunc(out, func(a, b View) int {
		return cmp.Or(cmp.Compare(a.Site, b.Site), cmp.Compare(a.Room.Room, b.Room.Room))
	})
	return out
}

// Get returns one room with its current state.
func (f *Fleet) Get(site, room string) (View, bool) {
	now := f.opts.Now()
	f.mu.RLock()
	defer f.mu.RUnlock()
	r, ok := f.rooms[key(site, room)]
	if !ok {
		return View{}, false
	}
	return view(r, now, f.opts.Freshness), true
}

func view(r *Room, now time.Time, freshness time.Duration) View {
	c := *r
	st, since := c.State(now, freshness)
	return View{Room: &c, State: st, Since: since}
}

// Len is the number of rooms.
func (f *Fleet) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.rooms)
}
