//go:build !windows

package main

import (
	"fmt"
	"io"
)

func serviceCmd(_ []string, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "siaprapat-agent service: installs the agent as a Windows service, on Windows only; on Debian and Ubuntu the package's systemd unit runs it (systemctl enable --now siaprapat-agent)")
	return exitNoCheck
}
