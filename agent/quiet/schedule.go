package quiet

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/siaprapat/siaprapat/internal/atomicfile"
	"github.com/siaprapat/siaprapat/wire"
)

// ScheduleFile is the file in the agent's data directory that keeps the
// room's last schedule, for when the broker is away at start.
const ScheduleFile = "schedule.json"

// Schedule is the room's last schedule from the controller, kept in memory
// and, with a data directory, in ScheduleFile.
type Schedule struct {
	site, room string
	path       string // "" keeps it in memory only
	log        *slog.Logger

	mu      sync.Mutex
	current *wire.Schedule
	raw     []byte
}

// OpenSchedule returns the room's schedule, loaded from dir's ScheduleFile
// when there is one (dir "" keeps it in memory only). A file that cannot be
// read, or is for another room, is logged and left to be replaced by the
// next message: the controller publishes the schedule again at every
// connection.
func OpenSchedule(dir, site, room string, log *slog.Logger) (*Schedule, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Schedule{site: site, room: room, log: log}
	if dir == "" {
		return s, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("schedule: %w", err)
	}
	s.path = filepath.Join(dir, ScheduleFile)
	data, err := os.ReadFile(s.path)
	switch {
	case os.IsNotExist(err):
		return s, nil
	case err != nil:
		log.Warn("could not read the stored schedule; waiting for the controller's", "file", s.path, "err", err)
		return s, nil
	}
	sched, err := s.check(data)
	if err != nil {
		log.Warn("ignored the stored schedule; waiting for the controller's", "file", s.path, "err", err)
		return s, nil
	}
	s.current, s.raw = sched, data
	log.Info("room schedule loaded", "file", s.path, "sessions", len(sched.Sessions), "generated_at", sched.GeneratedAt)
	return s, nil
}

func (s *Schedule) check(data []byte) (*wire.Schedule, error) {
	sched, err := wire.DecodeSchedule(data)
	if err != nil {
		return nil, err
	}
	if sched.Site != s.site || sched.Room != s.room {
		return nil, fmt.Errorf("the schedule is for %s/%s, this agent is %s/%s", sched.Site, sched.Room, s.site, s.room)
	}
	return sched, nil
}

// Update takes a schedule message from the controller: a valid one for this
// room, no older than the one held, replaces it and is written to the file
// (before it is used, so that a restart finds it). An empty payload (a
// cleared retained message) changes nothing.
func (s *Schedule) Update(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	sched, err := s.check(data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil && sched.GeneratedAt.Before(s.current.GeneratedAt) {
		s.log.Debug("ignored an older schedule", "generated_at", sched.GeneratedAt, "held", s.current.GeneratedAt)
		return nil
	}
	if bytes.Equal(data, s.raw) {
		return nil // the retained message again, at a reconnection
	}
	if s.path != "" {
		if err := atomicfile.Write(s.path, data); err != nil {
			return fmt.Errorf("store the schedule: %w", err)
		}
	}
	s.current, s.raw = sched, bytes.Clone(data)
	s.log.Info("room schedule updated", "sessions", len(sched.Sessions), "generated_at", sched.GeneratedAt)
	return nil
}

// Sessions returns the room's known sessions.
func (s *Schedule) Sessions() []wire.ScheduledSession {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	return s.current.Sessions
}
