package audio

import (
	"math"
	"slices"
)

const (
	// Floor is the lowest level reported, in dBFS: silence reads Floor,
	// never -Inf.
	Floor = -120.0
	// ClipLevel is the magnitude, as a share of full scale, from which a
	// sample counts as clipped (-0.09 dBFS): converters and AGCs that clip
	// rarely reach exactly full scale.
	ClipLevel = 0.99
	// NoiseFrame is the length of the frames whose RMS levels give the
	// noise floor.
	NoiseFrame = 0.020 // seconds
	// NoisePercentile is the share of frames quieter than the noise floor.
	NoisePercentile = 0.10
)

// Levels are the measurements of a microphone recording.
type Levels struct {
	RMS        float64 // dBFS, sine reference (a full-scale sine reads 0)
	Peak       float64 // dBFS of the largest sample magnitude
	NoiseFloor float64 // dBFS: NoisePercentile of the NoiseFrame RMS levels
	ClipRatio  float64 // share of samples with magnitude >= ClipLevel
	DCOffset   float64 // largest absolute mean of a channel, as a share of full scale
	Silent     bool    // every sample is exactly zero
}

// RMSdBFS converts an RMS amplitude (full scale 1) to dBFS with the sine
// reference: 20·log10(rms·√2), so a full-scale sine reads 0 dBFS. It never
// returns less than Floor.
func RMSdBFS(rms float64) float64 { return ampdBFS(rms * math.Sqrt2) }

// ampdBFS converts a peak amplitude (full scale 1) to dBFS, at least Floor.
func ampdBFS(a float64) float64 {
	if !(a > 0) { // zero, or NaN
		return Floor
	}
	// Decoders keep samples finite; the cap keeps the result finite anyway.
	return min(max(20*math.Log10(a), Floor), -Floor)
}

// powerdBFS converts a mean square to dBFS with the sine reference.
func powerdBFS(ms float64) float64 { return RMSdBFS(math.Sqrt(max(ms, 0))) }

// Analyze measures a recording. An empty recording reads as silent.
func Analyze(p PCM) Levels {
	n := len(p.Samples)
	ch := max(p.Channels, 1)
	if n == 0 {
		return Levels{RMS: Floor, Peak: Floor, NoiseFloor: Floor, Silent: true}
	}
	var sumSq, peak float64
	clipped := 0
	silent := true
	sums := make([]float64, ch)
	for i, s := range p.Samples {
		x := float64(s)
		if x != 0 {
			silent = false
		}
		a := math.Abs(x)
		if a > peak {
			peak = a
		}
		if a >= ClipLevel {
			clipped++
		}
		sumSq += x * x
		sums[i%ch] += x
	}
	frames := n / ch
	var dc float64
	for _, s := range sums {
		dc = max(dc, math.Abs(s/float64(frames)))
	}
	return Levels{
		RMS:        powerdBFS(sumSq / float64(n)),
		Peak:       ampdBFS(peak),
		NoiseFloor: noiseFloor(p, sumSq/float64(n)),
		ClipRatio:  float64(clipped) / float64(n),
		DCOffset:   dc,
		Silent:     silent,
	}
}

// noiseFloor is the NoisePercentile (nearest rank) of the mean squares of
// the recording's whole NoiseFrame frames, in dBFS; a recording shorter than
// one frame gives its own level.
func noiseFloor(p PCM, wholeMS float64) float64 {
	ch := max(p.Channels, 1)
	per := int(NoiseFrame*float64(p.Rate)+0.5) * ch
	if per <= 0 || len(p.Samples) < per {
		return powerdBFS(wholeMS)
	}
	ms := make([]float64, 0, len(p.Samples)/per)
	for start := 0; start+per <= len(p.Samples); start += per {
		var s float64
		for _, x := range p.Samples[start : start+per] {
			s += float64(x) * float64(x)
		}
		ms = append(ms, s/float64(per))
	}
	slices.Sort(ms)
	rank := int(math.Ceil(NoisePercentile*float64(len(ms)))) - 1
	return powerdBFS(ms[max(rank, 0)])
}

// Measurements are the levels under the catalogue's names, with the
// recording's format.
func (l Levels) Measurements(p PCM) map[string]float64 {
	silence := 0.0
	if l.Silent {
		silence = 1
	}
	return map[string]float64{
		"sample_rate_hertz": float64(p.Rate),
		"sample_bits":       float64(p.Bits),
		"rms_dbfs":          round2(l.RMS),
		"peak_dbfs":         round2(l.Peak),
		"noise_floor_dbfs":  round2(l.NoiseFloor),
		"clip_ratio":        l.ClipRatio,
		"dc_offset_ratio":   l.DCOffset,
		"digital_silence":   silence,
	}
}

// round2 rounds a level to 0.01 dB, which is all a level means.
func round2(x float64) float64 { return math.Round(x*100) / 100 }
