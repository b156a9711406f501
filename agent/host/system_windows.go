package host

import "os"

func systemVolume() string {
	if d := os.Getenv("SystemDrive"); d != "" {
		return d + `\`
	}
	return `C:\`
}

func physicalNIC(string) bool { return true }
