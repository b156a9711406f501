package standard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/siaprapat/siaprapat/wire"
)

// FuzzParse feeds arbitrary files to Parse: it must never panic, every error
// must name the file, and a standard it accepts must judge any check
// without panicking.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/*.yaml", "../firmware-profiles/standards/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, check := range wire.Checks {
			c := wire.CheckResult{Check: check, Measurements: map[string]float64{"fps": 1, "rtt_seconds": 0.1, "digital_silence": 1}}
			s.Evaluate(&c)
		}
	})
}
