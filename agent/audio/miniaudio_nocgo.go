//go:build !cgo

package audio

import (
	"context"
	"errors"
	"log/slog"
)

// Miniaudio is the real sound system, which needs cgo: this build has none.
type Miniaudio struct {
	Log *slog.Logger
}

// Open fails: miniaudio is C, and this agent was built with CGO_ENABLED=0.
func (m *Miniaudio) Open(context.Context) (Session, error) {
	return nil, errors.New("this agent was built without cgo, which the sound system (miniaudio) needs")
}
