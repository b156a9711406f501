package gendoc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags_EachProgramWritesItsPart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docs", "flags.md")
	if err := UpdateFlags(path, "siaprapat-agent", []byte("agent table\n")); err != nil {
		t.Fatal(err)
	}
	if err := CheckFlags(path, "siaprapat-controller", []byte("controller table\n")); err == nil || !strings.Contains(err.Error(), "run `go generate ./...`") {
		t.Errorf("a missing part passed: %v", err)
	}
	if err := UpdateFlags(path, "siaprapat-controller", []byte("controller table\n")); err != nil {
		t.Fatal(err)
	}
	for program, content := range map[string]string{"siaprapat-agent": "agent table\n", "siaprapat-controller": "controller table\n"} {
		if err := CheckFlags(path, program, []byte(content)); err != nil {
			t.Error(err)
		}
	}
	page, _ := os.ReadFile(path)
	if c, a := strings.Index(string(page), "controller table"), strings.Index(string(page), "agent table"); c < 0 || a < c {
		t.Errorf("the parts are not in order:\n%s", page)
	}
	err := CheckFlags(path, "siaprapat-agent", []byte("agent table, a new flag\n"))
	if err == nil || !strings.Contains(err.Error(), "committed: agent table\n  generated: agent table, a new flag") {
		t.Errorf("a changed part: %v", err)
	}
}
