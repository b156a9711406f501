package main

import (
	"cmp"
	"os"
	"path/filepath"
	"runtime"
)

// defaultConfigFile is where an installed agent's configuration lives: the
// Debian package's /etc/siaprapat/agent.yaml, %ProgramData%\siaprapat\agent.yaml
// on Windows.
func defaultConfigFile() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(programData(), "siaprapat", "agent.yaml")
	}
	return "/etc/siaprapat/agent.yaml"
}

// defaultDataDir is the installed agent's spool directory: the systemd
// unit's StateDirectory, %ProgramData%\siaprapat\agent on Windows.
func defaultDataDir() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(programData(), "siaprapat", "agent")
	}
	return "/var/lib/siaprapat/agent"
}

func programData() string {
	return cmp.Or(os.Getenv("ProgramData"), `C:\ProgramData`)
}
