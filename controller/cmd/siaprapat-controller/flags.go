package main

import (
	"io"

	"github.com/siaprapat/siaprapat/internal/config"
)

// Environment variables that more than one command reads.
var (
	envPassword = []string{"SIAPRAPAT_MQTT_PASSWORD"}
	envAPIToken = []string{"SIAPRAPAT_API_TOKEN"}
)

// commandFlags declares every command's flags, built but not parsed, with the
// environment variables and the file that may set them: what the commands
// resolve, and the source of docs/flags.md.
func commandFlags() []config.Command {
	return []config.Command{
		newServeFlags(io.Discard).command(),
		newCheckFlags(io.Discard).command(),
		newAgentFlags("add", io.Discard).command(),
		newAgentFlags("remove", io.Discard).command(),
		newAgentFlags("list", io.Discard).command(),
	}
}
