// Package boltfile opens siaprapat's bbolt files (the controller's stores,
// the agent's spool) the same way: in a data directory it creates, with a
// lock timeout and a message that says who holds the lock, telling a new
// file from one that is empty, cut short or not a database, and never
// letting bbolt's panic over a damaged page take the program down.
package boltfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// LockTimeout is how long Open waits for another process's lock.
const LockTimeout = 2 * time.Second

// DamagedError says a file where a database should be is not a usable one.
// Nothing was changed: the program refuses to start, and MoveAside (the
// programs' --repair) moves the file aside so that the next start begins
// with an empty one.
type DamagedError struct {
	Path   string // the file
	What   string // what it holds, for people: "report history"
	Reason string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%s %s is damaged: %s. Nothing was changed: restore it from a backup, or start with --repair to move it aside (it is kept as %s.damaged-TIME) and begin with an empty one",
		e.What, e.Path, e.Reason, filepath.Base(e.Path))
}

// Open opens (or creates) dir/name. what names the file in messages ("fleet
// store"), program the kind of process that could be holding it
// ("controller"). A file that exists but is empty, or that bbolt cannot
// open, is a *DamagedError: an empty file is not taken for a new database,
// whose contents would then be gone without a word.
func Open(dir, name, what, program string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, name)
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		return nil, &DamagedError{Path: path, What: what, Reason: "it is not a regular file"}
	case err == nil && fi.Size() == 0:
		return nil, &DamagedError{Path: path, What: what, Reason: "it is empty (0 bytes) where a database should be (a full disk, or a crash as it was made?)"}
	}
	db, err := open(path)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s %s: it is locked by another process (is another %s using this --data directory?)", what, path, program)
	}
	if err != nil {
		return nil, &DamagedError{Path: path, What: what, Reason: err.Error()}
	}
	return db, nil
}

// open is bolt.Open, with a panic over a damaged file turned into an error.
// A damaged file can point bbolt past its end, a fault in the memory map
// (SIGBUS) that would kill the process: it is turned into a panic here.
func open(path string) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("bbolt failed reading it: %v", r)
		}
	}()
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: LockTimeout})
}

// Load runs fn in a read-write transaction, as a store loads itself at
// open: a panic of bbolt's over a damaged page (or a fault reading past the
// file's end) becomes a *DamagedError naming the file, and fn's own error
// (a record that does not decode) one too.
func Load(db *bolt.DB, what string, fn func(tx *bolt.Tx) error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &DamagedError{Path: db.Path(), What: what, Reason: fmt.Sprintf("bbolt failed reading it: %v", r)}
		}
	}()
	err = db.Update(func(tx *bolt.Tx) error {
		if fi, err := os.Stat(db.Path()); err == nil && fi.Size() < tx.Size() {
			return fmt.Errorf("it is cut short: %d bytes, where its pages need %d", fi.Size(), tx.Size())
		}
		if err := fn(tx); err != nil {
			return err
		}
		return walk(tx)
	})
	if err != nil {
		return &DamagedError{Path: db.Path(), What: what, Reason: err.Error()}
	}
	return nil
}

// walk reads every key of every bucket, so that a damaged page a store does
// not load at open (an outbox, an index) is found now, not later by a
// background writer.
func walk(tx *bolt.Tx) error {
	return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return walkBucket(b) })
}

func walkBucket(b *bolt.Bucket) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walkBucket(nested)
			}
		}
		return nil
	})
}

// Guard runs fn, turning a panic of bbolt's over a damaged page (met after
// the file was opened, in a read) into an error naming the file.
func Guard(db *bolt.DB, what string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &DamagedError{Path: db.Path(), What: what, Reason: fmt.Sprintf("bbolt failed reading it: %v", r)}
		}
	}()
	return fn()
}

// MoveAside renames a damaged file to PATH.damaged-TIME (UTC, to the
// second) and returns the new name; the next Open starts an empty file.
func MoveAside(path string, now time.Time) (string, error) {
	to := path + ".damaged-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, to); err != nil {
		return "", fmt.Errorf("move %s aside: %w", path, err)
	}
	return to, nil
}
