// Package atomicfile replaces a small file whole: a crash or a full disk
// leaves the old file or the new one, never half of one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data (mode 0600): written and synced under a
// temporary name in the same directory, then renamed over path.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
