//go:build !linux && !windows

package host

func systemVolume() string { return "/" }

func physicalNIC(string) bool { return true }
