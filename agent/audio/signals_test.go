package audio_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/siaprapat/siaprapat/agent/audio"
)

// Test signals. Levels are dBFS with the sine reference: a sine of
// amplitude 10^(L/20) reads L, and noise reads L when its RMS is
// 10^(L/20)/√2.

func amplitude(level float64) float64 { return math.Pow(10, level/20) }

// sine returns a mono sine at a level (peak amplitude 10^(level/20)).
func sine(rate int, seconds, hz, level float64) []float64 {
	out := make([]float64, int(seconds*float64(rate)))
	a := amplitude(level)
	for i := range out {
		out[i] = a * math.Sin(2*math.Pi*hz*float64(i)/float64(rate))
	}
	return out
}

// noise returns Gaussian noise at a level, from a fixed seed.
func noise(rng *rand.Rand, n int, level float64) []float64 {
	sd := amplitude(level) / math.Sqrt2
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.NormFloat64() * sd
	}
	return out
}

// speechLike is periodic: each 500 ms period is 350 ms of noise bursts
// then 150 ms of quiet noise at gapLevel, the bursts loud enough that the
// whole reads level. Any window of whole periods reads the same.
func speechLike(rate int, seconds, level, gapLevel float64) []float64 {
	rng := rand.New(rand.NewPCG(1, 2))
	period := rate / 2
	burst := period * 7 / 10
	// Mean square of a period: (burst·b² + gap·g²)/period = target².
	target, gap := amplitude(level)/math.Sqrt2, amplitude(gapLevel)/math.Sqrt2
	b := math.Sqrt((target*target*float64(period) - gap*gap*float64(period-burst)) / float64(burst))
	one := make([]float64, period)
	for i := range one {
		sd := gap
		if i < burst {
			sd = b
		}
		one[i] = rng.NormFloat64() * sd
	}
	// Scale the period so that its mean square is exactly the target.
	var ms float64
	for _, v := range one {
		ms += v * v
	}
	scale := target / math.Sqrt(ms/float64(period))
	out := make([]float64, int(seconds*float64(rate)))
	for i := range out {
		out[i] = one[i%period] * scale
	}
	return out
}

// clip limits a signal to full scale.
func clip(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = max(-1, min(1, v))
	}
	return out
}

// pcm makes a float PCM of the given channels from one mono signal.
func pcm(rate, channels int, x []float64) audio.PCM {
	p := audio.PCM{Rate: rate, Channels: channels, Bits: 32, Float: true}
	for _, v := range x {
		for c := 0; c < channels; c++ {
			p.Samples = append(p.Samples, float32(v))
		}
	}
	return p
}

// wavBytes encodes a mono signal as a WAV of the given channels (the
// signal on each) and bits: 16, 24 or 32 integer PCM, or -32 for float.
func wavBytes(t testing.TB, rate, channels, bits int, x []float64) []byte {
	t.Helper()
	size := bits / 8
	tag := uint16(1)
	if bits < 0 {
		size, tag = 4, 3
	}
	var data bytes.Buffer
	le := binary.LittleEndian
	for _, v := range x {
		for c := 0; c < channels; c++ {
			switch bits {
			case -32:
				binary.Write(&data, le, float32(v))
			case 16:
				binary.Write(&data, le, int16(math.Round(max(-32768, min(32767, v*32768)))))
			case 24:
				s := int32(math.Round(max(-8388608, min(8388607, v*8388608))))
				data.Write([]byte{byte(s), byte(s >> 8), byte(s >> 16)})
			case 32:
				binary.Write(&data, le, int32(math.Round(max(-2147483648, min(2147483647, v*2147483648)))))
			default:
				t.Fatalf("no %d-bit WAV writer", bits)
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(4+8+16+8+data.Len()))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	binary.Write(&b, le, tag)
	binary.Write(&b, le, uint16(channels))
	binary.Write(&b, le, uint32(rate))
	binary.Write(&b, le, uint32(rate*channels*size))
	binary.Write(&b, le, uint16(channels*size))
	binary.Write(&b, le, uint16(size*8))
	b.WriteString("data")
	binary.Write(&b, le, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

// writeWAV writes a 16-bit WAV into the test's temporary directory.
func writeWAV(t testing.TB, name string, rate, channels int, x []float64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, wavBytes(t, rate, channels, 16, x), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// finite fails the test when a measurement is NaN or infinite (the report
// rejects them).
func finite(t testing.TB, m map[string]float64) {
	t.Helper()
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("measurement %s = %v", k, v)
		}
	}
}
