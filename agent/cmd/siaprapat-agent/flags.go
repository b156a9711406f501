package main

// docs/flags.md shows commandFlags: regenerate it with go generate ./...
//go:generate go test -run ^TestFlagsDoc_IsCurrent$ -update .

import (
	"io"

	"github.com/siaprapat/siaprapat/internal/config"
)

// commandFlags declares every command's flags, built but not parsed, with the
// environment variables and the file that may set them: what the commands
// resolve, and the source of docs/flags.md. (service's flags are Windows
// only: see 'siaprapat-agent service -h' there.)
func commandFlags() []config.Command {
	return []config.Command{
		newRunFlags(io.Discard).command(),
		newCheckFlags(io.Discard).command(),
		newEnrollFlags(io.Discard).command(),
		{Flags: newSimulateFlags(io.Discard).fs, Options: config.Options{Command: "siaprapat-agent simulate"}},
	}
}
