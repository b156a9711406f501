//go:build !windows

package main

// restrictToAdministrators does nothing here: mode 0600 already keeps the
// file to its owner.
func restrictToAdministrators(string) error { return nil }
