package audio

import (
	"math"
	"math/bits"
	"math/cmplx"
	"time"
)

// The loopback test signal: a linear chirp across the voice band, quiet
// and short, with raised-cosine fades so it starts and ends without a click.
const (
	ChirpStart  = 500.0  // Hz
	ChirpEnd    = 4000.0 // Hz
	ChirpLength = 500 * time.Millisecond
	chirpFade   = 10 * time.Millisecond
	// SignalRate is the rate the test signal is handed to the sound system
	// at; it converts it to the speaker's.
	SignalRate = 48000
	// DefaultLoopbackLevel is the test signal's level, in dBFS (sine
	// reference): speech level (RFC 7874's -19 dBFS target), so that the
	// level the microphone hears it at is judged by the standard's
	// speech_level rule as far-end speech would be.
	DefaultLoopbackLevel = -19.0
	// DefaultLoopbackEvery spaces the loopbacks out: the chirp is audible,
	// and an agent checking every minute must not chirp every minute.
	DefaultLoopbackEvery = 15 * time.Minute
	// DetectThreshold is the normalised cross-correlation between the
	// recording and the chirp from which the chirp counts as heard. Noise
	// alone stays below about 0.05 over a 1.5 s search; 0.3 is reached when
	// the chirp is about 10 dB below the noise (over the whole band).
	DetectThreshold = 0.3
	// playedAtSlack is how much earlier than PlayedAt the chirp is looked
	// for.
	playedAtSlack = 50 * time.Millisecond
)

// Chirp returns the test signal at a rate: ChirpLength of a linear sweep
// from ChirpStart to ChirpEnd at a level in dBFS (sine reference, so its
// amplitude is 10^(level/20)), mono.
func Chirp(rate int, level float64) PCM {
	n := framesIn(ChirpLength, rate)
	fade := framesIn(chirpFade, rate)
	amp := math.Pow(10, level/20)
	t1 := ChirpLength.Seconds()
	out := make([]float32, n)
	for i := range out {
		t := float64(i) / float64(rate)
		phase := 2 * math.Pi * (ChirpStart*t + (ChirpEnd-ChirpStart)*t*t/(2*t1))
		g := 1.0
		if i < fade {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(i)/float64(fade))
		} else if j := n - 1 - i; j < fade {
			g = 0.5 - 0.5*math.Cos(math.Pi*float64(j)/float64(fade))
		}
		out[i] = float32(amp * g * math.Sin(phase))
	}
	return PCM{Rate: rate, Channels: 1, Bits: 32, Float: true, Samples: out}
}

// Detection is what a loopback recording says about the test signal.
type Detection struct {
	Detected    bool
	Correlation float64 // best normalised cross-correlation, 0..1
	Level       float64 // dBFS (sine reference) of the chirp as received, noise removed
	// Delay is from PlayedAt to the chirp's start in the recording; it may
	// come out a few milliseconds negative (see playedAtSlack).
	Delay   time.Duration
	Channel int // the channel that heard it best
}

// Detect looks for the chirp in a loopback recording with a matched filter:
// the normalised cross-correlation of each channel with the chirp, from
// PlayedAt on. The level is that of the part of the recording that matches
// the chirp (the least-squares gain at the correlation peak, in dBFS with
// the sine reference), so room noise does not inflate it; reverberation and
// an uneven frequency response lower it somewhat. The delay includes the
// sound system's output and input buffering.
func Detect(c LoopCapture) Detection {
	p := c.PCM
	ch := max(p.Channels, 1)
	ref := Chirp(p.Rate, 0).Samples
	m := len(ref)
	n := p.Frames()
	best := Detection{Level: Floor}
	if p.Rate <= 0 || n < m {
		return best
	}
	var refEnergy float64
	for _, r := range ref {
		refEnergy += float64(r) * float64(r)
	}
	// Causality: the chirp cannot be heard before it was played. PlayedAt
	// is known to a period or so of the sound system's buffering (through a
	// PulseAudio null sink the chirp shows up about 6 ms before it), so the
	// search starts a little earlier.
	from := max(c.PlayedAt-framesIn(playedAtSlack, p.Rate), 0)
	refSpec := spectrum(ref, fftSize(n+m))
	for k := 0; k < ch; k++ {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(p.Samples[i*ch+k])
		}
		corr := correlate(x, refSpec)
		// Energy of each m-frame segment, by running sums.
		cum := make([]float64, n+1)
		for i, v := range x {
			cum[i+1] = cum[i] + v*v
		}
		lag, score := -1, 0.0
		for tau := from; tau+m <= n; tau++ {
			e := cum[tau+m] - cum[tau]
			if e <= 1e-20 {
				continue
			}
			// A path that inverts polarity still carries the chirp.
			if s := math.Abs(corr[tau]) / math.Sqrt(e*refEnergy); s > score {
				lag, score = tau, s
			}
		}
		if lag < 0 || score <= best.Correlation {
			continue
		}
		best = Detection{
			Correlation: score,
			Level:       ampdBFS(math.Abs(corr[lag]) / refEnergy),
			Delay:       time.Duration(float64(lag-c.PlayedAt) / float64(p.Rate) * float64(time.Second)),
			Channel:     k,
		}
	}
	best.Detected = best.Correlation >= DetectThreshold
	return best
}

// Measurements are the detection under the catalogue's names; a chirp not
// heard has no level or delay.
func (d Detection) Measurements() map[string]float64 {
	if !d.Detected {
		return map[string]float64{"loopback_detected": 0}
	}
	return map[string]float64{
		"loopback_detected":      1,
		"loopback_level_dbfs":    round2(d.Level),
		"loopback_delay_seconds": math.Round(max(d.Delay.Seconds(), 0)*1e4) / 1e4,
	}
}

// correlate returns c[tau] = sum_i x[tau+i]·ref[i] for every tau, given the
// spectrum of ref.
func correlate(x []float64, refSpec []complex128) []float64 {
	size := len(refSpec)
	xs := spectrum(x, size)
	for i := range xs {
		xs[i] *= cmplx.Conj(refSpec[i])
	}
	fft(xs, true)
	out := make([]float64, len(x))
	for i := range out {
		out[i] = real(xs[i]) / float64(size)
	}
	return out
}

// spectrum zero-pads samples to size and transforms them.
func spectrum[T float32 | float64](x []T, size int) []complex128 {
	buf := make([]complex128, size)
	for i, v := range x {
		buf[i] = complex(float64(v), 0)
	}
	fft(buf, false)
	return buf
}

// fftSize is the smallest power of two >= n.
func fftSize(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// fft transforms a in place (radix 2; len(a) a power of two). The inverse
// is not scaled.
func fft(a []complex128, inverse bool) {
	n := len(a)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			a[i], a[j] = a[j], a[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for length := 2; length <= n; length <<= 1 {
		w := cmplx.Rect(1, sign*2*math.Pi/float64(length))
		for start := 0; start < n; start += length {
			wk := complex(1, 0)
			half := length / 2
			for k := 0; k < half; k++ {
				u, v := a[start+k], a[start+k+half]*wk
				a[start+k], a[start+k+half] = u+v, u-v
				wk *= w
			}
		}
	}
}
