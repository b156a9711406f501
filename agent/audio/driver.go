package audio

import (
	"context"
	"time"
)

// Device is a microphone or a speaker as the sound system names it.
type Device struct {
	Name    string // the sound system's description, e.g. "Monitor of Null Output"
	ID      string // the backend's identifier (PulseAudio: the source or sink name)
	Default bool   // the system's default device of its kind
	// Monitor marks a capture device that records an output (a PulseAudio
	// monitor source) rather than a room.
	Monitor bool
}

// Driver opens the sound system. The check opens it once per run and closes
// the session when the run ends. Miniaudio is the real driver.
type Driver interface {
	Open(ctx context.Context) (Session, error)
}

// Session is an open sound system.
type Session interface {
	// Devices lists the microphones (capture devices) and speakers
	// (playback devices).
	Devices(ctx context.Context) (microphones, speakers []Device, err error)
	// Record records a microphone for a window, in its native format.
	Record(ctx context.Context, microphone Device, window time.Duration) (PCM, error)
	// PlayRecord records the microphone while it plays a signal on the
	// speaker: Lead of recording, then the signal, then Tail after it.
	PlayRecord(ctx context.Context, loop Loop) (LoopCapture, error)
	// Backend names the sound system in use (for reasons), e.g. "ALSA
	// (PulseAudio: Failed to connect PulseAudio context)".
	Backend() string
	// Close releases the sound system.
	Close() error
}

// Loop asks for a loopback recording.
type Loop struct {
	Speaker, Microphone Device
	Signal              PCM           // played on the speaker
	Lead                time.Duration // recorded before the signal is played
	Tail                time.Duration // recorded after the signal's length, for the delay
}

// LoopCapture is what the microphone recorded during a loopback.
type LoopCapture struct {
	PCM PCM
	// PlayedAt is the frame of PCM at which the sound system took the first
	// frame of the signal for the speaker.
	PlayedAt int
}
