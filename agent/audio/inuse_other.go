//go:build !linux && !windows

package audio

import (
	"context"
	"log/slog"
)

// DefaultInUse detects nothing on this platform: miniaudio cannot tell
// whether another application holds a device.
func DefaultInUse(*slog.Logger) InUseFunc {
	return func(context.Context) (bool, string) { return false, "" }
}
