package camera

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/wire"
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

// Windows' DirectShow driver says only that a camera delivered no frame;
// when the platform's record names a program using a camera, that is in use.
func TestCamera_FailureWhileAProgramHoldsACameraIsInUse(t *testing.T) {
	cam := newFakeCamera(`@device:pnp:\\?\usb#vid_046d&pid_082d`)
	cam.frames, cam.streamErr = 1, errors.New("read frame: the camera delivered none for 5 s")
	src := &fakeSource{cams: []*fakeCamera{cam}}
	holder := func(context.Context) (bool, string) { return true, "Zoom.exe" }
	res := runJudged(t, context.Background(), newFakeCheck(t, src, Config{InUse: holder}), defaultStandard(t))
	if len(res) != 1 || res[0].Verdict != wire.Skipped || res[0].Code != wire.CodeInUse || res[0].Reason != "in use by Zoom.exe" {
		t.Errorf("got %+v, want skipped \"in use by Zoom.exe\"", res)
	}
	// Nobody holds it: the failure is the camera's.
	res = runJudged(t, context.Background(), newFakeCheck(t, src, Config{}), defaultStandard(t))
	if len(res) != 1 || res[0].Verdict != wire.Error || !strings.Contains(res[0].Reason, "delivered none") {
		t.Errorf("got %+v, want an error", res)
	}
}

// On Windows --camera-device names a camera; a path selects by node only.
func TestSelected_WindowsCamerasByName(t *testing.T) {
	devs := []Device{
		{ID: `@device:pnp:\\?\usb#vid_046d&pid_082d`, Name: "HD Pro Webcam C920 (usb#vid_046d&pid_082d)"},
		{ID: `@device:pnp:\\?\usb#vid_0c45&pid_6366`, Name: "USB Live camera (usb#vid_0c45&pid_6366)"},
	}
	c := &Check{devices: []string{"c920", "Logitech BRIO"}}
	keep, missing := c.selected(devs)
	if len(keep) != 1 || keep[0].ID != devs[0].ID || len(missing) != 1 || missing[0] != "Logitech BRIO" {
		t.Errorf("kept %+v, missing %v", keep, missing)
	}
	if matchesName(Device{Name: "camera (/dev/video0)"}, "/dev/video0") {
		t.Error("a path matched by name")
	}
}
