package audio

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// PCM is audio in memory: interleaved samples scaled so that full scale is
// ±1, with the format they came in.
type PCM struct {
	Rate     int  // frames per second
	Channels int  // samples per frame
	Bits     int  // bits per sample at the source (8, 16, 24, 32, 64)
	Float    bool // the source's samples were floating point
	// Samples holds Channels samples per frame, frame after frame.
	Samples []float32
}

// Frames is the number of frames (samples per channel).
func (p PCM) Frames() int {
	if p.Channels <= 0 {
		return 0
	}
	return len(p.Samples) / p.Channels
}

// Duration is the length of the audio.
func (p PCM) Duration() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(p.Frames()) / float64(p.Rate) * float64(time.Second))
}

// Slice returns frames [from, to) of the audio (sharing its samples).
func (p PCM) Slice(from, to int) PCM {
	from = min(max(from, 0), p.Frames())
	to = min(max(to, from), p.Frames())
	out := p
	out.Samples = p.Samples[from*p.Channels : to*p.Channels]
	return out
}

// framesIn is the number of frames a duration holds at a rate.
func framesIn(d time.Duration, rate int) int {
	return int(d.Seconds()*float64(rate) + 0.5)
}

// Source gives the microphone's audio for a window: a live microphone or a
// recording.
type Source interface {
	Record(ctx context.Context, window time.Duration) (PCM, error)
}

// Recording replays a recording in virtual time: Record returns the first
// window of it at once, without waiting for the window to pass.
type Recording struct {
	Name string // for results and errors, e.g. "file:speech.wav"
	PCM  PCM
}

// Record returns the first window of the recording, or all of it when it is
// shorter.
func (r *Recording) Record(ctx context.Context, window time.Duration) (PCM, error) {
	if err := ctx.Err(); err != nil {
		return PCM{}, err
	}
	return r.PCM.Slice(0, framesIn(window, r.PCM.Rate)), nil
}

// liveMicrophone records a microphone of an open sound system.
type liveMicrophone struct {
	session Session
	device  Device
}

func (m liveMicrophone) Record(ctx context.Context, window time.Duration) (PCM, error) {
	return m.session.Record(ctx, m.device, window)
}

// FilePrefix marks a recorded source in Config.Source: "file:PATH.wav".
const FilePrefix = "file:"

// OpenSource reads the source named by a Config.Source string: "" is the
// live microphone (nil is returned: the check opens it when it runs), and
// "file:PATH.wav" a WAV recording, read now.
func OpenSource(s string) (*Recording, error) {
	if s == "" {
		return nil, nil
	}
	path, ok := strings.CutPrefix(s, FilePrefix)
	if !ok {
		return nil, fmt.Errorf("microphone source %q: want \"\" (the live microphone) or file:PATH.wav", s)
	}
	if path == "" {
		return nil, fmt.Errorf("microphone source %q: no file named after the file: prefix", s)
	}
	pcm, err := ReadWAV(path)
	if err != nil {
		return nil, fmt.Errorf("microphone source: %w", err)
	}
	if pcm.Frames() == 0 {
		return nil, fmt.Errorf("microphone source: %s: no audio in the data chunk", path)
	}
	return &Recording{Name: FilePrefix + filepath.Base(path), PCM: pcm}, nil
}
