//go:build !linux

package audio

import (
	"context"
	"log/slog"
)

// DefaultInUse detects nothing on this platform: miniaudio cannot tell
// whether another application holds a device. (On Windows, WASAPI's
// IAudioSessionManager2 could list the active sessions.)
func DefaultInUse(*slog.Logger) InUseFunc {
	return func(context.Context) (bool, string) { return false, "" }
}
