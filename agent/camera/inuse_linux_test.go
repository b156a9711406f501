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

func TestCameraTargets_OnlyCamerasCaptureNodesCount(t *testing.T) {
	sysfs := fakeSysfs(t) // video0 a UVC capture node, video1 its metadata, video2 vivid, video3 a USB gadget's
	files := map[int]ProcessFiles{
		10: {Name: "uvc-gadget", Targets: []string{"/dev/video3"}},
		20: {Name: "zoom", Targets: []string{"/dev/null", "/dev/video0"}},
		30: {Name: "metadata-reader", Targets: []string{"/dev/video1"}},
		40: {Name: "obs", Targets: []string{"/dev/video2"}},
	}
	if got := VideoHolders(cameraTargets(files, sysfs), 1); !slices.Equal(got, []string{"zoom", "obs"}) {
		t.Errorf("holders %q", got)
	}
}
