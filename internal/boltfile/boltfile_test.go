package boltfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// filled makes dir/name with a bucket of n values.
func filled(t *testing.T, dir, name string, n int) string {
	t.Helper()
	db, err := Open(dir, name, "test store", "test")
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put([]byte(strings.Repeat("k", 10)+string(rune(i))), make([]byte, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	return filepath.Join(dir, name)
}

func TestOpen_AnEmptyFileIsRefusedNotTakenForANewOne(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spool.db")
	os.WriteFile(path, nil, 0o600)
	_, err := Open(dir, "spool.db", "spool", "agent")
	var de *DamagedError
	if !errors.As(err, &de) || de.Path != path || !strings.Contains(err.Error(), "it is empty (0 bytes)") || !strings.Contains(err.Error(), "--repair") {
		t.Fatalf("err = %v", err)
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Error("the empty file was written to")
	}
	if db, err := Open(t.TempDir(), "new.db", "spool", "agent"); err != nil {
		t.Errorf("a new file: %v", err)
	} else {
		db.Close()
	}
}

// TestLoad_AFileCutShortIsAnErrorNotAFault: pages past the file's end
// would fault in the memory map (SIGBUS), killing the process.
func TestLoad_AFileCutShortIsAnErrorNotAFault(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.db")
	filled(t, dir, "history.db", 2000)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, data[:3*4096], 0o600)
	db, err := Open(dir, "history.db", "report history", "controller")
	if err == nil {
		err = Load(db, "report history", func(*bolt.Tx) error { return nil })
		db.Close()
	}
	var de *DamagedError
	if !errors.As(err, &de) || de.Path != path {
		t.Fatalf("err = %v, want a *DamagedError naming %s", err, path)
	}
	t.Log(err)
}

func TestMoveAside_KeepsTheFileUnderANewName(t *testing.T) {
	dir := t.TempDir()
	path := filled(t, dir, "fleet.db", 10)
	moved, err := MoveAside(path, time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC))
	if err != nil || moved != path+".damaged-20261204T170000Z" {
		t.Fatalf("moved to %q, %v", moved, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("the file is still there")
	}
}
