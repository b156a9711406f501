package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWrite_ReplacesTheFileWholeAndLeavesNoTemporary: the new contents
// replace the old, mode 0600, and no temporary file is left beside it.
func TestWrite_ReplacesTheFileWholeAndLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "schedule.json")
	for _, data := range []string{"first", "second, longer"} {
		if err := Write(path, []byte(data)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != data {
			t.Fatalf("read %q, %v; want %q", got, err, data)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the one written", len(entries))
	}
	if err := Write(filepath.Join(dir, "no-such-dir", "x"), nil); err == nil {
		t.Error("a write into a missing directory did not fail")
	}
}
