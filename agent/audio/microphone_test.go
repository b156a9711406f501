package audio_test

import (
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/siaprapat/siaprapat/agent/audio"
	"github.com/siaprapat/siaprapat/internal/testenv"
	"github.com/siaprapat/siaprapat/wire"
)

var update = flag.Bool("update", false, "rewrite the microphone fixtures in testdata")

// Microphone fixtures, 16-bit mono at 16 kHz, 3 s each, made by
// TestMicrophoneFixtures with -update (seeded: the same bytes each time).
var fixtures = map[string]func() []float64{
	// A dead, muted or unplugged analogue input: its converter's own
	// noise, Gaussian at -93 dBFS RMS, quantized to 16 bits (0 and a few
	// LSB), not digital zeros.
	"mic-converter-noise.wav": func() []float64 { return gaussian(rand.New(rand.NewPCG(93, 1)), 3*16000, -93) },
	// A working microphone in a quiet, empty room: -65 dBFS of noise.
	"mic-quiet-room.wav": func() []float64 { return gaussian(rand.New(rand.NewPCG(65, 1)), 3*16000, -65) },
	// Every sample zero (a muted digital input).
	"mic-digital-silence.wav": func() []float64 { return make([]float64, 3*16000) },
}

// gaussian is white Gaussian noise at an RMS level in dBFS (sine reference).
func gaussian(rng *rand.Rand, n int, dbfs float64) []float64 {
	sigma := math.Pow(10, dbfs/20) / math.Sqrt2
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.NormFloat64() * sigma
	}
	return out
}

// espeakSpeech records a sentence spoken by Debian's espeak-ng, brought to
// a normal speaking level (RMS -26 dBFS over the whole take, pauses and all).
func espeakSpeech(t *testing.T) string {
	t.Helper()
	bin := testenv.Command(t, "espeak-ng", "espeak-ng")
	raw := filepath.Join(t.TempDir(), "espeak.wav")
	text := "Selamat pagi. Rapat koordinasi dimulai pukul sembilan. Mohon mikrofon diperiksa sebelum rapat."
	if out, err := exec.Command(bin, "-v", "id", "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v\n%s", err, out)
	}
	pcm, err := audio.ReadWAV(raw)
	if err != nil {
		t.Fatal(err)
	}
	rms := audio.Analyze(pcm).RMS
	gain := math.Pow(10, (-26-rms)/20)
	x := make([]float64, len(pcm.Samples))
	for i, v := range pcm.Samples {
		x[i] = float64(v) * gain
	}
	return writeWAV(t, "speech.wav", pcm.Rate, 1, x)
}

func TestMicrophoneFixtures(t *testing.T) {
	for name, make := range fixtures {
		path := filepath.Join("testdata", name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(path, wavBytes(t, 16000, 1, 16, make()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v (go test -update makes it)", name, err)
		}
	}
}

// TestMicrophone_DeadInputFailsAQuietRoomAndSpeechPass judges each fixture
// with the default standard: converter noise fails (the microphone_dead
// rule, with words a technician understands), a quiet room and real speech
// pass, digital silence fails as it always did.
func TestMicrophone_DeadInputFailsAQuietRoomAndSpeechPass(t *testing.T) {
	std := defaultStandard(t)
	for _, tc := range []struct {
		name, path string
		verdict    wire.Verdict
		failing    []string
		dead       bool
	}{
		{"converter noise", filepath.Join("testdata", "mic-converter-noise.wav"), wire.Fail, []string{"microphone_dead"}, true},
		{"quiet room", filepath.Join("testdata", "mic-quiet-room.wav"), wire.Pass, nil, false},
		{"digital silence", filepath.Join("testdata", "mic-digital-silence.wav"), wire.Fail, []string{"microphone_silence", "microphone_dead"}, true},
		{"espeak-ng speech", "", wire.Pass, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = espeakSpeech(t)
			}
			c, err := audio.New(audio.Config{Source: "file:" + path, Window: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			res := runOnce(t, c, std)
			m := res.Measurements
			t.Logf("%s: rms %.1f dBFS, peak %.1f dBFS, noise floor %.1f dBFS, silence %v: %s %q", tc.name,
				m["rms_dbfs"], m["peak_dbfs"], m["noise_floor_dbfs"], m["digital_silence"], res.Verdict, res.Reason)
			if res.Verdict != tc.verdict {
				t.Errorf("verdict %s, want %s: %v", res.Verdict, tc.verdict, failing(res))
			}
			var got []string
			for _, r := range res.Rules {
				if r.Verdict == wire.Fail {
					got = append(got, r.Rule)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.failing, ",") {
				t.Errorf("failing rules %v, want %v", got, tc.failing)
			}
			if dead := strings.Contains(res.Reason, audio.DeadReason); dead != tc.dead {
				t.Errorf("reason %q: says dead %v, want %v", res.Reason, dead, tc.dead)
			}
		})
	}
}
