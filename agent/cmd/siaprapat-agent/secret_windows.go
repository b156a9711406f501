//go:build windows

package main

import "golang.org/x/sys/windows"

// adminOnly is a protected DACL (inheriting nothing from its folder, which
// in ProgramData lets every user read): full control for SYSTEM, which the
// service runs as, and the Administrators group.
const adminOnly = "D:P(A;;FA;;;SY)(A;;FA;;;BA)"

// restrictToAdministrators makes the file readable by SYSTEM and the
// Administrators only; mode bits mean nothing on Windows.
func restrictToAdministrators(path string) error {
	sd, err := windows.SecurityDescriptorFromString(adminOnly)
	if err != nil {
		return err
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return err
	}
	return windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil)
}
