package main

import (
	"flag"
	"runtime"
	"testing"

	"github.com/siaprapat/siaprapat/internal/config"
)

var update = flag.Bool("update", false, "rewrite this program's part of docs/flags.md from its flags")

// TestFlagsDoc_IsCurrent fails when docs/flags.md does not show this
// program's flags as they are declared; go generate ./... runs it with
// -update.
func TestFlagsDoc_IsCurrent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("docs/flags.md shows the defaults on Linux")
	}
	if err := config.FlagsDoc("../../../docs/flags.md", "siaprapat-agent", commandFlags(), *update); err != nil {
		t.Error(err)
	}
}
