package camera

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestProcFiles_ReadsAProcTree(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc here")
	}
	root := t.TempDir()
	for pid, p := range map[string]ProcessFiles{"123": {Name: "teams", Targets: []string{"/dev/video0", "/dev/null"}}, "456": {Name: "bash", Targets: []string{"/dev/pts/0"}}} {
		os.MkdirAll(filepath.Join(root, pid, "fd"), 0o755)
		os.WriteFile(filepath.Join(root, pid, "comm"), []byte(p.Name+"\n"), 0o644)
		for i, target := range p.Targets {
			os.Symlink(target, filepath.Join(root, pid, "fd", string(rune('0'+i))))
		}
	}
	os.MkdirAll(filepath.Join(root, "self"), 0o755) // not a pid
	files, err := procFiles(root, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := VideoHolders(files, 1); !slices.Equal(got, []string{"teams"}) {
		t.Errorf("holders %q from %+v", got, files)
	}
}
