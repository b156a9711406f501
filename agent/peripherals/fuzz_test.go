package peripherals

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoadProfiles feeds arbitrary profile files to the loader: it must
// never panic, every error must name the file, and an accepted profile's
// firmware mapping must compare versions without panicking.
func FuzzLoadProfiles(f *testing.F) {
	files, _ := filepath.Glob("testdata/profiles/*.yaml")
	more, _ := filepath.Glob("../../firmware-profiles/devices/*.yaml")
	for _, file := range append(files, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := LoadProfiles(fstest.MapFS{"fuzz.yaml": {Data: data}}, "devices")
		if err != nil {
			if !strings.Contains(err.Error(), "devices/fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, p := range ps.All() {
			if p.Firmware == nil {
				continue
			}
			for _, bcd := range []string{"0000", "0100", "ffff", "12"} {
				FirmwareVersion(bcd, p.Firmware.BCDDevice)
			}
		}
	})
}
