// Package boltfile opens siaprapat's bbolt files (the controller's fleet
// store, the agent's spool) the same way: in a data directory it creates,
// with a lock timeout and a message that says who holds the lock.
package boltfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LockTimeout is how long Open waits for another process's lock.
const LockTimeout = 2 * time.Second

// Open opens (or creates) dir/name. what names the file in messages ("fleet
// store"), program the kind of process that could be holding it ("controller").
func Open(dir, name, what, program string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: LockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open %s %s: it is locked by another process (is another %s using this --data directory?)", what, path, program)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, path, err)
	}
	return db, nil
}
