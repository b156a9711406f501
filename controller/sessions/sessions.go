// Package sessions keeps the meeting schedule: sessions per room with start,
// end, title and organiser, from the API (and iCalendar feeds), persisted in
// bbolt.
package sessions

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/siaprapat/siaprapat/internal/boltfile"
	"github.com/siaprapat/siaprapat/wire"
)

// Session is one meeting in one room.
type Session struct {
	ID        string    `json:"id"`
	Site      string    `json:"site"`
	Room      string    `json:"room"`
	Title     string    `json:"title"`
	Organizer string    `json:"organizer,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Source    string    `json:"source"` // "api", or the iCalendar feed it came from
}

// Limits on a session's fields.
const (
	MaxTitle    = 200
	MaxDuration = 24 * time.Hour
)

// Validate checks a session's fields, naming the field at fault.
func (s *Session) Validate() error {
	var errs []string
	if err := wire.CheckName("site", s.Site); err != nil {
		errs = append(errs, err.Error())
	}
	if err := wire.CheckName("room", s.Room); err != nil {
		errs = append(errs, err.Error())
	}
	if strings.TrimSpace(s.Title) == "" || len(s.Title) > MaxTitle {
		errs = append(errs, fmt.Sprintf("title: want 1 to %d characters", MaxTitle))
	}
	if len(s.Organizer) > MaxTitle {
		errs = append(errs, fmt.Sprintf("organizer: longer than %d characters", MaxTitle))
	}
	switch {
	case s.Start.IsZero():
		errs = append(errs, "start: missing; want an RFC 3339 time, e.g. 2026-11-24T09:00:00+07:00")
	case s.End.IsZero():
		errs = append(errs, "end: missing; want an RFC 3339 time")
	case !s.End.After(s.Start):
		errs = append(errs, "end: must be after start")
	case s.End.Sub(s.Start) > MaxDuration:
		errs = append(errs, fmt.Sprintf("end: the session lasts %v; at most %v", s.End.Sub(s.Start), MaxDuration))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

var bucket = []byte("sessions")

// Store holds the sessions in memory and in bbolt.
type Store struct {
	db *bolt.DB

	mu       sync.RWMutex // guards sessions and zones; not held while bbolt writes
	sessions map[string]*Session
	zones    map[string]*time.Location // site/room -> zone set through the API

	// Writes are committed in groups: a writer queues its change, then
	// whoever holds wmu commits every change queued so far in one
	// transaction. Callers that arrive during a commit share the next one,
	// so many concurrent Puts (the API creating a schedule) cost a few
	// fsyncs instead of one each, and one caller alone still commits at once.
	wmu   sync.Mutex
	qmu   sync.Mutex
	queue []*change

	changed chan struct{} // a value after sessions changed (Changes)
}

// change is one caller's write, done once it is committed or has failed.
type change struct {
	put  map[string]*Session
	del  []string
	err  error
	done bool // guarded by wmu
}

// ErrNotFound is returned for a session id the store does not hold.
var ErrNotFound = errors.New("no such session")

// Open opens (or creates) dir/sessions.db and loads every session.
func Open(dir string) (*Store, error) {
	db, err := boltfile.Open(dir, "sessions.db", "session store", "controller")
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, sessions: map[string]*Session{}, changed: make(chan struct{}, 1)}
	err = boltfile.Load(db, "session store", func(tx *bolt.Tx) error {
		if err := s.loadZones(tx); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var sess Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("session %q: %w", k, err)
			}
			s.sessions[sess.ID] = &sess
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, err // a *boltfile.DamagedError naming the file
	}
	return s, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Put creates or replaces a session (a new one gets an id).
func (s *Store) Put(sess Session) (Session, error) {
	if err := sess.Validate(); err != nil {
		return Session{}, err
	}
	if sess.ID == "" {
		sess.ID = wire.NewID()
	}
	sess.Start, sess.End = sess.Start.UTC(), sess.End.UTC()
	if err := s.write(map[string]*Session{sess.ID: &sess}, nil); err != nil {
		return Session{}, err
	}
	return sess, nil
}

// Delete removes a session.
func (s *Store) Delete(id string) error {
	s.mu.RLock()
	_, ok := s.sessions[id]
	s.mu.RUnlock()
	if !ok {
		return ErrNotFound
	}
	return s.write(nil, []string{id})
}

// ReplaceSource replaces every session that came from one source (an
// iCalendar feed) with a new set, in one transaction.
func (s *Store) ReplaceSource(source string, sessions []Session) error {
	put := map[string]*Session{}
	for i := range sessions {
		sess := sessions[i]
		sess.Source = source
		if err := sess.Validate(); err != nil {
			return fmt.Errorf("session %q: %w", sess.Title, err)
		}
		sess.Start, sess.End = sess.Start.UTC(), sess.End.UTC()
		put[sess.ID] = &sess
	}
	var del []string
	s.mu.RLock()
	for id, old := range s.sessions {
		if old.Source == source && put[id] == nil {
			del = append(del, id)
		}
	}
	s.mu.RUnlock()
	return s.write(put, del)
}

// write stores a change and returns once it is committed, possibly in one
// transaction with other callers' changes.
func (s *Store) write(put map[string]*Session, del []string) error {
	c := &change{put: put, del: del}
	s.qmu.Lock()
	s.queue = append(s.queue, c)
	s.qmu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if !c.done {
		// The commit before this one did not carry c: commit c and
		// whatever queued behind it.
		s.qmu.Lock()
		group := s.queue
		s.queue = nil
		s.qmu.Unlock()
		s.commit(group)
	}
	if c.err != nil {
		return fmt.Errorf("write session store: %w", c.err)
	}
	return nil
}

// commit writes a group of changes in one transaction and then applies them
// in memory in the order they came. If the transaction fails, each change is
// tried in a transaction of its own, so that one bad change fails only its
// caller. Callers hold wmu.
func (s *Store) commit(group []*change) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, c := range group {
			if err := apply(tx, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && len(group) > 1 {
		for _, c := range group {
			c.err = s.db.Update(func(tx *bolt.Tx) error { return apply(tx, c) })
		}
	} else {
		for _, c := range group {
			c.err = err
		}
	}
	s.mu.Lock()
	defer func() {
		select {
		case s.changed <- struct{}{}:
		default:
		}
	}()
	for _, c := range group {
		c.done = true
		if c.err != nil {
			continue
		}
		for id, sess := range c.put {
			s.sessions[id] = sess
		}
		for _, id := range c.del {
			delete(s.sessions, id)
		}
	}
	s.mu.Unlock()
}

// apply writes one change in a transaction.
func apply(tx *bolt.Tx, c *change) error {
	b := tx.Bucket(bucket)
	for id, sess := range c.put {
		v, err := json.Marshal(sess)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(id), v); err != nil {
			return err
		}
	}
	for _, id := range c.del {
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
	}
	return nil
}

// Changes gives a value after sessions changed (a write committed),
// for one reader: several changes may come as one value.
func (s *Store) Changes() <-chan struct{} { return s.changed }

// Get returns one session.
func (s *Store) Get(id string) (Session, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sess, ok := s.sessions[id]
	if !ok {
		return Session{}, false
	}
	return *sess, true
}

// Filter selects sessions; zero fields select everything.
type Filter struct {
	From, To   time.Time // sessions that overlap [From, To)
	Site, Room string
}

func (f Filter) match(sess *Session) bool {
	return (f.Site == "" || sess.Site == f.Site) && (f.Room == "" || sess.Room == f.Room) &&
		(f.From.IsZero() || sess.End.After(f.From)) && (f.To.IsZero() || sess.Start.Before(f.To))
}

// Each calls fn with each session that matches, in no order, without
// copying the store: fn must not keep the pointer nor call the store.
func (s *Store) Each(f Filter, fn func(*Session)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sess := range s.sessions {
		if f.match(sess) {
			fn(sess)
		}
	}
}

// List returns the sessions that match, by start time.
func (s *Store) List(f Filter) []Session {
	s.mu.RLock()
	out := make([]Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		if f.match(sess) {
			out = append(out, *sess)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Session) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Site, b.Site), cmp.Compare(a.Room, b.Room), cmp.Compare(a.ID, b.ID))
	})
	return out
}
