package camera

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultInUse looks for another process holding a camera's V4L2 capture
// node open (/dev/videoN among its open files in /proc, a camera's by
// sysfs), without opening a camera.
// An agent running as its own user sees only its user's processes (and
// root's, never); the camera check's own open still tells a busy camera
// (EBUSY) from a free one.
func DefaultInUse(log *slog.Logger) InUseFunc {
	return func(ctx context.Context) (bool, string) {
		files, err := procFiles("/proc", ctx)
		if err != nil {
			log.Debug("cannot tell whether a program holds a camera", "err", err)
			return false, ""
		}
		by := VideoHolders(cameraTargets(files, DefaultSysfs), os.Getpid())
		if len(by) == 0 {
			return false, ""
		}
		return true, strings.Join(by, ", ")
	}
}

// cameraTargets keeps, of each process's open files, those that are not a
// video node or are a camera's capture node: a program holding a UVC
// metadata node or a USB gadget's node (feeding another host) is not using
// a camera of this PC.
func cameraTargets(files map[int]ProcessFiles, sysfs string) map[int]ProcessFiles {
	out := make(map[int]ProcessFiles, len(files))
	for pid, p := range files {
		var keep []string
		for _, t := range p.Targets {
			if node, ok := strings.CutPrefix(t, "/dev/"); ok && strings.HasPrefix(node, "video") && !cameraNode(sysfs, node) {
				continue
			}
			keep = append(keep, t)
		}
		out[pid] = ProcessFiles{Name: p.Name, Targets: keep}
	}
	return out
}

// procFiles reads, for each process of a procfs root, its name and the
// targets of its open files; processes it may not read are left out.
func procFiles(root string, ctx context.Context) (map[int]ProcessFiles, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	out := map[int]ProcessFiles{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ctx.Err() != nil {
			continue
		}
		dir := filepath.Join(root, e.Name())
		fds, err := os.ReadDir(filepath.Join(dir, "fd"))
		if err != nil {
			continue // gone, or another user's
		}
		var p ProcessFiles
		for _, fd := range fds {
			if t, err := os.Readlink(filepath.Join(dir, "fd", fd.Name())); err == nil && strings.HasPrefix(t, "/dev/") {
				p.Targets = append(p.Targets, t)
			}
		}
		if len(p.Targets) == 0 {
			continue
		}
		if comm, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
			p.Name = strings.TrimSpace(string(comm))
		}
		out[pid] = p
	}
	return out, nil
}
