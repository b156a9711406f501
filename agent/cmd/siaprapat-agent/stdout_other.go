//go:build !windows || !cgo

package main

// restoreStdout has nothing to give back here: no driver prints on stdout
// before main (see stdout_windows.go).
func restoreStdout() {}
