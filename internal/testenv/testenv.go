// Package testenv is for tests: it finds the real servers integration tests
// run against, failing in CI when one is missing and skipping (with the
// reason) only outside it.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether the tests run in CI (CI is set, as .ci/run does).
func InCI() bool { return os.Getenv("CI") != "" }

// Command returns the path of a program an integration test needs. When it
// is missing the test fails in CI and is skipped elsewhere, naming the
// Debian package that provides it.
func Command(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := name + " is not installed (Debian package " + debianPackage + "; .ci/run installs it)"
	if InCI() {
		t.Fatal(msg + ": this integration test must run in CI")
	}
	t.Skip(msg + ": skipping outside CI")
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
