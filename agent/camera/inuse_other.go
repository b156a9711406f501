//go:build !linux && !windows

package camera

import (
	"context"
	"log/slog"
)

// DefaultInUse detects nothing on this platform.
func DefaultInUse(*slog.Logger) InUseFunc {
	return func(context.Context) (bool, string) { return false, "" }
}
