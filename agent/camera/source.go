package camera

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Source is where the check finds cameras: the room PC's live cameras
// (through pion/mediadevices) or a recorded clip. Both are replayed through
// the same analysis.
type Source interface {
	// Cameras lists the cameras that can be opened now. None is not an error.
	Cameras(ctx context.Context) ([]Device, error)
	// Open starts a camera, asking for the wanted mode; the camera may
	// deliver another. An error wrapping ErrInUse (or syscall.EBUSY) means
	// another program holds the camera.
	Open(ctx context.Context, dev Device, want Mode) (Stream, error)
}

// Stream delivers a camera's frames, one at a time.
type Stream interface {
	// Next blocks until the next frame. The frame's luma is valid until
	// the following call to Next or Close. A recorded clip's end is io.EOF.
	Next(ctx context.Context) (Frame, error)
	// Close stops the capture and releases the device.
	Close() error
}

// Device is one camera a Source can open.
type Device struct {
	ID    string // unique per source: the device path (/dev/video0), the DirectShow device name, or the clip's path
	Name  string // for people and for the result's target: "HD Pro Webcam C920 (/dev/video0)"
	USBID string // vendor:product of a USB camera ("046d:082d"); empty otherwise
}

// Mode is what the check asks a camera for.
type Mode struct {
	Width, Height int
	FPS           float64
}

func (m Mode) String() string {
	return fmt.Sprintf("%dx%d at %s fps", m.Width, m.Height, trimFloat(m.FPS))
}

// Frame is one delivered picture, reduced to what the analysis needs.
type Frame struct {
	// Y is the luma, 0..255, Stride bytes per row; nil for a frame that
	// counts for the rate but was not decoded (a compressed stream decodes
	// a sample: DecodeEvery).
	Y             []byte
	Stride        int
	Width, Height int
	// Time is when the frame arrived, counted from the call to Open: real
	// time for a live camera, the clip's own timeline for a recording.
	Time time.Duration
}

// ErrInUse is wrapped by Open's error when another program (a meeting app)
// holds the camera.
var ErrInUse = errors.New("camera in use by another program")

// inUse reports whether err says the camera is held by someone else.
func inUse(err error) bool {
	return errors.Is(err, ErrInUse) || errors.Is(err, syscall.EBUSY)
}

// source schemes accepted in Config.Source.
const fileScheme = "file:"

// sourceSpec is a parsed Config.Source.
type sourceSpec struct {
	live bool
	clip string // path of the recorded clip when !live
}

// parseSource reads a --camera-source value: "" for the live cameras,
// "file:PATH.y4m" for a recorded clip.
func parseSource(s string) (sourceSpec, error) {
	if s == "" {
		return sourceSpec{live: true}, nil
	}
	want := `want "" (the live cameras) or file:PATH.y4m (a recorded clip)`
	if path, ok := strings.CutPrefix(s, fileScheme); ok {
		if path == "" {
			return sourceSpec{}, fmt.Errorf("camera source %q: no path after file:; %s", s, want)
		}
		if !strings.EqualFold(filepath.Ext(path), ".y4m") {
			return sourceSpec{}, fmt.Errorf("camera source %q: %s is not a .y4m (YUV4MPEG2) clip; %s", s, path, want)
		}
		return sourceSpec{clip: path}, nil
	}
	if scheme, _, ok := strings.Cut(s, ":"); ok && !strings.ContainsAny(scheme, `/\`) && len(scheme) > 1 {
		return sourceSpec{}, fmt.Errorf("camera source %q: unknown scheme %q; %s", s, scheme, want)
	}
	return sourceSpec{}, fmt.Errorf("camera source %q: no scheme; %s (did you mean file:%s?)", s, want, s)
}

func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
