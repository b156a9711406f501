// Package cli holds what both siaprapat programs' command lines share:
// strict log-level parsing and the version line.
package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/prometheus/common/version"
)

// Logger returns a text logger at the named level (debug, info, warn,
// error); any other name is an error, never a silent default.
func Logger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// Version is the version injected at build time (-ldflags), "dev" otherwise.
func Version() string {
	if version.Version == "" {
		return "dev"
	}
	return version.Version
}

// PrintVersion writes the program's version line.
func PrintVersion(w io.Writer, program string) {
	fmt.Fprintln(w, version.Print(program))
}

// List is a repeatable string flag.
type List []string

func (l *List) String() string     { return strings.Join(*l, ",") }
func (l *List) Set(v string) error { *l = append(*l, v); return nil }
