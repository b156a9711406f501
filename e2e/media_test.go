package e2e

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/camera/y4mtest"
)

// TestBinaries_CameraClipsFromTheCommandLine runs the camera check as a
// technician would, on recorded clips: each gives its verdict and names the
// rule at fault.
func TestBinaries_CameraClipsFromTheCommandLine(t *testing.T) {
	agentBin, _ := binaries(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		clip     y4mtest.Clip
		wantCode int
		wantOut  []string
	}{
		{"healthy 720p30", y4mtest.Clip{}, 0, []string{"room verdict: READY"}},
		{"640x360", y4mtest.Clip{Width: 640, Height: 360}, 1, []string{"camera_min_width", "width_pixels 640 px is below the fail limit 1280 px"}},
		{"10 fps", y4mtest.Clip{FPS: 10}, 1, []string{"camera_fps", "fps 10 fps is below the fail limit 15 fps"}},
		{"black", y4mtest.Clip{Pattern: y4mtest.Black}, 1, []string{"camera_black", "black_ratio 100 % is above the fail limit 50 %"}},
		{"frozen", y4mtest.Clip{Pattern: y4mtest.Frozen}, 1, []string{"camera_frozen", "is above the fail limit 50 %"}},
		{"covered lens", y4mtest.Clip{Pattern: y4mtest.Grey}, 1, []string{"camera_low_detail", "low_detail_ratio 100 % is above the fail limit 90 %"}},
		{"ends early", y4mtest.Clip{Pattern: y4mtest.Short}, 2, []string{"ERROR", "clip ended after 1.2 s of the 3 s window"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".y4m")
			if err := y4mtest.Write(path, tc.clip); err != nil {
				t.Fatal(err)
			}
			out, code := runProgram(t, agentBin, "check", "--only", "camera", "--camera-source", "file:"+path)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("no camera", func(t *testing.T) {
		if m, _ := filepath.Glob("/dev/video*"); len(m) > 0 {
			t.Skipf("this machine has cameras (%v): the no-camera case needs one without", m)
		}
		out, code := runProgram(t, agentBin, "check", "--only", "camera")
		if code != 1 || !strings.Contains(out, "no camera found") {
			t.Errorf("exit %d, want 1 with \"no camera found\"\n%s", code, out)
		}
	})
	out, code := runProgram(t, agentBin, "check", "--only", "camera", "--camera-source", "file:"+filepath.Join(dir, "nope.y4m"))
	if code != 2 || !strings.Contains(out, "nope.y4m") {
		t.Errorf("missing clip: exit %d\n%s", code, out)
	}
}

// writeWAV writes 16-bit mono PCM at 48 kHz.
func writeWAV(t *testing.T, path string, samples []float64) {
	t.Helper()
	const rate = 48000
	data := make([]byte, 0, 44+2*len(samples))
	data = append(data, "RIFF"...)
	data = binary.LittleEndian.AppendUint32(data, uint32(36+2*len(samples)))
	data = append(data, "WAVEfmt "...)
	data = binary.LittleEndian.AppendUint32(data, 16)
	data = binary.LittleEndian.AppendUint16(data, 1) // PCM
	data = binary.LittleEndian.AppendUint16(data, 1) // mono
	data = binary.LittleEndian.AppendUint32(data, rate)
	data = binary.LittleEndian.AppendUint32(data, rate*2)
	data = binary.LittleEndian.AppendUint16(data, 2)
	data = binary.LittleEndian.AppendUint16(data, 16)
	data = append(data, "data"...)
	data = binary.LittleEndian.AppendUint32(data, uint32(2*len(samples)))
	for _, s := range samples {
		v := math.Round(max(-1, min(1, s)) * 32767)
		data = binary.LittleEndian.AppendUint16(data, uint16(int16(v)))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// speech is 4 s of talk-like sound: 300 ms tone bursts at -20 dBFS (sine
// reference) with 200 ms pauses of -60 dBFS noise between them; gain
// scales it (a gain of 20 clips it hard).
func speech(gain float64) []float64 {
	const rate = 48000
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]float64, 4*rate)
	for i := range out {
		ts := float64(i) / rate
		if math.Mod(ts, 0.5) < 0.3 {
			out[i] = 0.1 * math.Sin(2*math.Pi*440*ts) * gain
		} else {
			out[i] = 0.001 * (rng.Float64()*2 - 1) * math.Sqrt(3) / math.Sqrt2 * gain
		}
	}
	return out
}

// TestBinaries_MicrophoneRecordingsFromTheCommandLine runs the audio check
// on WAV files: speech at -20 dBFS passes, silence and clipping fail with
// the rule that says so.
func TestBinaries_MicrophoneRecordingsFromTheCommandLine(t *testing.T) {
	agentBin, _ := binaries(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		samples  []float64
		wantCode int
		wantOut  []string
	}{
		{"speech at -20 dBFS", speech(1), 0, []string{"room verdict: READY"}},
		{"silence", make([]float64, 4*48000), 1, []string{"microphone_silence", "digital_silence is yes"}},
		{"clipped", speech(20), 1, []string{"clipping", "clip_ratio", "is above the fail limit 0.1 %"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".wav")
			writeWAV(t, path, tc.samples)
			start := time.Now()
			out, code := runProgram(t, agentBin, "check", "--only", "audio", "--mic-source", "file:"+path)
			t.Logf("%s: exit %d in %v", tc.name, code, time.Since(start).Round(time.Millisecond))
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	path := filepath.Join(dir, "not-a-wav.wav")
	os.WriteFile(path, []byte("hello"), 0o600)
	if out, code := runProgram(t, agentBin, "check", "--only", "audio", "--mic-source", "file:"+path); code != 2 || !strings.Contains(out, "not-a-wav.wav") {
		t.Errorf("a file that is not a WAV: exit %d\n%s", code, out)
	}
}
