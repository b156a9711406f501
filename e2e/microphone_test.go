package e2e

import (
	"strings"
	"testing"
)

// TestBinaries_DeadMicrophoneFailsFromTheCommandLine checks the recorded
// microphones of agent/audio/testdata as a technician would: a dead input
// (its converter's noise only) fails with words that say so, a quiet room
// passes.
func TestBinaries_DeadMicrophoneFailsFromTheCommandLine(t *testing.T) {
	agentBin, _ := binaries(t)
	for _, tc := range []struct {
		file     string
		wantCode int
		wantOut  []string
	}{
		{"mic-converter-noise.wav", 1, []string{"microphone_dead", "FAIL", "peak_dbfs", "is below the fail limit -70 dBFS",
			"the microphone delivers no sound above its converter's own noise: muted, dead or unplugged", "room verdict: NOT_READY"}},
		{"mic-quiet-room.wav", 0, []string{"microphone_dead", "room verdict: READY"}},
	} {
		out, code := runProgram(t, agentBin, "check", "--only", "audio", "--mic-source", "file:../agent/audio/testdata/"+tc.file)
		t.Logf("%s: exit %d\n%s", tc.file, code, out)
		if code != tc.wantCode {
			t.Errorf("%s: exit %d, want %d", tc.file, code, tc.wantCode)
		}
		for _, w := range tc.wantOut {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q", tc.file, w)
			}
		}
	}
}
