package audio

import (
	"fmt"
	"slices"
)

// AudioSession is one audio session on one of the sound system's endpoints
// (Windows: WASAPI's IAudioSessionControl2 of an IAudioSessionManager2).
type AudioSession struct {
	Device  string // the endpoint's name ("Microphone (USB Conference Speakerphone)")
	Capture bool   // a capture endpoint (a microphone), not a render one
	PID     int
	Process string // the program's file name ("Zoom.exe"); "" when it cannot be read
	Active  bool   // the session is streaming now (AudioSessionStateActive)
	System  bool   // the system sounds session
}

// ActiveSessions names the sessions that mean a meeting app holds the
// devices: active, of another process than self, not the system sounds:
// "Zoom.exe (recording on Microphone (USB))", each once, in order.
func ActiveSessions(ss []AudioSession, self int) []string {
	var out []string
	for _, s := range ss {
		if !s.Active || s.System || s.PID == self || s.PID == 0 {
			continue
		}
		app := s.Process
		if app == "" {
			app = fmt.Sprintf("process %d", s.PID)
		}
		what := "playing"
		if s.Capture {
			what = "recording"
		}
		if s.Device != "" {
			what += " on " + s.Device
		}
		if d := fmt.Sprintf("%s (%s)", app, what); !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
