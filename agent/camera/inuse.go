package camera

import (
	"context"
	"slices"
	"strings"
)

// InUseFunc says whether another program holds a camera, and which, without
// opening any camera (DefaultInUse is the platform's).
type InUseFunc func(ctx context.Context) (inUse bool, by string)

// ConsentEntry is one application's record in Windows' capability access
// store for the webcam (CapabilityAccessManager\ConsentStore\webcam): when it
// last started and stopped using a camera, as FILETIMEs. An application
// that started and has not stopped is using a camera now.
type ConsentEntry struct {
	// App is the key's name: a packaged app's family name
	// ("Microsoft.WindowsCamera_8wekyb3d8bbwe"), or, under NonPackaged, the
	// program's path with '#' for '\' ("C:#Program Files#Zoom#bin#Zoom.exe").
	App         string
	NonPackaged bool
	Start, Stop uint64
}

// InUseApps names the applications whose entries say they use a camera now
// (started, never stopped), each once, in order: "Zoom.exe".
func InUseApps(entries []ConsentEntry) []string {
	var out []string
	for _, e := range entries {
		if e.Start == 0 || e.Stop != 0 {
			continue
		}
		name := e.App
		if e.NonPackaged {
			name = name[strings.LastIndexByte(name, '#')+1:]
		} else if i := strings.LastIndexByte(name, '_'); i > 0 {
			name = name[:i] // the publisher id
		}
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// VideoHolders names the processes holding a video device open, from what
// each process's open files point to (Linux: /proc/PID/fd): pids maps a
// process id to its name and the targets of its open files. self is left out.
func VideoHolders(files map[int]ProcessFiles, self int) []string {
	pids := make([]int, 0, len(files))
	for pid := range files {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	var out []string
	for _, pid := range pids {
		if pid == self {
			continue
		}
		p := files[pid]
		for _, target := range p.Targets {
			if strings.HasPrefix(target, "/dev/video") {
				name := p.Name
				if name == "" {
					name = "a program"
				}
				if !slices.Contains(out, name) {
					out = append(out, name)
				}
				break
			}
		}
	}
	return out
}

// ProcessFiles is one process's name and what its open files point to.
type ProcessFiles struct {
	Name    string
	Targets []string
}
