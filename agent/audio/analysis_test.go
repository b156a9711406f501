package audio_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/siaprapat/siaprapat/agent/audio"
	"github.com/siaprapat/siaprapat/standard"
)

func TestAnalyze_SineReadsItsLevelWithinHalfADecibel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     int
		channels int
		level    float64
	}{
		{"full scale less 1 dB", 48000, 1, -1},
		{"speech target", 48000, 2, -19},
		{"-20 dBFS at 16 kHz", 16000, 1, -20},
		{"quiet at 44.1 kHz", 44100, 2, -40},
		{"very quiet", 48000, 1, -80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pcm(tc.rate, tc.channels, sine(tc.rate, 1, 997, tc.level))
			l := audio.Analyze(p)
			if math.Abs(l.RMS-tc.level) > 0.5 || math.Abs(l.Peak-tc.level) > 0.5 {
				t.Errorf("RMS %.2f, peak %.2f dBFS; want both %.2f ± 0.5", l.RMS, l.Peak, tc.level)
			}
			if l.Silent || l.ClipRatio != 0 {
				t.Errorf("silent %v, clip ratio %v; want false, 0", l.Silent, l.ClipRatio)
			}
			finite(t, l.Measurements(p))
		})
	}
}

func TestAnalyze_FullScaleSquareReadsPlusThreeDecibels(t *testing.T) {
	x := make([]float64, 4800)
	for i := range x {
		x[i] = 0.5
		if (i/24)%2 == 0 {
			x[i] = -0.5
		}
	}
	// A square of amplitude 0.5 (-6.02 dBFS peak) has the RMS of a sine of
	// amplitude 0.707: -3.01 dBFS with the sine reference.
	l := audio.Analyze(pcm(48000, 1, x))
	if math.Abs(l.RMS-(-3.01)) > 0.05 || math.Abs(l.Peak-(-6.02)) > 0.05 {
		t.Errorf("RMS %.2f, peak %.2f; want -3.01, -6.02", l.RMS, l.Peak)
	}
}

func TestAnalyze_DigitalSilenceIsFlagged(t *testing.T) {
	p := pcm(48000, 2, make([]float64, 48000))
	l := audio.Analyze(p)
	m := l.Measurements(p)
	if m["digital_silence"] != 1 {
		t.Errorf("digital_silence %v, want 1", m["digital_silence"])
	}
	for _, name := range []string{"rms_dbfs", "peak_dbfs", "noise_floor_dbfs"} {
		if m[name] != audio.Floor {
			t.Errorf("%s %v, want the floor %v", name, m[name], audio.Floor)
		}
	}
	finite(t, m)
	// One sample above zero is not digital silence.
	p.Samples[12345] = 1.0 / 32768
	if audio.Analyze(p).Silent {
		t.Error("a signal with one non-zero sample is flagged silent")
	}
	// An empty recording is silent, and still finite.
	empty := audio.PCM{Rate: 48000, Channels: 1}
	if l := audio.Analyze(empty); !l.Silent {
		t.Error("an empty recording is not flagged silent")
	}
	finite(t, audio.Analyze(empty).Measurements(empty))
}

func TestAnalyze_ClippedSignalExceedsTheStandardsFailLimit(t *testing.T) {
	std, err := standard.Default()
	if err != nil {
		t.Fatal(err)
	}
	var failAbove float64
	for _, r := range std.Rules {
		if r.Name == "clipping" {
			failAbove = *r.FailAbove
		}
	}
	if failAbove == 0 {
		t.Fatal("the default standard has no clipping fail limit")
	}
	// A sine of amplitude 2 (+6 dBFS) is at or past 0.99 where
	// |sin| >= 0.495: 1 - (2/π)·asin(0.495) = 67 % of the time.
	clipped := audio.Analyze(pcm(48000, 1, clip(sine(48000, 1, 440, 6))))
	if clipped.ClipRatio <= failAbove {
		t.Errorf("clip ratio %v of a clipped sine, want above the fail limit %v", clipped.ClipRatio, failAbove)
	}
	if want := 1 - 2/math.Pi*math.Asin(audio.ClipLevel/2); math.Abs(clipped.ClipRatio-want) > 0.005 {
		t.Errorf("clip ratio %v, want %.3f", clipped.ClipRatio, want)
	}
	// A sine peaking at -1 dBFS (0.89) does not clip.
	if r := audio.Analyze(pcm(48000, 1, sine(48000, 1, 440, -1))).ClipRatio; r != 0 {
		t.Errorf("clip ratio %v of a sine at -1 dBFS, want 0", r)
	}
}

func TestAnalyze_NoiseFloorOfKnownNoiseWithBurstsWithinOneDecibel(t *testing.T) {
	const rate = 48000
	rng := rand.New(rand.NewPCG(7, 7))
	for _, floor := range []float64{-70, -60, -45} {
		// 5 s of noise at the floor, with 200 ms bursts 40 dB louder
		// half the time: the bursts must not lift the floor.
		x := noise(rng, 5*rate, floor)
		loud := noise(rng, 5*rate, floor+40)
		for i := range x {
			if (i/(rate/5))%2 == 0 {
				x[i] += loud[i]
			}
		}
		l := audio.Analyze(pcm(rate, 1, x))
		t.Logf("noise at %.1f dBFS with bursts: floor %.2f dBFS, RMS %.2f dBFS", floor, l.NoiseFloor, l.RMS)
		if math.Abs(l.NoiseFloor-floor) > 1 {
			t.Errorf("noise floor %.2f dBFS, want %.1f ± 1", l.NoiseFloor, floor)
		}
		if l.RMS < floor+30 {
			t.Errorf("RMS %.2f dBFS, want the bursts to dominate it", l.RMS)
		}
	}
}

func TestAnalyze_DCOffsetIsRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		offset [2]float64 // per channel
		want   float64
	}{
		{"none", [2]float64{0, 0}, 0},
		{"both channels", [2]float64{0.05, 0.05}, 0.05},
		{"one channel negative", [2]float64{0, -0.1}, 0.1},
		{"opposite channels do not cancel", [2]float64{0.02, -0.02}, 0.02},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Whole cycles of a sine, so the sine itself has no mean.
			s := sine(48000, 1, 100, -20)
			p := audio.PCM{Rate: 48000, Channels: 2, Bits: 16}
			for _, v := range s {
				p.Samples = append(p.Samples, float32(v+tc.offset[0]), float32(v+tc.offset[1]))
			}
			got := audio.Analyze(p).DCOffset
			if math.Abs(got-tc.want) > 1e-4 {
				t.Errorf("DC offset %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRMSdBFS_UsesTheSineReference(t *testing.T) {
	for _, tc := range []struct {
		rms, want float64
	}{
		{1 / math.Sqrt2, 0},
		{0.1 / math.Sqrt2, -20},
		{0, audio.Floor},
		{1e-30, audio.Floor},
		{math.NaN(), audio.Floor},
	} {
		if got := audio.RMSdBFS(tc.rms); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("RMSdBFS(%v) = %v, want %v", tc.rms, got, tc.want)
		}
	}
}

func BenchmarkAnalyze_FiveSecondsStereo48k(b *testing.B) {
	p := pcm(48000, 2, speechLike(48000, 5, -20, -60))
	b.ResetTimer()
	for b.Loop() {
		audio.Analyze(p)
	}
}
