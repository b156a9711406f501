package audio_test

import (
	"slices"
	"testing"

	"github.com/siaprapat/siaprapat/agent/audio"
)

func TestActiveSessions_AnotherProcessStreamingIsInUse(t *testing.T) {
	const self = 100
	ss := []audio.AudioSession{
		{Device: "Speakers (Realtek)", PID: 0, Active: true, System: true},                                                // the system sounds
		{Device: "Speakers (Realtek)", PID: 200, Process: "Teams.exe", Active: false},                                     // open, silent
		{Device: "Microphone (USB Speakerphone)", Capture: true, PID: 300, Process: "Zoom.exe", Active: true},             // the meeting
		{Device: "Speakers (USB Speakerphone)", PID: 300, Process: "Zoom.exe", Active: true},                              // the meeting
		{Device: "Microphone (USB Speakerphone)", Capture: true, PID: self, Process: "siaprapat-agent.exe", Active: true}, // the agent itself
		{Device: "Speakers (USB Speakerphone)", PID: 400, Active: true},                                                   // a name it could not read
		{Device: "Speakers (USB Speakerphone)", PID: 500, Process: "chime.exe", Active: true, System: true},               // system sounds of a process
	}
	want := []string{"Zoom.exe (recording on Microphone (USB Speakerphone))", "Zoom.exe (playing on Speakers (USB Speakerphone))", "process 400 (playing on Speakers (USB Speakerphone))"}
	if got := audio.ActiveSessions(ss, self); !slices.Equal(got, want) {
		t.Errorf("in use:\n got %q\nwant %q", got, want)
	}
	if got := audio.ActiveSessions(ss[:2], self); len(got) != 0 {
		t.Errorf("silent sessions in use: %q", got)
	}
}
