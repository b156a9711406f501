package config

import (
	"bytes"

	"github.com/siaprapat/siaprapat/internal/gendoc"
)

// FlagsDoc compares program's part of the docs/flags.md at path with the
// table Markdown renders from cmds; with update it writes that part
// instead. Each program's flags_test.go calls it, with -update under
// go generate.
func FlagsDoc(path, program string, cmds []Command, update bool) error {
	var want bytes.Buffer
	if err := Markdown(&want, cmds); err != nil {
		return err
	}
	if update {
		return gendoc.UpdateFlags(path, program, want.Bytes())
	}
	return gendoc.CheckFlags(path, program, want.Bytes())
}
