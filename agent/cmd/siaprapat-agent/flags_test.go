package main

import (
	"bytes"
	"flag"
	"runtime"
	"testing"

	"github.com/siaprapat/siaprapat/internal/config"
	"github.com/siaprapat/siaprapat/internal/gendoc"
)

var update = flag.Bool("update", false, "rewrite this program's part of docs/flags.md from its flags")

const flagsDoc = "../../../docs/flags.md"

// TestFlagsDoc_IsCurrent fails when docs/flags.md does not show this
// program's flags as they are declared; go generate ./... runs it with
// -update.
func TestFlagsDoc_IsCurrent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("docs/flags.md shows the defaults on Linux")
	}
	var want bytes.Buffer
	if err := config.Markdown(&want, commandFlags()); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := gendoc.UpdateFlags(flagsDoc, "siaprapat-agent", want.Bytes()); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := gendoc.CheckFlags(flagsDoc, "siaprapat-agent", want.Bytes()); err != nil {
		t.Error(err)
	}
}
