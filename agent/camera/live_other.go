//go:build !(linux || windows) || !cgo

package camera

import (
	"context"
	"errors"
	"log/slog"
)

// errNoLiveCameras explains why this build cannot reach live cameras.
var errNoLiveCameras = errors.New("live cameras are read through V4L2 on Linux and DirectShow on Windows, and need a build with cgo (CGO_ENABLED=1); use --camera-source file:PATH.y4m for a recorded clip")

// liveSource stands in for the live cameras where this build has no driver
// for them: every listing is an error saying so, never "no camera found".
type liveSource struct{}

func newLiveSource(string, *slog.Logger) Source { return liveSource{} }

func (liveSource) Cameras(context.Context) ([]Device, error) { return nil, errNoLiveCameras }

func (liveSource) Open(context.Context, Device, Mode) (Stream, error) { return nil, errNoLiveCameras }
