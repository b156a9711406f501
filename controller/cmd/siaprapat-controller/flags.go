package main

// docs/flags.md shows commandFlags: regenerate it with go generate ./...
//go:generate go test -run ^TestFlagsDoc_IsCurrent$ -update .

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
		agentCommand(),
	}
}

// agentCommand is agent add's, remove's and list's: one FlagSet, whose
// flags marked (add) only add uses.
func agentCommand() config.Command {
	c := newAgentFlags("add", io.Discard).command()
	c.Title = "`siaprapat-controller agent add`, `remove`, `list`"
	return c
}
