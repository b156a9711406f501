package camera

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/agent/report"
)

func TestInUseApps_StartedAndNotStoppedIsInUse(t *testing.T) {
	entries := []ConsentEntry{
		{App: "Microsoft.WindowsCamera_8wekyb3d8bbwe", Start: 133500000000000000, Stop: 133500000100000000},   // used, stopped
		{App: `C:#Program Files#Zoom#bin#Zoom.exe`, NonPackaged: true, Start: 133500000200000000},             // using now
		{App: "MSTeams_8wekyb3d8bbwe", Start: 133500000300000000},                                             // using now
		{App: `C:#Users#rapat#AppData#Local#Zoom#bin#Zoom.exe`, NonPackaged: true, Start: 133500000400000000}, // the same program twice
		{App: `C:#Tools#never.exe`, NonPackaged: true},                                                        // never used
	}
	if got := InUseApps(entries); !slices.Equal(got, []string{"Zoom.exe", "MSTeams"}) {
		t.Errorf("in use: %q, want Zoom.exe and MSTeams", got)
	}
	if got := InUseApps(entries[:1]); len(got) != 0 {
		t.Errorf("a stopped app counted: %q", got)
	}
}

func TestVideoHolders_NamesOtherProcessesWithAVideoDeviceOpen(t *testing.T) {
	files := map[int]ProcessFiles{
		10:  {Name: "zoom", Targets: []string{"/dev/null", "/dev/video0"}},
		20:  {Name: "pulseaudio", Targets: []string{"/dev/snd/pcmC0D0c"}},
		30:  {Name: "siaprapat-agent", Targets: []string{"/dev/video0"}}, // itself
		40:  {Targets: []string{"/dev/video2"}},
		400: {Name: "zoom", Targets: []string{"/dev/video2"}},
	}
	if got := VideoHolders(files, 30); !slices.Equal(got, []string{"zoom", "a program"}) {
		t.Errorf("holders %q", got)
	}
}

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

// Windows' DirectShow driver says only that a camera delivered no frame;
// when the platform's record names a program using a camera, that is in use.
func TestCamera_FailureWhileAProgramHoldsACameraIsInUse(t *testing.T) {
	cam := newFakeCamera(`@device:pnp:\\?\usb#vid_046d&pid_082d`)
	cam.frames, cam.streamErr = 1, errors.New("read frame: the camera delivered none for 5 s")
	src := &fakeSource{cams: []*fakeCamera{cam}}
	holder := func(context.Context) (bool, string) { return true, "Zoom.exe" }
	res := runJudged(t, context.Background(), newFakeCheck(t, src, Config{InUse: holder}), defaultStandard(t))
	if len(res) != 1 || res[0].Verdict != report.Skipped || res[0].Code != report.CodeInUse || res[0].Reason != "in use by Zoom.exe" {
		t.Errorf("got %+v, want skipped \"in use by Zoom.exe\"", res)
	}
	// Nobody holds it: the failure is the camera's.
	res = runJudged(t, context.Background(), newFakeCheck(t, src, Config{}), defaultStandard(t))
	if len(res) != 1 || res[0].Verdict != report.Error || !strings.Contains(res[0].Reason, "delivered none") {
		t.Errorf("got %+v, want an error", res)
	}
}
