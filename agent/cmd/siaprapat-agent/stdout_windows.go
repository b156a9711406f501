//go:build windows && cgo

package main

/*
#include <windows.h>
#include <stdint.h>

static HANDLE siaprapat_stdout = NULL;

// Runs before the Go runtime and every package's init (a C constructor of
// the executable, called by the C runtime before main): stdout is the null
// device while pion/mediadevices' DirectShow driver lists the cameras in its
// package init and prints a failure to do so with fmt.Printf.
__attribute__((constructor)) static void siaprapat_hold_stdout(void) {
	siaprapat_stdout = GetStdHandle(STD_OUTPUT_HANDLE);
	HANDLE nul = CreateFileA("NUL", GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
	if (nul != INVALID_HANDLE_VALUE) {
		SetStdHandle(STD_OUTPUT_HANDLE, nul);
	}
}

static uintptr_t siaprapat_saved_stdout(void) { return (uintptr_t)siaprapat_stdout; }
*/
import "C"

import (
	"os"
	"syscall"

	"golang.org/x/sys/windows"
)

// restoreStdout gives the program its stdout back once the packages'
// init functions have run (see siaprapat_hold_stdout): check --json's
// Report is then alone on it.
func restoreStdout() {
	h := windows.Handle(C.siaprapat_saved_stdout())
	if h == 0 || h == windows.InvalidHandle {
		return // no stdout (a service): nothing to give back
	}
	_ = windows.SetStdHandle(windows.STD_OUTPUT_HANDLE, h)
	syscall.Stdout = syscall.Handle(h)
	if f := os.NewFile(uintptr(h), "/dev/stdout"); f != nil {
		os.Stdout = f
	}
}
